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
// Map, map[string]any or []any is a deep copy, made as [Clone] makes
// one: changing it changes nothing stored.
func (v View) Get(key string) (any, bool) {
	val, ok := v.m[key]
	if !ok {
		return nil, false
	}
	return cloneValue(val, 1), true
}

// Len returns how many top-level keys are stored.
func (v View) Len() int { return len(v.m) }

// Map returns a deep copy of the whole stored value, as [Clone] makes
// one, nil when nothing is stored.
func (v View) Map() Map { return Clone(v.m) }

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
