package metadata

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkKey returns why a top-level key cannot be stored, or "".
func checkKey(k string) string {
	switch {
	case k == "":
		return "empty key"
	case len(k) > MaxKeyBytes:
		return "key longer than " + strconv.Itoa(MaxKeyBytes) + " bytes"
	case k == "__proto__" || k == "constructor" || k == "prototype":
		return "reserved key (it pollutes JavaScript objects)"
	case k[0] == '$':
		return "reserved key (keys starting with '$' are the library's)"
	}

	// One pass for both UTF-8 and control characters: ASCII ones
	// (C0 and DEL) by byte, C1 ones by rune.
	for i := 0; i < len(k); {
		if b := k[i]; b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return "key holds a control character"
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(k[i:])
		if c == utf8.RuneError && size == 1 {
			return "key is not valid UTF-8"
		}
		if unicode.IsControl(c) {
			return "key holds a control character"
		}
		i += size
	}
	return ""
}

// valueError says why a nested value cannot be encoded and where it is,
// as the path from the top-level value down to it.
type valueError struct {
	path   []string // innermost step last
	reason string
}

func (e *valueError) Error() string {
	if len(e.path) == 0 {
		return e.reason
	}
	var b strings.Builder
	b.WriteString("value at ")
	for _, p := range slices.Backward(e.path) {
		b.WriteString(p)
	}
	b.WriteString(": ")
	b.WriteString(e.reason)
	return b.String()
}

// at records that e happened under the step p of the path.
func (e *valueError) at(p string) *valueError {
	e.path = append(e.path, p)
	return e
}

// checkValue returns why v, found at depth, cannot be encoded as JSON.
func checkValue(v any, depth int) *valueError {
	switch v := v.(type) {
	case nil, bool, string,
		int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, uintptr:
		return nil
	case float64:
		return checkFloat(v)
	case float32:
		return checkFloat(float64(v))
	case json.Number:
		if !validNumber(string(v)) {
			return &valueError{reason: fmt.Sprintf(
				"json.Number %q is not a JSON number", string(v))}
		}
		return nil
	case Map:
		return checkMap(v, depth)
	case map[string]any:
		return checkMap(v, depth)
	case []any:
		if depth > MaxDepth {
			return tooDeep()
		}
		for i, e := range v {
			if err := checkValue(e, depth+1); err != nil {
				return err.at("[" + strconv.Itoa(i) + "]")
			}
		}
		return nil
	}
	return &valueError{reason: fmt.Sprintf(
		"a value of type %T cannot be stored", v)}
}

func checkFloat(f float64) *valueError {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &valueError{reason: strconv.FormatFloat(f, 'g', -1, 64) +
			" cannot be encoded as JSON"}
	}
	return nil
}

func checkMap(m map[string]any, depth int) *valueError {
	// Bound the recursion first: a map may hold itself.
	if depth > MaxDepth {
		return tooDeep()
	}
	for k, e := range m {
		if !utf8.ValidString(k) {
			err := &valueError{reason: "map key is not valid UTF-8"}
			return err.at(step(k))
		}
		if err := checkValue(e, depth+1); err != nil {
			return err.at(step(k))
		}
	}
	return nil
}

// step is the path step of the map key k.
func step(k string) string { return "[" + strconv.Quote(k) + "]" }

func tooDeep() *valueError {
	return &valueError{reason: "maps and slices nested deeper than " +
		strconv.Itoa(MaxDepth) + " levels"}
}
