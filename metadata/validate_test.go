package metadata_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

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
			"nested odd keys":      map[string]any{"": 1, "$x": 2, "\n": 3},
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
			"\xff": 1}}, "map key is not valid UTF-8"},
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

			// Each refused patch holds one key, which the error names.
			for k := range tc.patch {
				if key := fmt.Sprintf("key %q: ", k); !strings.Contains(
					err.Error(), key) {
					t.Errorf("Validate = %q, want it to name %s", err, key)
				}
			}
		})
	}
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
