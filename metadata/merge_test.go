package metadata_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/metadata"
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name          string
		stored, patch metadata.Map
		want          metadata.Map
	}{
		{
			name:   "replace",
			stored: metadata.Map{"a": 1.0},
			patch:  metadata.Map{"a": "x"},
			want:   metadata.Map{"a": "x"},
		},
		{
			name:   "other keys kept",
			stored: metadata.Map{"a": 1.0, "b": true},
			patch:  metadata.Map{"c": 3.0},
			want:   metadata.Map{"a": 1.0, "b": true, "c": 3.0},
		},
		{
			name:   "null deletes",
			stored: metadata.Map{"a": 1.0, "b": true},
			patch:  metadata.Map{"a": nil},
			want:   metadata.Map{"b": true},
		},
		{
			name:   "null of an absent key",
			stored: metadata.Map{"b": true},
			patch:  metadata.Map{"a": nil},
			want:   metadata.Map{"b": true},
		},
		{
			name: "nested object replaced whole",
			stored: metadata.Map{
				"o": map[string]any{"x": 1.0, "y": 2.0}},
			patch: metadata.Map{"o": map[string]any{"z": 3.0}},
			want:  metadata.Map{"o": map[string]any{"z": 3.0}},
		},
		{
			name:   "nothing stored",
			stored: nil,
			patch:  metadata.Map{"a": 1.0, "b": nil},
			want:   metadata.Map{"a": 1.0},
		},
		{
			name:   "nil patch",
			stored: metadata.Map{"a": 1.0},
			patch:  nil,
			want:   metadata.Map{"a": 1.0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored := metadata.Clone(tc.stored)
			patch := metadata.Clone(tc.patch)

			got := metadata.Merge(stored, patch)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Merge, mismatch (-want +got):\n%s", d)
			}
			checkUntouched(t, tc.stored, stored, tc.patch, patch)

			got, err := metadata.Apply(stored, patch, metadata.Limits{})
			if err != nil {
				t.Fatalf("Apply = %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Apply, mismatch (-want +got):\n%s", d)
			}
			checkUntouched(t, tc.stored, stored, tc.patch, patch)
		})
	}
}

// checkUntouched fails t when a merge changed its inputs.
func checkUntouched(t testing.TB, wantStored, stored, wantPatch, patch metadata.Map) {
	t.Helper()
	if d := cmp.Diff(wantStored, stored); d != "" {
		t.Errorf("stored changed, mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantPatch, patch); d != "" {
		t.Errorf("patch changed, mismatch (-want +got):\n%s", d)
	}
}

func TestMergeReturnsNewMap(t *testing.T) {
	// Changing the result, at any depth reached through the patch of
	// Apply, must not reach the inputs.
	stored := metadata.Map{"s": map[string]any{"a": 1.0}}
	patch := metadata.Map{"p": map[string]any{"l": []any{1.0}}}
	want := metadata.Clone(stored)
	wantPatch := metadata.Clone(patch)

	merged := metadata.Merge(stored, patch)
	merged["s"] = "changed"
	merged["new"] = true
	checkUntouched(t, want, stored, wantPatch, patch)

	applied, err := metadata.Apply(stored, patch, metadata.Limits{})
	if err != nil {
		t.Fatalf("Apply = %v", err)
	}
	p := applied["p"].(map[string]any)
	p["l"].([]any)[0] = "changed"
	p["new"] = true
	applied["s"] = "changed"
	checkUntouched(t, want, stored, wantPatch, patch)
}

func TestApplyRefusesWhole(t *testing.T) {
	stored := metadata.Map{"a": 1.0}
	patch := metadata.Map{"b": 2.0, "$c": 3.0}
	got, err := metadata.Apply(stored, patch, metadata.Limits{})
	if !errors.Is(err, metadata.ErrInvalidPatch) || got != nil {
		t.Errorf("Apply = %v, %v; want nil, %v", got, err,
			metadata.ErrInvalidPatch)
	}
	checkUntouched(t, metadata.Map{"a": 1.0}, stored,
		metadata.Map{"b": 2.0, "$c": 3.0}, patch)
}

func TestApplySize(t *testing.T) {
	tests := []struct {
		name          string
		stored, patch metadata.Map
		lim           metadata.Limits
		wantErr       error
		wantKey       string // named in the error
	}{
		{
			name:  "exactly the limit",
			patch: metadata.Map{"a": "0123456789"}, // 18 bytes
			lim:   metadata.Limits{MaxBytes: 18},
		},
		{
			name:    "one byte over",
			patch:   metadata.Map{"a": "01234567890"},
			lim:     metadata.Limits{MaxBytes: 18},
			wantErr: metadata.ErrTooLarge,
			wantKey: `"a"`,
		},
		{
			name:    "the key that tips it",
			stored:  metadata.Map{"s": strings.Repeat("s", 10)},
			patch:   metadata.Map{"a": 1.0, "m": "xxxxxxxx", "z": 2.0},
			lim:     metadata.Limits{MaxBytes: 30},
			wantErr: metadata.ErrTooLarge,
			wantKey: `"m"`,
		},
		{
			name:    "default limit, just under",
			patch:   metadata.Map{"a": strings.Repeat("a", 16<<10-8)},
			lim:     metadata.Limits{},
			wantErr: nil,
		},
		{
			name:    "default limit, just over",
			patch:   metadata.Map{"a": strings.Repeat("a", 16<<10-7)},
			lim:     metadata.Limits{},
			wantErr: metadata.ErrTooLarge,
		},
		{
			name: "escapes count",
			// Each < takes 6 bytes encoded.
			patch:   metadata.Map{"a": strings.Repeat("<", 3)},
			lim:     metadata.Limits{MaxBytes: 20},
			wantErr: metadata.ErrTooLarge,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metadata.Apply(tc.stored, tc.patch, tc.lim)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Apply = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("Apply = %q, want it to name key %s", err,
					tc.wantKey)
			}
		})
	}
}

