package metadata_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/metadata"
)

func TestView(t *testing.T) {
	stored := metadata.Map{
		"n":    int64(3),
		"s":    "text",
		"null": nil,
		"o":    map[string]any{"list": []any{1.5, metadata.Map{"x": true}}},
		"m":    metadata.Map{"y": "z"},
	}
	before := metadata.Clone(stored)
	v := metadata.ViewOf(stored)

	tests := []struct {
		key    string
		want   any
		wantOK bool
	}{
		{"n", int64(3), true},
		{"s", "text", true},
		{"null", nil, true},
		{"absent", nil, false},
		{"o", map[string]any{"list": []any{1.5, metadata.Map{"x": true}}},
			true},
		{"m", metadata.Map{"y": "z"}, true},
	}
	for _, tc := range tests {
		got, ok := v.Get(tc.key)
		if ok != tc.wantOK {
			t.Errorf("Get(%q) ok = %t, want %t", tc.key, ok, tc.wantOK)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Get(%q) mismatch (-want +got):\n%s", tc.key, diff)
		}
	}
	if got := v.Len(); got != len(stored) {
		t.Errorf("Len() = %d, want %d", got, len(stored))
	}

	// What a view hands out is a copy: changing it changes nothing.
	o, _ := v.Get("o")
	o.(map[string]any)["list"].([]any)[1].(metadata.Map)["x"] = false
	m, _ := v.Get("m")
	m.(metadata.Map)["y"] = "changed"
	all := v.Map()
	all["n"] = int64(99)
	all["o"].(map[string]any)["new"] = 1
	if diff := cmp.Diff(before, stored); diff != "" {
		t.Errorf("stored value changed through the view (-want +got):\n%s",
			diff)
	}
	if diff := cmp.Diff(before, metadata.ViewOf(before).Map()); diff != "" {
		t.Errorf("Map() mismatch (-want +got):\n%s", diff)
	}

	// The zero view shows nothing stored.
	var zero metadata.View
	if got, ok := zero.Get("n"); ok || got != nil || zero.Len() != 0 ||
		zero.Map() != nil {
		t.Errorf("zero View: Get = %v, %t; Len %d; Map %v", got, ok,
			zero.Len(), zero.Map())
	}
}

// TestViewOfMapHoldingItself checks that a view copies a map that holds
// itself, which no store keeps, in bounded time instead of without end.
func TestViewOfMapHoldingItself(t *testing.T) {
	loop := map[string]any{}
	loop["self"] = loop
	v := metadata.ViewOf(metadata.Map{"loop": loop})
	got, _ := v.Get("loop")
	depth := 0
	for m, ok := got.(map[string]any); ok; m, ok = m["self"].(map[string]any) {
		if depth++; depth > metadata.MaxDepth+10 {
			break
		}
	}
	if depth <= metadata.MaxDepth {
		t.Errorf("copied %d levels, want more than MaxDepth", depth)
	}
	_ = v.Map()
}

// viewless is a Store that is no metadata.Viewer.
type viewless struct {
	metadata.Store
	cur metadata.Map
	got metadata.Map
}

func (s *viewless) Update(_ context.Context, _, _ string,
	fn metadata.UpdateFunc) error {
	p, err := fn(s.cur)
	s.got = p
	return err
}

func TestUpdateViewOnAStoreWithoutViews(t *testing.T) {
	s := &viewless{cur: metadata.Map{"n": int64(1)}}
	errStop := errors.New("stop")
	err := metadata.UpdateView(context.Background(), s, "u", "r",
		func(v metadata.View) (metadata.Map, error) {
			n, _ := v.Get("n")
			return metadata.Map{"n": n.(int64) + 1}, nil
		})
	if err != nil {
		t.Fatalf("UpdateView() error: %v", err)
	}
	if diff := cmp.Diff(metadata.Map{"n": int64(2)}, s.got); diff != "" {
		t.Errorf("patch mismatch (-want +got):\n%s", diff)
	}
	err = metadata.UpdateView(context.Background(), s, "u", "r",
		func(metadata.View) (metadata.Map, error) { return nil, errStop })
	if !errors.Is(err, errStop) {
		t.Errorf("UpdateView() error = %v, want the function's", err)
	}
}
