package metadata_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/metadata"
)

func TestValidate(t *testing.T) {
	deep := any("leaf")
	for range metadata.MaxDepth {
		deep = []any{deep}
	}
	self := map[string]any{}
	self["self"] = self

	tests := []struct {
		name   string
		patch  metadata.Map
		reason string // "" when valid; else part of the error text
	}{
		{"nil patch", nil, ""},
		{"every valid kind", metadata.Map{
			"nil": nil, "bool": true, "string": "s", "float64": 1.5,
			"float32": float32(2.5), "number": json.Number("-1.5e3"),
			"int": 1, "int8": int8(1), "int16": int16(1),
			"int32": int32(1), "int64": int64(1), "uint": uint(1),
			"uint8": uint8(1), "uint16": uint16(1), "uint32": uint32(1),
			"uint64": uint64(1), "uintptr": uintptr(1),
			"map":                  metadata.Map{"a": map[string]any{"b": []any{1.0}}},
			"invalid UTF-8 string": "\xff",
			"nested dollar keys":   map[string]any{"$ref": 1, "$": 2},
		}, ""},
		{"longest key", metadata.Map{strings.Repeat("k", 255): 1}, ""},
		{"multibyte key", metadata.Map{"clé €": 1}, ""},
		{"dollar inside", metadata.Map{"a$": 1}, ""},
		{"proto inside", metadata.Map{"x__proto__": 1}, ""},
		{"deepest", metadata.Map{"d": deep}, ""},

		{"empty key", metadata.Map{"": 1}, "empty key"},
		{"long key", metadata.Map{strings.Repeat("k", 256): 1},
			"longer than 255"},
		{"multibyte long key", metadata.Map{strings.Repeat("é", 128): 1},
			"longer than 255"},
		{"newline", metadata.Map{"a\nb": 1}, "control"},
		{"NUL", metadata.Map{"\x00": 1}, "control"},
		{"DEL", metadata.Map{"a\x7f": 1}, "control"},
		{"C1 control", metadata.Map{"a\u0085": 1}, "control"},
		{"invalid UTF-8 key", metadata.Map{"a\xffb": 1}, "UTF-8"},
		{"__proto__", metadata.Map{"__proto__": 1}, "reserved"},
		{"constructor", metadata.Map{"constructor": 1}, "reserved"},
		{"prototype", metadata.Map{"prototype": 1}, "reserved"},
		{"dollar", metadata.Map{"$": 1}, "reserved"},
		{"dollar prefix", metadata.Map{"$set": 1}, "reserved"},
		{"NaN", metadata.Map{"n": math.NaN()}, "NaN"},
		{"+Inf", metadata.Map{"n": math.Inf(1)}, "+Inf"},
		{"-Inf", metadata.Map{"n": math.Inf(-1)}, "-Inf"},
		{"float32 NaN", metadata.Map{"n": float32(math.NaN())}, "NaN"},
		{"float32 Inf", metadata.Map{"n": float32(math.Inf(1))}, "Inf"},
		{"empty json.Number", metadata.Map{"n": json.Number("")},
			"not a JSON number"},
		{"json.Number NaN", metadata.Map{"n": json.Number("NaN")},
			"not a JSON number"},
		{"json.Number hex", metadata.Map{"n": json.Number("0x10")},
			"not a JSON number"},
		{"json.Number plus", metadata.Map{"n": json.Number("+1")},
			"not a JSON number"},
		{"json.Number leading zero", metadata.Map{"n": json.Number("01")},
			"not a JSON number"},
		{"json.Number bare point", metadata.Map{"n": json.Number("1.")},
			"not a JSON number"},
		{"json.Number bare exponent", metadata.Map{"n": json.Number("1e")},
			"not a JSON number"},
		{"channel", metadata.Map{"c": make(chan int)}, "chan int"},
		{"function", metadata.Map{"f": func() {}}, "func()"},
		{"struct", metadata.Map{"s": struct{}{}}, "struct {}"},
		{"pointer", metadata.Map{"p": new(int)}, "*int"},
		{"named string", metadata.Map{"s": json.RawMessage(`1`)},
			"json.RawMessage"},
		{"slice of strings", metadata.Map{"s": []string{"a"}}, "[]string"},
		{"nested NaN", metadata.Map{"o": map[string]any{
			"a": []any{1.0, math.NaN()}}}, `["a"][1]: NaN`},
		{"nested bad map key", metadata.Map{"o": metadata.Map{
			"\xff": 1}}, `nested key at ["\xff"]: key is not valid UTF-8`},
		{"too deep", metadata.Map{"d": []any{deep}}, "deeper than 64"},
		{"holds itself", metadata.Map{"s": self}, "deeper than 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := metadata.Validate(tc.patch)
			if tc.reason == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, metadata.ErrInvalidPatch) {
				t.Fatalf("Validate = %v, want %v", err,
					metadata.ErrInvalidPatch)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Validate = %q, want it to say %q", err,
					tc.reason)
			}

			// Each refused patch holds one key, which the error names;
			// TestValidateQuotesLongKey covers the long ones.
			for k := range tc.patch {
				if len(k) > metadata.MaxKeyBytes {
					continue
				}
				if key := fmt.Sprintf("key %q: ", k); !strings.Contains(
					err.Error(), key) {
					t.Errorf("Validate = %q, want it to name %s", err, key)
				}
			}
		})
	}
}

