package metadata

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of m: every nested Map, map[string]any and
// []any is copied, keeping its type, and other values are shared (they
// are immutable). It copies down to one level below the deepest a valid
// patch nests ([MaxDepth]) and shares what lies deeper, so that even a
// map that holds itself, which no store keeps, is copied in bounded
// time. Clone of nil is nil.
func Clone(m Map) Map {
	if m == nil {
		return nil
	}
	return cloneMap(m, 0)
}

// cloneMap copies m, a map at depth, deeply.
func cloneMap(m map[string]any, depth int) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v, depth+1)
	}
	return out
}

// cloneValue copies v, a value at depth, deeply when it is a map or a
// slice, sharing what lies deeper than MaxDepth+1.
func cloneValue(v any, depth int) any {
	if depth > MaxDepth+1 {
		return v
	}
	switch v := v.(type) {
	case Map:
		if v != nil {
			return Map(cloneMap(v, depth))
		}
	case map[string]any:
		if v != nil {
			return cloneMap(v, depth)
		}
	case []any:
		if v != nil {
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = cloneValue(e, depth+1)
			}
			return out
		}
	}
	return v
}

func sortedKeys(m Map) []string {
	return slices.Sorted(maps.Keys(m))
}