func TestClone(t *testing.T) {
	m := metadata.Map{
		"m":   metadata.Map{"a": []any{1.0, map[string]any{"b": "c"}}},
		"s":   "x",
		"nil": []any(nil),
	}
	want := metadata.Map{
		"m":   metadata.Map{"a": []any{1.0, map[string]any{"b": "c"}}},
		"s":   "x",
		"nil": []any(nil),
	}
	c := metadata.Clone(m)
	if d := cmp.Diff(want, c); d != "" {
		t.Fatalf("Clone, mismatch (-want +got):\n%s", d)
	}

	// Change every level of the copy.
	inner := c["m"].(metadata.Map)
	list := inner["a"].([]any)
	list[1].(map[string]any)["b"] = "changed"
	list[0] = "changed"
	inner["new"] = true
	c["s"] = "changed"
	if d := cmp.Diff(want, m); d != "" {
		t.Errorf("original after changing the clone, mismatch "+
			"(-want +got):\n%s", d)
	}

	if got := metadata.Clone(nil); got != nil {
		t.Errorf("Clone(nil) = %v, want nil", got)
	}
}

func TestApplySizedCountsOnlyWhatThePatchTouches(t *testing.T) {
	stored := metadata.Map{"keep": "a long value nobody patches",
		"n": int64(1), "gone": true}
	tests := []struct {
		name  string
		patch metadata.Map
	}{
		{"replace", metadata.Map{"n": int64(12345)}},
		{"add", metadata.Map{"new": "<&>"}},
		{"delete", metadata.Map{"gone": nil}},
		{"delete an absent key", metadata.Map{"absent": nil}},
		{"delete all", metadata.Map{"keep": nil, "n": nil, "gone": nil}},
		{"empty", metadata.Map{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, size, err := metadata.ApplySized(stored,
				metadata.EncodedSize(stored), tc.patch, metadata.Limits{})
			if err != nil {
				t.Fatalf("ApplySized() error: %v", err)
			}
			if diff := cmp.Diff(metadata.Merge(stored, tc.patch),
				got); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
			if want := metadata.EncodedSize(got); size != want {
				t.Errorf("size = %d, want %d", size, want)
			}
		})
	}

	// Of unknown size (-1), a stored value that cannot be encoded is
	// measured: patched away, it goes; kept, it refuses the write.
	bad := metadata.Map{"x": math.NaN(), "y": 1}
	got, size, err := metadata.ApplySized(bad, -1,
		metadata.Map{"x": int64(2)}, metadata.Limits{})
	if want := (metadata.Map{"x": int64(2), "y": 1}); err != nil ||
		!cmp.Equal(want, got) || size != len(`{"x":2,"y":1}`) {
		t.Errorf("ApplySized(NaN patched away) = %v, %d, %v; want %v, "+
			"13, nil", got, size, err, want)
	}
	_, _, err = metadata.ApplySized(bad, -1, metadata.Map{"y": 2},
		metadata.Limits{})
	if !errors.Is(err, metadata.ErrInvalidPatch) {
		t.Errorf("ApplySized(NaN kept) = %v, want ErrInvalidPatch", err)
	}
}
