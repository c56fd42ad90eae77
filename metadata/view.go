package metadata

import "context"

// View is a read-only view of a user's stored app_metadata, which a
// [ViewFunc] reads in place: reading a value copies nothing, except a
// nested map or slice, which [View.Get] returns as a copy of its own. The
// zero View shows nothing stored.
type View struct {
	m Map
}

// ViewOf returns a view of m. The view reads m in place: m must not
// change while the view is in use.
func ViewOf(m Map) View { return View{m: m} }

// Get returns the value stored under key, and whether there is one. A
// Map, map[string]any or []any is a deep copy, down to one level below
// the deepest a valid patch nests ([MaxDepth]), so that even a map that
// holds itself, which no store keeps, is copied in bounded time: changing
// the copy changes nothing stored.
func (v View) Get(key string) (any, bool) {
	val, ok := v.m[key]
	if !ok {
		return nil, false
	}
	return cloneBounded(val, 1), true
}

// cloneBounded copies v deeply when it is a map or a slice, as
// cloneValue does, sharing what lies deeper than MaxDepth+1.
func cloneBounded(v any, depth int) any {
	if depth > MaxDepth+1 {
		return v
	}
	switch v := v.(type) {
	case Map:
		if v != nil {
			return Map(cloneMapBounded(v, depth))
		}
	case map[string]any:
		if v != nil {
			return cloneMapBounded(v, depth)
		}
	case []any:
		if v != nil {
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = cloneBounded(e, depth+1)
			}
			return out
		}
	}
	return v
}

func cloneMapBounded(m map[string]any, depth int) map[string]any {
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k] = cloneBounded(e, depth+1)
	}
	return out
}

// Len returns how many top-level keys are stored.
func (v View) Len() int { return len(v.m) }

// Map returns a deep copy of the whole stored value, as deep as Get
// copies, nil when nothing is stored.
func (v View) Map() Map {
	if v.m == nil {
		return nil
	}
	return cloneMapBounded(v.m, 0)
}

// ViewFunc computes a patch from the user's current app_metadata, as an
// [UpdateFunc] does, reading it through a [View] instead of a map of its
// own. A function that reads a few keys of a large app_metadata, as
// accumulating counters do, so spares the store copying the whole value
// at every call. The rules of UpdateFunc apply: no side effects beyond
// the result, the view not kept after the function returns.
type ViewFunc func(current View) (patch Map, err error)

// Viewer is an optional interface of a [Store]: UpdateView is
// [Store.Update] with a [ViewFunc], which the store calls on the stored
// value itself, with no copy made. [UpdateView] uses it where a store has
// it.
type Viewer interface {
	UpdateView(ctx context.Context, userID, receipt string, fn ViewFunc) error
}

// UpdateView runs fn in s's atomic read-modify-write with receipt, as
// [Store.Update] runs an [UpdateFunc]: through s.UpdateView when s is a
// [Viewer], else through s.Update, viewing the value the store gives.
func UpdateView(ctx context.Context, s Store, userID, receipt string,
	fn ViewFunc) error {

	if v, ok := s.(Viewer); ok {
		return v.UpdateView(ctx, userID, receipt, fn)
	}
	return s.Update(ctx, userID, receipt, func(cur Map) (Map, error) {
		return fn(View{m: cur})
	})
}
