package metadata

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkKey returns why k cannot be stored as a key, or "". Every key, at
// any depth, must be non-empty, at most [MaxKeyBytes] long, valid UTF-8,
// free of control characters and none of the names that pollute
// JavaScript objects; a top-level key (top) must not start with '$'
// either.
func checkKey(k string, top bool) string {
	switch {
	case k == "":
		return "empty key"
	case len(k) > MaxKeyBytes:
		return "key longer than " + strconv.Itoa(MaxKeyBytes) + " bytes"
	case k == "__proto__" || k == "constructor" || k == "prototype":
		return "reserved key (it pollutes JavaScript objects)"
	case top && k[0] == '$':
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

// quotedKeyBytes is how much of a key too long to store an error quotes.
const quotedKeyBytes = 64

// quoteKey returns k quoted for an error message, escaped so that it
// cannot forge a log line. A key longer than [MaxKeyBytes] is cut to its
// first bytes, followed by its length, so that a huge key does not make a
// huge message.
func quoteKey(k string) string {
	if len(k) <= MaxKeyBytes {
		return strconv.Quote(k)
	}
	cut := quotedKeyBytes
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return strconv.Quote(k[:cut]) + "... (" + strconv.Itoa(len(k)) +
		" bytes)"
}

// valueError says why a nested value cannot be encoded, or a nested key
// cannot be stored, and where it is, as the path from the top-level value
// down to it.
type valueError struct {
	path   []string // innermost step last
	reason string
	key    bool // the innermost step is a key that cannot be stored
}

func (e *valueError) Error() string {
	if len(e.path) == 0 {
		return e.reason
	}
	var b strings.Builder
	if e.key {
		b.WriteString("nested key at ")
	} else {
		b.WriteString("value at ")
	}
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

// checkValue returns why v, found at depth, cannot be encoded as JSON or
// holds a key that cannot be stored. With sorted, it looks at the keys of
// each map in sorted order, so that it always names the same problem of
// several; without, it allocates nothing when v is valid.
func checkValue(v any, depth int, sorted bool) *valueError {
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
		return checkMap(v, depth, sorted)
	case map[string]any:
		return checkMap(v, depth, sorted)
	case []any:
		if depth > MaxDepth {
			return tooDeep()
		}
		for i, e := range v {
			if err := checkValue(e, depth+1, sorted); err != nil {
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

func checkMap(m map[string]any, depth int, sorted bool) *valueError {
	// Bound the recursion first: a map may hold itself.
	if depth > MaxDepth {
		return tooDeep()
	}
	if sorted {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := checkEntry(k, m[k], depth, true); err != nil {
				return err
			}
		}
		return nil
	}
	for k, e := range m {
		if err := checkEntry(k, e, depth, false); err != nil {
			return err
		}
	}
	return nil
}

// checkEntry checks the key k of a nested map at depth, then its value v.
func checkEntry(k string, v any, depth int, sorted bool) *valueError {
	if reason := checkKey(k, false); reason != "" {
		err := &valueError{reason: reason, key: true}
		return err.at(step(k))
	}
	if err := checkValue(v, depth+1, sorted); err != nil {
		return err.at(step(k))
	}
	return nil
}

// step is the path step of the map key k.
func step(k string) string { return "[" + quoteKey(k) + "]" }

func tooDeep() *valueError {
	return &valueError{reason: "maps and slices nested deeper than " +
		strconv.Itoa(MaxDepth) + " levels"}
}
