package pgstore

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/logoutflow/logoutflow/metadata"
)

// TestPlainNumbers lists the guesses that UpdateGuarded compares to the
// stored text, and those it takes for no guess: a number that JSON and
// PostgreSQL would write apart, or a value that does not encode as
// itself.
func TestPlainNumbers(t *testing.T) {
	deep := any("x")
	for range metadata.MaxDepth + 1 {
		deep = []any{deep}
	}
	tests := []struct {
		name string
		v    any
		want bool
	}{
		{"integers", []any{0, -5, int64(1 << 60), uint8(7)}, true},
		{"a fraction", 1.5, true},
		{"zero", 0.0, true},
		{"negative zero", math.Copysign(0, -1), false},
		{"1e20", 1e20, true},
		{"1e21, an exponent in JSON", 1e21, false},
		{"1e-6", 1e-6, true},
		{"1e-7, an exponent in JSON", 1e-7, false},
		{"float32 1e-7", float32(1e-7), false},
		{"float32 0.5", float32(0.5), true},
		{"NaN", math.NaN(), false},
		{"number 1.50", json.Number("1.50"), true},
		{"number -0.5", json.Number("-0.5"), true},
		{"number 1e2", json.Number("1e2"), false},
		{"number -0", json.Number("-0"), false},
		{"number -0.00", json.Number("-0.00"), false},
		{"number 01", json.Number("01"), false},
		{"number 1.", json.Number("1."), false},
		{"number .5", json.Number(".5"), false},
		{"empty number", json.Number(""), false},
		{"strings, bools, null", []any{"1e21", true, nil}, true},
		{"nested", metadata.Map{"a": map[string]any{"b": []any{1.5}}},
			true},
		{"nested exponent", metadata.Map{"a": map[string]any{
			"b": []any{1e300}}}, false},
		{"a time", time.Unix(0, 0), false},
		{"too deep", deep, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := plainNumbers(tc.v, 0); got != tc.want {
				t.Errorf("plainNumbers(%#v) = %t, want %t", tc.v, got,
					tc.want)
			}
		})
	}
}
