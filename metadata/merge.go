package metadata

import (
	"fmt"
	"maps"
	"slices"
)

// DefaultMaxBytes is the size limit of a user's whole app_metadata, once
// encoded as JSON, that applies when [Limits.MaxBytes] is zero or less.
const DefaultMaxBytes = 16 << 10

// MaxKeyBytes is the longest key a patch may hold, at any depth, in
// bytes.
const MaxKeyBytes = 255

// MaxDepth is how many maps and slices a patch value may nest in one
// another: a map holding a slice of numbers is 2 deep. The bound keeps a
// map that holds itself from recursing without end.
const MaxDepth = 64

// Limits bounds what a store accepts. The zero value means the defaults.
type Limits struct {
	// MaxBytes is the largest encoded size of a user's app_metadata
	// after a patch is merged; zero or less means DefaultMaxBytes.
	MaxBytes int
}

// maxBytes returns the limit in force.
func (l Limits) maxBytes() int {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

// Merge returns stored with patch applied as a shallow merge: a key of the
// patch replaces the stored value whole, a nil value deletes the key, and
// every other stored key is kept. It never changes stored or patch and
// never returns either of them; the result shares nested values with its
// inputs. Merge does not validate: see [Apply].
func Merge(stored, patch Map) Map { return merge(stored, patch, false) }

// Validate checks a patch on its own: every key, at the top level and in
// every nested map, non-empty, at most [MaxKeyBytes] long, valid UTF-8,
// free of control characters and not reserved; every value, to any depth,
// encodable as JSON (no NaN or infinity, no invalid
// [encoding/json.Number] text, no channel, function or other type outside
// those [Map] lists, no nesting deeper than [MaxDepth]). The error wraps
// [ErrInvalidPatch] and names the top-level key, the path below it when
// the problem is nested, and the reason:
//
//	metadata: invalid patch: key "$plan": reserved key (keys starting with '$' are the library's)
//	metadata: invalid patch: key "x": nested key at ["__proto__"]:
//	    reserved key (it pollutes JavaScript objects)
//	metadata: invalid patch: key "o": value at ["a"][1]: NaN cannot be encoded as JSON
//
// Keys are quoted and escaped, so that no key can forge a log line; a key
// longer than [MaxKeyBytes] is quoted cut short, followed by its length.
//
// Reserved keys are "__proto__", "constructor" and "prototype", at any
// depth: they pollute the objects of JavaScript programs that read
// app_metadata, which they do at whatever depth they appear. At the top
// level only, every key that starts with '$' is reserved too: this
// library keeps such names for keys of its own beside the caller's. It
// never writes inside a value, so a nested '$' key clashes with nothing,
// and data from other systems uses such keys ("$ref", "$oid"); they are
// accepted.
//
// When several keys are invalid, the error names the first of them in
// sorted order, and below it the first problem found walking nested maps
// in sorted key order, so that the same patch always gets the same error.
// A valid patch is checked without allocating.
func Validate(patch Map) error {
	// Check every key once; a valid patch allocates nothing.
	var bad []string
	for k, v := range patch {
		if checkKey(k, true) != "" || checkValue(v, 1, false) != nil {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}

	// Name the first bad key in sorted order, and its first problem.
	k := slices.Min(bad)
	if reason := checkKey(k, true); reason != "" {
		return fmt.Errorf("%w: key %s: %s", ErrInvalidPatch, quoteKey(k),
			reason)
	}
	return fmt.Errorf("%w: key %s: %s", ErrInvalidPatch, quoteKey(k),
		checkValue(patch[k], 1, true))
}

// Apply validates patch, merges it into stored and checks the size of the
// result against lim. It returns a new map that shares nothing mutable
// with patch (nested maps and slices of the patch are copied), so that a
// caller changing its patch afterwards cannot change a store. On error
// nothing is merged and stored is untouched.
//
// The size is the length of the result encoded by
// [encoding/json.Marshal], as [EncodedSize] computes it without encoding.
// A result over the limit is refused with an error wrapping [ErrTooLarge],
// even when the patch makes the stored value smaller.
func Apply(stored, patch Map, lim Limits) (Map, error) {
	out, _, err := ApplySized(stored, -1, patch, lim)
	return out, err
}

// ApplySized is [Apply] for a store that keeps the encoded size of what
// it holds: size is EncodedSize(stored), or -1 when not known. It
// returns the merge and its encoded size. With a known size it computes
// that from size and the entries the patch adds, replaces or deletes,
// so that a write costs what its patch holds, however much is stored
// beside it; else it measures the whole result, as Apply does. A size
// that is not the stored value's gives a wrong one back, and checks the
// limit against it: keep it from the store's last write.
func ApplySized(stored Map, size int, patch Map, lim Limits) (Map, int,
	error) {

	// Refuse an invalid patch whole, before anything is built.
	if err := Validate(patch); err != nil {
		return nil, 0, err
	}
	if size < 0 {
		return applyMeasured(stored, patch, lim)
	}

	// The encoded map is its braces, its entries and a comma between
	// each two; take the braces and commas off, then change the
	// entries the patch touches. The patch is valid, so only a stored
	// value no store should hold can fail to measure.
	n := len(stored)
	entries := 0
	if n > 0 {
		entries = size - len("{}") - (n - 1)
	}
	for k, v := range patch {
		old, had := stored[k]
		switch {
		case had && v != nil: // replaced: the key stays as it was
			was := valueSize(old, 1)
			if was < 0 {
				return nil, 0, errUnencodable
			}
			entries += valueSize(v, 1) - was
		case had: // deleted
			es := entrySize(k, old)
			if es < 0 {
				return nil, 0, errUnencodable
			}
			entries -= es
			n--
		case v != nil: // added
			entries += entrySize(k, v)
			n++
		}
	}
	size = len("{}") + entries
	if n > 1 {
		size += n - 1
	}
	if err := checkSize(stored, patch, size, lim); err != nil {
		return nil, 0, err
	}
	return merge(stored, patch, true), size, nil
}

// applyMeasured is ApplySized for a valid patch on a stored value of
// unknown size: it measures the whole result. Only the result counts: a
// stored value that cannot be encoded may be patched away.
func applyMeasured(stored, patch Map, lim Limits) (Map, int, error) {
	out := merge(stored, patch, true)
	size := EncodedSize(out)
	if size < 0 {
		return nil, 0, errUnencodable
	}
	if err := checkSize(stored, patch, size, lim); err != nil {
		return nil, 0, err
	}
	return out, size, nil
}

// merge merges patch into a copy of stored, as Merge does; with deep,
// it merges copies of the patch's nested values, so that the caller
// keeps no handle on what a store keeps.
func merge(stored, patch Map, deep bool) Map {
	out := cloneTop(stored, len(patch))
	for k, v := range patch {
		switch {
		case v == nil:
			delete(out, k)
		case deep:
			out[k] = cloneValue(v, 1)
		default:
			out[k] = v
		}
	}
	return out
}

// checkSize refuses a result of size bytes over lim; on that rare
// failure it finds the key that tipped it, to make the error useful.
func checkSize(stored, patch Map, size int, lim Limits) error {
	if limit := lim.maxBytes(); size > limit {
		return fmt.Errorf("%w: %d bytes, over the limit of %d%s",
			ErrTooLarge, size, limit, tippingKey(stored, patch, limit))
	}
	return nil
}

// errUnencodable refuses a patch on a stored value that cannot be
// encoded as JSON.
var errUnencodable = fmt.Errorf("%w: the stored app_metadata cannot be "+
	"encoded as JSON", ErrInvalidPatch)

// cloneTop returns a copy of the top level of m, never nil, with room
// for extra keys when m is empty.
func cloneTop(m Map, extra int) Map {
	// The runtime copies a whole map faster than inserting its keys one
	// by one; when the patch brings new keys, the copy grows.
	if m == nil {
		return make(Map, extra)
	}
	return maps.Clone(m)
}

// tippingKey names the first patch key, in sorted order, whose merge
// takes the stored value over limit, as text to end an error message
// with. It returns "" when stored is over limit before the patch.
func tippingKey(stored, patch Map, limit int) string {
	// Apply the patch one key at a time, in an order that does not
	// change between runs.
	keys := sortedKeys(patch)
	cur := Merge(stored, nil)
	if EncodedSize(cur) > limit {
		return " (already over before the patch)"
	}
	for _, k := range keys {
		if patch[k] == nil {
			delete(cur, k)
		} else {
			cur[k] = patch[k]
		}
		if EncodedSize(cur) > limit {
			return fmt.Sprintf(" at key %q", k)
		}
	}
	return ""
}
