package metadata

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxSizeDepth is how deep [EncodedSize] walks before it gives up, as
// encoding/json starts looking for cycles at that depth.
const maxSizeDepth = 1000

// EncodedSize returns len(b) for b, _ := json.Marshal(m), without
// encoding: it walks m and allocates nothing for the types [Map] lists.
// It counts what encoding/json writes: keys and strings with <, > and &
// escaped as \u003c and the like, U+2028 and U+2029 escaped, invalid
// UTF-8 replaced by \ufffd; floats in their shortest form; json.Number
// text as it is. Values of other types are measured by encoding them.
//
// It returns -1 when json.Marshal would fail (NaN, an infinity, a
// json.Number that is not a number, a channel) and for values nested
// deeper than 1000 levels.
func EncodedSize(m Map) int {
	if m == nil {
		return len("null")
	}
	return mapSize(m, 1)
}

// valueSize returns the encoded size of v at depth, or -1.
func valueSize(v any, depth int) int {
	if depth > maxSizeDepth {
		return -1
	}
	var buf [32]byte
	switch v := v.(type) {
	case nil:
		return len("null")
	case bool:
		if v {
			return len("true")
		}
		return len("false")
	case string:
		return stringSize(v)
	case int:
		return len(strconv.AppendInt(buf[:0], int64(v), 10))
	case int8:
		return len(strconv.AppendInt(buf[:0], int64(v), 10))
	case int16:
		return len(strconv.AppendInt(buf[:0], int64(v), 10))
	case int32:
		return len(strconv.AppendInt(buf[:0], int64(v), 10))
	case int64:
		return len(strconv.AppendInt(buf[:0], v, 10))
	case uint:
		return len(strconv.AppendUint(buf[:0], uint64(v), 10))
	case uint8:
		return len(strconv.AppendUint(buf[:0], uint64(v), 10))
	case uint16:
		return len(strconv.AppendUint(buf[:0], uint64(v), 10))
	case uint32:
		return len(strconv.AppendUint(buf[:0], uint64(v), 10))
	case uint64:
		return len(strconv.AppendUint(buf[:0], v, 10))
	case uintptr:
		return len(strconv.AppendUint(buf[:0], uint64(v), 10))
	case float64:
		return floatSize(v, 64)
	case float32:
		return floatSize(float64(v), 32)
	case json.Number:
		return numberSize(string(v))
	case Map:
		if v == nil {
			return len("null")
		}
		return mapSize(v, depth+1)
	case map[string]any:
		if v == nil {
			return len("null")
		}
		return mapSize(v, depth+1)
	case []any:
		if v == nil {
			return len("null")
		}
		return sliceSize(v, depth+1)
	}

	// Any other type is outside what a store keeps: measure it the
	// slow way rather than guess.
	b, err := json.Marshal(v)
	if err != nil {
		return -1
	}
	return len(b)
}

// mapSize returns the encoded size of a non-nil map, or -1.
func mapSize(m map[string]any, depth int) int {
	n := len("{}")
	if len(m) > 1 {
		n += len(m) - 1 // commas
	}
	for k, v := range m {
		vs := valueSize(v, depth)
		if vs < 0 {
			return -1
		}
		n += stringSize(k) + len(":") + vs
	}
	return n
}

// entrySize returns the encoded size of the entry k: v of a top-level
// map, without its comma, or -1.
func entrySize(k string, v any) int {
	vs := valueSize(v, 1)
	if vs < 0 {
		return -1
	}
	return stringSize(k) + len(":") + vs
}

// sliceSize returns the encoded size of a non-nil slice, or -1.
func sliceSize(s []any, depth int) int {
	n := len("[]")
	if len(s) > 1 {
		n += len(s) - 1
	}
	for _, v := range s {
		vs := valueSize(v, depth)
		if vs < 0 {
			return -1
		}
		n += vs
	}
	return n
}

// asciiSize is the encoded size of each ASCII byte in a string: most as
// they are, some escaped short, the rest (controls and HTML's <, > and &)
// as \u00XX.
var asciiSize = func() (t [utf8.RuneSelf]uint8) {
	for b := range t {
		switch {
		case b == '"' || b == '\\' || b == '\b' || b == '\f' ||
			b == '\n' || b == '\r' || b == '\t':
			t[b] = 2
		case b < 0x20 || b == '<' || b == '>' || b == '&':
			t[b] = uint8(len(`\u0000`))
		default:
			t[b] = 1
		}
	}
	return t
}()

// stringSize returns the size of s as encoding/json quotes it.
func stringSize(s string) int {
	n := len(`""`)
	for i := 0; i < len(s); {
		// Take plain ASCII eight bytes at a time.
		if len(s)-i >= 8 && plain8(s[i:i+8]) {
			n += 8
			i += 8
			continue
		}

		if b := s[i]; b < utf8.RuneSelf {
			n += int(asciiSize[b])
			i++
			continue
		}

		// Beyond ASCII: a bad byte becomes \ufffd and the two
		// JavaScript line breaks are escaped.
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1,
			c == '\u2028' || c == '\u2029':
			n += len(`\ufffd`)
		default:
			n += size
		}
		i += size
	}
	return n
}

// Masks of eight bytes each, for plain8.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 reports whether each byte of s, eight long, stands for itself
// when encoded: ASCII, not a control, not \, ", <, > or &.
func plain8(s string) bool {
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 |
		uint64(s[3])<<24 | uint64(s[4])<<32 | uint64(s[5])<<40 |
		uint64(s[6])<<48 | uint64(s[7])<<56

	// A byte below n sets its high bit in x - n*ones where x did not
	// have it; a byte equal to c is a byte below 1 in x ^ c*ones.
	below := func(x uint64, n uint64) uint64 { return (x - n*ones) &^ x }
	special := x | below(x, 0x20) |
		below(x^'"'*ones, 1) | below(x^'\\'*ones, 1) |
		below(x^'<'*ones, 1) | below(x^'>'*ones, 1) | below(x^'&'*ones, 1)
	return special&highs == 0
}

// floatSize returns the size of f as encoding/json writes a float of
// bits bits: the shortest decimal that reads back the same, with an
// exponent only for very small or very large values, or -1.
func floatSize(f float64, bits int) int {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return -1
	}
	format := byte('f')
	abs := math.Abs(f)
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, format, -1, bits)
	n := len(b)

	// encoding/json drops the padding zero of a one-digit negative
	// exponent: e-07 becomes e-7.
	if format == 'e' && n >= 4 &&
		b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		n--
	}
	return n
}

// numberSize returns the size of json.Number text s, or -1.
func numberSize(s string) int {
	switch {
	case s == "":
		return len("0") // encoding/json writes the zero Number as 0
	case !validNumber(s):
		return -1
	}
	return len(s)
}
