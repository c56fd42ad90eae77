package metadata

// DefaultMaxBytes is the size limit of a user's whole app_metadata, once
// encoded as JSON, that applies when [Limits.MaxBytes] is zero.
const DefaultMaxBytes = 16 << 10

// MaxKeyBytes is the longest top-level key a patch may hold, in bytes.
const MaxKeyBytes = 255

// Limits bounds what a store accepts. The zero value means the defaults.
type Limits struct {
	// MaxBytes is the largest encoded size of a user's app_metadata
	// after a patch is merged; zero means DefaultMaxBytes.
	MaxBytes int
}

// Merge returns stored with patch applied as a shallow merge: a key of the
// patch replaces the stored value whole, a nil value deletes the key, and
// every other stored key is kept. It never changes stored or patch and
// never returns either of them; the result shares nested values with its
// inputs. Merge does not validate: see [Apply].
func Merge(stored, patch Map) Map {
	panic("TODO")
}

// Validate checks a patch on its own: every key non-empty, at most
// [MaxKeyBytes] long, free of control characters and not reserved; every
// value, to any depth, encodable as JSON (no NaN or infinity, no channel,
// function or other type outside those [Map] lists). The error wraps
// [ErrInvalidPatch] and names the key and the reason.
func Validate(patch Map) error {
	panic("TODO")
}

// Apply validates patch, merges it into stored and checks the size of the
// result against lim. It returns a new map that shares nothing mutable
// with patch (nested maps and slices of the patch are copied), so that a
// caller changing its patch afterwards cannot change a store. On error
// nothing is merged and stored is untouched.
func Apply(stored, patch Map, lim Limits) (Map, error) {
	panic("TODO")
}