// validateCase is a patch and the text of the error Validate gives it,
// without the "metadata: invalid patch: " prefix; "" when it is valid.
type validateCase struct {
	name  string
	patch metadata.Map
	want  string
}

// runValidateCases validates each case's patch runs times, as a subtest,
// and checks that each time gives the error the case wants.
func runValidateCases(t *testing.T, tests []validateCase, runs int) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want != "" {
				want = "metadata: invalid patch: " + want
			}
			for range runs {
				got := ""
				if err := metadata.Validate(tc.patch); err != nil {
					got = err.Error()
					if !errors.Is(err, metadata.ErrInvalidPatch) {
						t.Errorf("Validate = %v, want %v", err,
							metadata.ErrInvalidPatch)
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("Validate mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestValidateNested checks that the key rules apply to the keys of
// nested maps, at any depth, but for the '$' prefix, which is reserved at
// the top level only, and that the error names the path to the key.
func TestValidateNested(t *testing.T) {
	long := strings.Repeat("k", 5000)
	tests := []validateCase{
		{"__proto__", metadata.Map{"x": map[string]any{
			"__proto__": map[string]any{"isAdmin": true}}},
			`key "x": nested key at ["__proto__"]: reserved key ` +
				`(it pollutes JavaScript objects)`},
		{"constructor", metadata.Map{"x": map[string]any{
			"constructor": 1}},
			`key "x": nested key at ["constructor"]: reserved key ` +
				`(it pollutes JavaScript objects)`},
		{"prototype", metadata.Map{"x": metadata.Map{"prototype": 1}},
			`key "x": nested key at ["prototype"]: reserved key ` +
				`(it pollutes JavaScript objects)`},
		{"empty", metadata.Map{"x": map[string]any{"": 1}},
			`key "x": nested key at [""]: empty key`},
		{"newline", metadata.Map{"x": map[string]any{"a\nb": 1}},
			`key "x": nested key at ["a\nb"]: key holds a control ` +
				`character`},
		{"NUL", metadata.Map{"x": map[string]any{"\x00": 1}},
			`key "x": nested key at ["\x00"]: key holds a control ` +
				`character`},
		{"DEL", metadata.Map{"x": map[string]any{"a\x7f": 1}},
			`key "x": nested key at ["a\x7f"]: key holds a control ` +
				`character`},
		{"C1 control", metadata.Map{"x": map[string]any{"a\u0085": 1}},
			`key "x": nested key at ["a\u0085"]: key holds a control ` +
				`character`},
		{"invalid UTF-8", metadata.Map{"x": map[string]any{"a\xffb": 1}},
			`key "x": nested key at ["a\xffb"]: key is not valid UTF-8`},
		{"5000 bytes", metadata.Map{"x": map[string]any{long: 1}},
			`key "x": nested key at ["` + long[:64] + `"... ` +
				`(5000 bytes)]: key longer than 255 bytes`},
		{"in a slice", metadata.Map{"x": []any{1, map[string]any{
			"__proto__": 1}}},
			`key "x": nested key at [1]["__proto__"]: reserved key ` +
				`(it pollutes JavaScript objects)`},
		{"deep", metadata.Map{"x": map[string]any{"a": []any{
			metadata.Map{"b c": map[string]any{"constructor": nil}}}}},
			`key "x": nested key at ["a"][0]["b c"]["constructor"]: ` +
				`reserved key (it pollutes JavaScript objects)`},
		{"under a '$' key", metadata.Map{"x": map[string]any{
			"$set": map[string]any{"__proto__": 1}}},
			`key "x": nested key at ["$set"]["__proto__"]: reserved key ` +
				`(it pollutes JavaScript objects)`},

		{"longest", metadata.Map{"x": map[string]any{
			strings.Repeat("k", 255): 1}}, ""},
		{"multibyte", metadata.Map{"x": map[string]any{"clé €": 1}}, ""},
		{"'$' prefix", metadata.Map{"x": map[string]any{"$set": 1}}, ""},
		{"'$' alone", metadata.Map{"x": metadata.Map{"$": 1}}, ""},
		{"'$' in a slice", metadata.Map{"x": []any{
			map[string]any{"$oid": "1"}}}, ""},
		{"reserved inside", metadata.Map{"x": map[string]any{
			"x__proto__": 1, "Constructor": 2, "prototypes": 3}}, ""},
		{"empty map", metadata.Map{"x": map[string]any{}}, ""},
	}
	runValidateCases(t, tests, 1)
}

// TestValidateNestedFirstProblem checks that a patch with several
// problems below one key always gets the same error: the first found
// walking the nested maps in sorted key order, a key before its value.
func TestValidateNestedFirstProblem(t *testing.T) {
	tests := []validateCase{
		{"several bad keys", metadata.Map{"x": map[string]any{
			"b": math.NaN(), "a": map[string]any{"": 1}, "__proto__": 1,
			"ok": 1}},
			`key "x": nested key at ["__proto__"]: reserved key ` +
				`(it pollutes JavaScript objects)`},
		{"bad keys and values", metadata.Map{"x": map[string]any{
			"b": math.NaN(), "a": map[string]any{"": 1}, "c": 1,
			"d\n": 1}},
			`key "x": nested key at ["a"][""]: empty key`},
		{"a key before its value", metadata.Map{"x": map[string]any{
			"a\n": math.NaN()}},
			`key "x": nested key at ["a\n"]: key holds a control ` +
				`character`},
		{"a value before a later key", metadata.Map{"x": map[string]any{
			"a": math.Inf(1), "b\n": 1, "c": make(chan int)}},
			`key "x": value at ["a"]: +Inf cannot be encoded as JSON`},
		{"the first top-level key", metadata.Map{
			"b": map[string]any{"": 1},
			"a": map[string]any{"ok": []any{map[string]any{
				"prototype": 1, "z": math.NaN()}}},
		}, `key "a": nested key at ["ok"][0]["prototype"]: reserved key ` +
			`(it pollutes JavaScript objects)`},
	}
	runValidateCases(t, tests, 50)
}

// TestValidateQuotesLongKey checks that a key too long to store is named
// by its first bytes and its length, not quoted whole, at the top level
// as nested.
func TestValidateQuotesLongKey(t *testing.T) {
	tests := []validateCase{
		{"256 bytes", metadata.Map{strings.Repeat("k", 256): 1},
			`key "` + strings.Repeat("k", 64) + `"... (256 bytes): ` +
				`key longer than 255 bytes`},
		{"1 MiB", metadata.Map{strings.Repeat("k", 1<<20): 1},
			`key "` + strings.Repeat("k", 64) + `"... (1048576 bytes): ` +
				`key longer than 255 bytes`},
		// The cut falls between two runes, never inside one.
		{"multibyte", metadata.Map{"a" + strings.Repeat("é", 128): 1},
			`key "a` + strings.Repeat("é", 31) + `"... (257 bytes): ` +
				`key longer than 255 bytes`},
		{"escaped", metadata.Map{strings.Repeat("\n", 256): 1},
			`key "` + strings.Repeat(`\n`, 64) + `"... (256 bytes): ` +
				`key longer than 255 bytes`},
		{"nested", metadata.Map{"x": map[string]any{
			strings.Repeat("k", 300): 1}},
			`key "x": nested key at ["` + strings.Repeat("k", 64) +
				`"... (300 bytes)]: key longer than 255 bytes`},
		{"a long key's nested problem", metadata.Map{"x": map[string]any{
			strings.Repeat("k", 255): math.NaN()}},
			`key "x": value at ["` + strings.Repeat("k", 255) +
				`"]: NaN cannot be encoded as JSON`},
	}
	runValidateCases(t, tests, 1)
}

func TestValidateQuotesKey(t *testing.T) {
	// A key cannot forge a log line: it appears quoted, escaped.
	err := metadata.Validate(metadata.Map{"a\nlevel=ERROR msg=x": 1})
	want := `metadata: invalid patch: key "a\nlevel=ERROR msg=x": ` +
		`key holds a control character`
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("Validate = %q holds a newline", err)
	}
}

func TestValidateAllocs(t *testing.T) {
	patch := metadata.Map{
		"last_logout_at": "2026-05-20T10:00:00.000Z",
		"session_count":  int64(4),
		"nested":         map[string]any{"a": []any{1.0, "x"}},
		"keys": metadata.Map{"$ref": "#/a", "clé": map[string]any{
			"x__proto__": []any{map[string]any{"b": true}}}},
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := metadata.Validate(patch); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Validate allocates %v times, want 0", allocs)
	}
}

// TestValidateNamesFirstBadKey checks that a patch with several bad keys
// always gets the same error, naming the first bad key in sorted order,
// whatever order map iteration takes.
func TestValidateNamesFirstBadKey(t *testing.T) {
	patch := metadata.Map{
		"ok":   1,
		"zeta": math.NaN(),
		"beta": math.Inf(1),
		"":     2,
		"mid":  make(chan int),
	}
	want := `metadata: invalid patch: key "": `
	for range 50 {
		err := metadata.Validate(patch)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("Validate() = %v, want it to start with %s", err, want)
		}
	}
	delete(patch, "")
	want = `metadata: invalid patch: key "beta": `
	for range 50 {
		err := metadata.Validate(patch)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("Validate() = %v, want it to start with %s", err, want)
		}
	}
}

// FuzzValidateKeys checks Validate on any JSON object against the key
// rules written out again here: it refuses a patch exactly when some key,
// at any depth, breaks them or the values nest too deep (JSON cannot say
// the other refused values), and then names the first bad top-level key
// in sorted order, on one line, the same each time.
func FuzzValidateKeys(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"":1}`, `{"$set":1}`, `{"a":{"$set":1}}`,
		`{"x":{"__proto__":{"isAdmin":true}}}`, `{"x":[{"constructor":1}]}`,
		`{"x":{"":1},"a":{"prototype":1},"b":1}`, `{"x":{"a\nb":1}}`,
		`{"x":{"\u0085":1,"\u007f":2}}`, `{"x":{"clé €":1,"$":2}}`,
		`{"x":{"` + strings.Repeat("k", 256) + `":1}}`,
		`{"d":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`,
		`{"d":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		patch, ok := decodeMap(data)
		if !ok {
			return
		}
		var bad []string
		for k, v := range patch {
			if !keyOK(k, true) || !valueOK(v, 1) {
				bad = append(bad, k)
			}
		}
		err := metadata.Validate(patch)
		if len(bad) == 0 {
			if err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			return
		}
		if !errors.Is(err, metadata.ErrInvalidPatch) {
			t.Fatalf("Validate = %v, want %v", err, metadata.ErrInvalidPatch)
		}
		text := err.Error()
		first := slices.Min(bad)
		name := strconv.Quote(first) + ": "
		if len(first) > metadata.MaxKeyBytes {
			name = fmt.Sprintf("... (%d bytes): ", len(first))
		}
		if !strings.HasPrefix(text, "metadata: invalid patch: key ") ||
			!strings.Contains(text, name) {
			t.Errorf("Validate = %q, want it to name key %q first", text,
				first)
		}
		if strings.ContainsAny(text, "\r\n") {
			t.Errorf("Validate = %q holds a line break", text)
		}
		if again := metadata.Validate(patch); again.Error() != text {
			t.Errorf("Validate = %q, then %q", text, again)
		}
	})
}

// keyOK reports whether k follows the key rules, the '$' one at the top
// level only.
func keyOK(k string, top bool) bool {
	switch {
	case k == "", len(k) > metadata.MaxKeyBytes, !utf8.ValidString(k),
		k == "__proto__", k == "constructor", k == "prototype",
		top && strings.HasPrefix(k, "$"):
		return false
	}
	return !strings.ContainsFunc(k, unicode.IsControl)
}

// valueOK reports whether a decoded JSON value at depth has only good
// keys and nests no deeper than MaxDepth.
func valueOK(v any, depth int) bool {
	switch v := v.(type) {
	case map[string]any:
		if depth > metadata.MaxDepth {
			return false
		}
		for k, e := range v {
			if !keyOK(k, false) || !valueOK(e, depth+1) {
				return false
			}
		}
	case []any:
		if depth > metadata.MaxDepth {
			return false
		}
		for _, e := range v {
			if !valueOK(e, depth+1) {
				return false
			}
		}
	}
	return true
}
