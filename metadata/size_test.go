package metadata_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/logoutflow/logoutflow/metadata"
)

// sizeCases are maps whose encoded size EncodedSize must match exactly;
// FuzzEncodedSize starts from them too.
var sizeCases = []struct {
	name string
	m    metadata.Map
}{
	{"nil", nil},
	{"empty", metadata.Map{}},
	{"scalars", metadata.Map{"nil": nil, "t": true, "f": false, "s": "x"}},
	{"ints", metadata.Map{
		"int": -12345, "int8": int8(-128), "int16": int16(32767),
		"int32": int32(math.MinInt32), "int64": int64(math.MinInt64),
		"uint": uint(math.MaxUint), "uint8": uint8(255),
		"uint16": uint16(0), "uint32": uint32(math.MaxUint32),
		"uint64": uint64(math.MaxUint64), "uintptr": uintptr(77)}},
	{"floats", metadata.Map{
		"zero": 0.0, "negzero": math.Copysign(0, -1), "half": 0.5,
		"big": 1e20, "bigger": 1e21, "small": 1e-6, "smaller": 1e-7,
		"max": math.MaxFloat64, "tiny": math.SmallestNonzeroFloat64,
		"neg": -123.456e-10, "pi": math.Pi, "e-9": 1.5e-9}},
	{"float32", metadata.Map{
		"a": float32(0.1), "b": float32(1e21), "c": float32(9.99e20),
		"d": float32(1e-7), "e": float32(math.MaxFloat32),
		"f": float32(-1.5e-45)}},
	{"numbers", metadata.Map{
		"a": json.Number("9007199254740993"), "b": json.Number("-1.5e+300"),
		"zero value": json.Number("")}},
	{"escapes", metadata.Map{
		"html <&>": "<script>&amp;</script>",
		"quotes":   `"\\/`,
		"controls": "\x00\x01\b\f\n\r\t\x1f\x7f",
		"seps":     "a\u2028b\u2029c",
		"unicode":  "héllo, 世界, 🙂, \ufffd",
		"bad":      "\xff\xfe a \xc3 b \xed\xa0\x80",
	}},
	{"bad UTF-8 key", metadata.Map{"\xff<": 1}},
	{"nested", metadata.Map{
		"m": metadata.Map{"a": map[string]any{"b": []any{1.0, "x", nil,
			[]any{}, map[string]any{}, metadata.Map(nil),
			map[string]any(nil), []any(nil)}}}}},
	{"other types", metadata.Map{
		"strings": []string{"a", "<"}, "raw": json.RawMessage(`{"x":1}`),
		"struct": struct{ A int }{A: 1}, "ptr": new(int)}},
}

func TestEncodedSize(t *testing.T) {
	for _, tc := range sizeCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.m)
			if err != nil {
				t.Fatalf("json.Marshal = %v", err)
			}
			if got := metadata.EncodedSize(tc.m); got != len(b) {
				t.Errorf("EncodedSize(%s) = %d, want %d", b, got, len(b))
			}
		})
	}
}

func TestEncodedSizeFails(t *testing.T) {
	self := map[string]any{}
	self["self"] = self
	tests := []struct {
		name string
		m    metadata.Map
	}{
		{"NaN", metadata.Map{"n": []any{math.NaN()}}},
		{"Inf", metadata.Map{"n": float32(math.Inf(-1))}},
		{"bad number", metadata.Map{"n": json.Number("1.")}},
		{"channel", metadata.Map{"c": make(chan int)}},
		{"holds itself", metadata.Map{"s": self}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := metadata.EncodedSize(tc.m); got != -1 {
				t.Errorf("EncodedSize = %d, want -1", got)
			}
		})
	}
}

func TestEncodedSizeAllocs(t *testing.T) {
	m := metadata.Map{
		"last_logout_at": "2026-05-20T10:00:00.000Z",
		"count":          int64(4),
		"f":              1.5e-9,
		"f32":            float32(0.1),
		"n":              json.Number("12"),
		"nested":         map[string]any{"a": []any{1.0, "<x>", true}},
	}
	allocs := testing.AllocsPerRun(100, func() {
		metadata.EncodedSize(m)
	})
	if allocs != 0 {
		t.Errorf("EncodedSize allocates %v times, want 0", allocs)
	}
}

// FuzzEncodedSize compares EncodedSize with json.Marshal on decoded JSON,
// on any string as key and value, and on any float and integer.
func FuzzEncodedSize(f *testing.F) {
	for _, tc := range sizeCases {
		if b, err := json.Marshal(tc.m); err == nil {
			f.Add(b, "<k\u2028>", "\xff&", 1.5e-7, int64(-1))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, k, s string, fl float64, n int64) {
		m := metadata.Map{k: s, "i": n, "u": uint64(n),
			"f32": float32(fl), "number": json.Number(s)}
		if !math.IsNaN(fl) && !math.IsInf(fl, 0) {
			m["f"] = fl
		}
		if math.IsNaN(float64(float32(fl))) || math.IsInf(float64(float32(fl)), 0) {
			delete(m, "f32")
		}
		if !json.Valid([]byte(s)) {
			delete(m, "number")
		}

		// The same text as floats and as json.Number.
		var asFloats, asNumbers any
		if json.Unmarshal(data, &asFloats) == nil {
			m["floats"] = asFloats
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if dec.Decode(&asNumbers) == nil {
				m["numbers"] = asNumbers
			}
		}

		b, err := json.Marshal(m)
		if err != nil {
			if got := metadata.EncodedSize(m); got != -1 {
				t.Errorf("EncodedSize = %d where json.Marshal fails (%v), "+
					"want -1", got, err)
			}
			return
		}
		if got := metadata.EncodedSize(m); got != len(b) {
			t.Errorf("EncodedSize(%s) = %d, want %d", b, got, len(b))
		}
	})
}
