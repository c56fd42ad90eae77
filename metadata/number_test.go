package metadata_test

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/logoutflow/logoutflow/metadata"
)

func TestInt(t *testing.T) {
	tests := []struct {
		name   string
		v      any
		want   int64
		wantOK bool
	}{
		{"float64", 42.0, 42, true},
		{"float64 fraction", 3.7, 3, true},
		{"float64 negative fraction", -3.2, -4, true},
		{"float64 -0", math.Copysign(0, -1), 0, true},
		{"float64 2^53", float64(1 << 53), 1 << 53, true},
		{"float64 min int64", -float64(1 << 63), math.MinInt64, true},
		{"float64 2^63", float64(1 << 63), 0, false},
		{"float64 huge", 1e300, 0, false},
		{"float64 NaN", math.NaN(), 0, false},
		{"float64 +Inf", math.Inf(1), 0, false},
		{"float64 -Inf", math.Inf(-1), 0, false},
		{"float32", float32(2.5), 2, true},
		{"float32 Inf", float32(math.Inf(1)), 0, false},
		{"int", 7, 7, true},
		{"int8", int8(-8), -8, true},
		{"int16", int16(16), 16, true},
		{"int32", int32(-32), -32, true},
		{"int64 max", int64(math.MaxInt64), math.MaxInt64, true},
		{"int64 min", int64(math.MinInt64), math.MinInt64, true},
		{"uint", uint(9), 9, true},
		{"uint8", uint8(255), 255, true},
		{"uint16", uint16(65535), 65535, true},
		{"uint32", uint32(math.MaxUint32), math.MaxUint32, true},
		{"uint64 max int64", uint64(math.MaxInt64), math.MaxInt64, true},
		{"uint64 over int64", uint64(math.MaxInt64 + 1), 0, false},
		{"uint over int64", uint(math.MaxUint64), 0, false},
		{"uintptr", uintptr(3), 3, true},

		// json.Number is read from its text, exactly.
		{"Number above 2^53", json.Number("9007199254740993"),
			9007199254740993, true},
		{"Number fraction", json.Number("3.7"), 3, true},
		{"Number negative fraction", json.Number("-3.7"), -4, true},
		{"Number negative whole", json.Number("-3.0"), -3, true},
		{"Number exponent", json.Number("1e2"), 100, true},
		{"Number exponent capital plus", json.Number("1E+2"), 100, true},
		{"Number fraction exponent", json.Number("1.25e1"), 12, true},
		{"Number negative exponent", json.Number("125e-1"), 12, true},
		{"Number small", json.Number("1e-400"), 0, true},
		{"Number small negative", json.Number("-1e-400"), -1, true},
		{"Number zero huge exponent", json.Number("0e999999999999"), 0,
			true},
		{"Number zero fraction", json.Number("0.000"), 0, true},
		{"Number max int64", json.Number("9223372036854775807"),
			math.MaxInt64, true},
		{"Number max int64 fraction", json.Number("9223372036854775807.9"),
			math.MaxInt64, true},
		{"Number 2^63", json.Number("9223372036854775808"), 0, false},
		{"Number min int64", json.Number("-9223372036854775808"),
			math.MinInt64, true},
		{"Number below min int64", json.Number("-9223372036854775808.5"),
			0, false},
		{"Number min int64 as exponent", json.Number("-9.223372036854775808e18"),
			math.MinInt64, true},
		{"Number 1e18", json.Number("1e18"), 1e18, true},
		{"Number 1e19", json.Number("1e19"), 0, false},
		{"Number 1e400", json.Number("1e400"), 0, false},
		{"Number long fraction", json.Number(
			"9007199254740993.00000000000000000000000000001"),
			9007199254740993, true},
		{"Number leading fraction zeros", json.Number("0.0000012e7"), 12,
			true},
		{"Number empty", json.Number(""), 0, false},
		{"Number text", json.Number("abc"), 0, false},
		{"Number plus", json.Number("+1"), 0, false},
		{"Number leading zero", json.Number("01"), 0, false},
		{"Number spaces", json.Number(" 1"), 0, false},
		{"Number hex", json.Number("0x1"), 0, false},
		{"Number Inf", json.Number("Infinity"), 0, false},

		{"nil", nil, 0, false},
		{"string", "5", 0, false},
		{"bool", true, 0, false},
		{"map", metadata.Map{}, 0, false},
		{"slice", []any{1.0}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := metadata.Int(tc.v)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Int(%#v) = %d, %t; want %d, %t", tc.v, got, ok,
					tc.want, tc.wantOK)
			}
		})
	}
}

// FuzzInt checks the exact reading of json.Number against math/big.
func FuzzInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "3.7", "-3.7", "1e2", "1E+2",
		"9007199254740993", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775808.5", "1e400",
		"0.0000012e7", "125e-1", "1.", "01", "+1", "abc", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := metadata.Int(json.Number(s))

		// A JSON number whose exponent big.Rat can hold in memory.
		want, wantOK := bigFloor(s)
		if !json.Valid([]byte(s)) || strings.TrimSpace(s) != s ||
			!strings.ContainsAny(s[:1], "-0123456789") {
			if ok {
				t.Errorf("Int(%q) = %d, true; want false (not a "+
					"number)", s, got)
			}
			return
		}
		if exp := strings.IndexAny(s, "eE"); exp >= 0 && len(s)-exp > 5 {
			return // too big an exponent for big.Rat
		}
		if got != want || ok != wantOK {
			t.Errorf("Int(%q) = %d, %t; want %d, %t", s, got, ok, want,
				wantOK)
		}
	})
}

// bigFloor rounds the decimal s down with math/big.
func bigFloor(s string) (int64, bool) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, false
	}
	q := new(big.Int).Div(r.Num(), r.Denom()) // Euclidean: floor, as Denom > 0
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}
