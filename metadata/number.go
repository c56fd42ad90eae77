package metadata

import (
	"encoding/json"
	"math"
	"strconv"
)

// Int reads v as an integer exactly, as stores and actions read the
// numbers of app_metadata. It accepts the number kinds a [Map] holds:
// float64, float32, [encoding/json.Number] and every Go integer type. A
// fractional value is rounded down (floor: 3.7 gives 3, -3.2 gives -4).
//
// ok is false for NaN and infinities, for a value outside the range of
// int64 once rounded down, for json.Number text that is not a JSON number,
// and for every other kind of value. A json.Number is read from its
// decimal text, never through float64, so json.Number("9007199254740993")
// gives 9007199254740993 and json.Number("1e2") gives 100.
func Int(v any) (n int64, ok bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint:
		return fromUint(uint64(v))
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		return fromUint(v)
	case uintptr:
		return fromUint(uint64(v))
	case float64:
		return fromFloat(v)
	case float32:
		return fromFloat(float64(v))
	case json.Number:
		return fromNumber(string(v))
	}
	return 0, false
}

func fromUint(u uint64) (int64, bool) {
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

func fromFloat(f float64) (int64, bool) {
	// Every float64 in [-2^63, 2^63) converts exactly once floored;
	// NaN fails both comparisons.
	f = math.Floor(f)
	if !(f >= -(1<<63) && f < 1<<63) {
		return 0, false
	}
	return int64(f), true
}

// fromNumber reads the JSON number text s exactly, rounding down.
func fromNumber(s string) (int64, bool) {
	// Refuse what JSON would refuse, then take the common plain
	// integer the quick way.
	if !validNumber(s) {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}

	// Split the text into sign, integer digits, fraction digits and
	// exponent; the grammar is already checked.
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	whole, s := s[:i], s[i:]
	var frac string
	if len(s) > 0 && s[0] == '.' {
		i = 1
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		frac, s = s[1:i], s[i:]
	}
	var exp int64
	if len(s) > 0 {
		exp = parseExp(s[1:])
	}

	// See the digits as one run d, with the decimal point after its
	// first point digits; leading zeros move nothing.
	digit := func(j int) byte {
		if j < len(whole) {
			return whole[j] - '0'
		}
		return frac[j-len(whole)] - '0'
	}
	nd := len(whole) + len(frac)
	point := int64(len(whole)) + exp
	first := 0
	for first < nd && digit(first) == 0 {
		first++
	}
	if first == nd {
		return 0, true // zero, whatever the exponent
	}

	// Gather the integer part; with a non-zero leading digit, more
	// than 19 digits before the point cannot fit in int64.
	intDigits := int(max(min(point-int64(first), 20), 0))
	if intDigits > 19 {
		return 0, false
	}
	var u uint64
	for j := range intDigits {
		u *= 10
		if k := first + j; k < nd {
			u += uint64(digit(k))
		}
	}
	if u > 1<<63 {
		return 0, false
	}

	// A non-zero digit after the point makes a negative value one
	// lower once rounded down.
	fractional := false
	for k := first + intDigits; k < nd && !fractional; k++ {
		fractional = digit(k) != 0
	}
	if !neg {
		return fromUint(u)
	}
	if fractional {
		u++
	}
	if u > 1<<63 {
		return 0, false
	}
	return int64(-u), true
}

// parseExp reads the exponent of a JSON number, its sign included,
// clamped far beyond the length of any text.
func parseExp(s string) int64 {
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	var e int64
	for i := 0; i < len(s) && e < 1<<40; i++ {
		e = e*10 + int64(s[i]-'0')
	}
	if neg {
		return -e
	}
	return e
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validNumber reports whether s is a number as the JSON grammar writes
// it: an optional minus, an integer without leading zeros, an optional
// fraction and an optional exponent.
func validNumber(s string) bool {
	// The sign, then the integer part.
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	switch {
	case s == "":
		return false
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = skipDigits(s[1:])
	default:
		return false
	}

	// The fraction needs a digit after its point.
	if s != "" && s[0] == '.' {
		if len(s) < 2 || !isDigit(s[1]) {
			return false
		}
		s = skipDigits(s[2:])
	}

	// The exponent needs a digit after its optional sign.
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s != "" && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		if s == "" || !isDigit(s[0]) {
			return false
		}
		s = skipDigits(s[1:])
	}
	return s == ""
}

func skipDigits(s string) string {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[i:]
}
