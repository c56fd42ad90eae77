package metadata

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of m: every nested Map, map[string]any and
// []any is copied, keeping its type, and other values are shared (they
// are immutable). Clone of nil is nil. m must not hold itself, which a
// map decoded from JSON or accepted by [Validate] never does.
func Clone(m Map) Map {
	if m == nil {
		return nil
	}
	return cloneMap(m)
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

// cloneValue copies v deeply when it is a map or a slice.
func cloneValue(v any) any {
	switch v := v.(type) {
	case Map:
		if v == nil {
			return v
		}
		return Map(cloneMap(v))
	case map[string]any:
		if v == nil {
			return v
		}
		return cloneMap(v)
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

func sortedKeys(m Map) []string {
	return slices.Sorted(maps.Keys(m))
}
