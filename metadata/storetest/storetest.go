// Package storetest is the contract suite that every [metadata.Store]
// runs: the merge rules, validation, the atomic read-modify-write,
// receipts, missing users, cancellation and exact numbers.
//
// A store's own test calls [Run] with a constructor:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t testing.TB) storetest.Store {
//			return memstore.New(memstore.Options{})
//		})
//	}
//
// Every check creates users of its own, with random IDs, so a persistent
// store can run the suite again and again against the same database.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/metadata"
)

// Store is what the suite needs of a store: the [metadata.Store] methods
// and a way to create users.
type Store interface {
	metadata.Store

	// Put creates the user, or replaces the user's app_metadata whole,
	// with m; nil m means a user with nothing stored yet.
	Put(ctx context.Context, userID string, m metadata.Map) error
}

// Run runs every check of the contract against stores that newStore
// returns, each as a named subtest. newStore may be called once per
// subtest; it should register its own cleanup with t.Cleanup. The stores
// must use the default limits.
func Run(t *testing.T, newStore func(t testing.TB) Store) {
	t.Helper()
	checks := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"Merge", testMerge},
		{"NullDeletes", testNullDeletes},
		{"Validation", testValidation},
		{"TooLarge", testTooLarge},
		{"UpdateFunc", testUpdateFunc},
		{"Atomic", testAtomic},
		{"Idempotency", testIdempotency},
		{"ConcurrentReceipt", testConcurrentReceipt},
		{"ReceiptsPerUser", testReceiptsPerUser},
		{"MissingUser", testMissingUser},
		{"Cancelled", testCancelled},
		{"ExactIntegers", testExactIntegers},
		{"GetReturnsCopy", testGetReturnsCopy},
		{"RecordReceipt", testRecordReceipt},
		{"RecordReceipts", testRecordReceipts},
		{"UpdateView", testUpdateView},
		{"UpdateGuarded", testGuarded},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newStore(t))
		})
	}
}

// newUser creates a user with a fresh random ID holding m.
func newUser(t testing.TB, s Store, m metadata.Map) string {
	t.Helper()
	id := "storetest-" + rand.Text()
	if err := s.Put(context.Background(), id, m); err != nil {
		t.Fatalf("Put(%q) = %v", id, err)
	}
	return id
}

// get returns the user's app_metadata, failing the test on error.
func get(t testing.TB, s Store, id string) metadata.Map {
	t.Helper()
	m, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%q) = %v", id, err)
	}
	return m
}

// set writes patch as a plain merge.
func set(ctx context.Context, s Store, id, receipt string, patch metadata.Map) error {
	return s.Update(ctx, id, receipt, func(metadata.Map) (metadata.Map, error) {
		return patch, nil
	})
}

// diff compares app_metadata numerically where numbers are involved:
// a store may hand back json.Number, float64 or an integer type for the
// number it was given.
func diff(want, got metadata.Map) string {
	return cmp.Diff(want, got, cmp.FilterValues(bothNumbers,
		cmp.Comparer(sameNumber)))
}

func bothNumbers(a, b any) bool {
	return isNumber(a) && isNumber(b)
}

func isNumber(v any) bool {
	switch v.(type) {
	case float64, float32, json.Number,
		int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64:
		return true
	}
	return false
}

// sameNumber compares exactly as integers and, to tell 1.5 from 1, as
// floats.
func sameNumber(a, b any) bool {
	ia, oka := metadata.Int(a)
	ib, okb := metadata.Int(b)
	return oka == okb && ia == ib && floatOf(a) == floatOf(b)
}

// floatOf is v as a float64, to tell 1.5 from 1 after both read as 1.
func floatOf(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case json.Number:
		f, _ := v.Float64()
		return f
	}
	n, _ := metadata.Int(v)
	return float64(n)
}

func testMerge(t *testing.T, s Store) {
	ctx := context.Background()
	id := newUser(t, s, metadata.Map{
		"keep":    "kept",
		"replace": "old",
		"nested":  map[string]any{"a": 1.0, "b": 2.0},
		"drop":    true,
	})

	patch := metadata.Map{
		"replace": "new",
		"nested":  map[string]any{"c": 3.0},
		"drop":    nil,
		"added":   []any{"x", 1.0},
	}
	if err := set(ctx, s, id, "", patch); err != nil {
		t.Fatalf("Update = %v", err)
	}

	want := metadata.Map{
		"keep":    "kept",
		"replace": "new",
		"nested":  map[string]any{"c": 3.0},
		"added":   []any{"x", 1.0},
	}
	if d := diff(want, get(t, s, id)); d != "" {
		t.Errorf("after merge, mismatch (-want +got):\n%s", d)
	}
}

func testNullDeletes(t *testing.T, s Store) {
	ctx := context.Background()
	tests := []struct {
		name          string
		stored, patch metadata.Map
		want          metadata.Map
	}{
		{"deletes a stored key",
			metadata.Map{"a": "x", "b": "y"}, metadata.Map{"a": nil},
			metadata.Map{"b": "y"}},
		{"absent key is no error",
			metadata.Map{"b": "y"}, metadata.Map{"a": nil},
			metadata.Map{"b": "y"}},
		{"deletes and sets at once",
			metadata.Map{"a": "x", "b": "y"},
			metadata.Map{"a": nil, "c": "z"},
			metadata.Map{"b": "y", "c": "z"}},
		// Only top-level nulls delete: a nested object is stored whole.
		{"nested null kept",
			metadata.Map{"o": map[string]any{"k": "v"}},
			metadata.Map{"o": map[string]any{"k": nil}},
			metadata.Map{"o": map[string]any{"k": nil}}},
		{"null in a list kept",
			nil, metadata.Map{"l": []any{nil, 1.0}},
			metadata.Map{"l": []any{nil, 1.0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := newUser(t, s, tc.stored)
			if err := set(ctx, s, id, "", tc.patch); err != nil {
				t.Fatalf("Update = %v", err)
			}
			if d := diff(tc.want, get(t, s, id)); d != "" {
				t.Errorf("stored, mismatch (-want +got):\n%s", d)
			}
		})
	}

	// Deleting every key leaves an empty record, not a missing user.
	id := newUser(t, s, metadata.Map{"a": "x"})
	if err := set(ctx, s, id, "", metadata.Map{"a": nil}); err != nil {
		t.Fatalf("Update = %v", err)
	}
	if m := get(t, s, id); len(m) != 0 {
		t.Errorf("after deleting every key, Get = %v, want it empty", m)
	}
}

func testValidation(t *testing.T, s Store) {
	ctx := context.Background()
	stored := metadata.Map{"keep": "kept"}
	tests := []struct {
		name  string
		patch metadata.Map
	}{
		{"empty key", metadata.Map{"": 1.0}},
		{"long key", metadata.Map{strings.Repeat("k", 256): 1.0}},
		{"newline in key", metadata.Map{"a\nb": 1.0}},
		{"NUL in key", metadata.Map{"a\x00": 1.0}},
		{"DEL in key", metadata.Map{"a\x7f": 1.0}},
		{"invalid UTF-8 key", metadata.Map{"a\xff": 1.0}},
		{"__proto__", metadata.Map{"__proto__": 1.0}},
		{"constructor", metadata.Map{"constructor": 1.0}},
		{"prototype", metadata.Map{"prototype": 1.0}},
		{"dollar key", metadata.Map{"$set": 1.0}},
		{"NaN", metadata.Map{"n": math.NaN()}},
		{"+Inf", metadata.Map{"n": math.Inf(1)}},
		{"-Inf float32", metadata.Map{"n": float32(math.Inf(-1))}},
		{"bad json.Number", metadata.Map{"n": json.Number("1x")}},
		{"channel", metadata.Map{"c": make(chan int)}},
		{"function", metadata.Map{"f": func() {}}},
		{"struct", metadata.Map{"s": struct{}{}}},
		{"nested NaN", metadata.Map{
			"n": map[string]any{"a": []any{1.0, math.NaN()}}}},
		{"nested bad key", metadata.Map{
			"n": map[string]any{"\xff": 1.0}}},
		// The valid key must not be stored either.
		{"valid and invalid", metadata.Map{
			"ok": 1.0, "bad": math.Inf(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := newUser(t, s, stored)
			err := set(ctx, s, id, "r1", tc.patch)
			if !errors.Is(err, metadata.ErrInvalidPatch) {
				t.Errorf("Update = %v, want %v", err,
					metadata.ErrInvalidPatch)
			}
			if d := diff(stored, get(t, s, id)); d != "" {
				t.Errorf("stored, mismatch (-want +got):\n%s", d)
			}
			if ok, _ := s.HasReceipt(ctx, id, "r1"); ok {
				t.Errorf("HasReceipt after a refused patch = true")
			}

			err = s.Put(ctx, id, tc.patch)
			if !errors.Is(err, metadata.ErrInvalidPatch) {
				t.Errorf("Put = %v, want %v", err,
					metadata.ErrInvalidPatch)
			}
		})
	}
}

func testTooLarge(t *testing.T, s Store) {
	ctx := context.Background()
	id := newUser(t, s, metadata.Map{"a": strings.Repeat("a", 8<<10)})

	// Half the limit again is too much.
	big := metadata.Map{"b": strings.Repeat("b", 8<<10)}
	if err := set(ctx, s, id, "", big); !errors.Is(err, metadata.ErrTooLarge) {
		t.Errorf("Update with 16 KiB more = %v, want %v", err,
			metadata.ErrTooLarge)
	}
	if _, ok := get(t, s, id)["b"]; ok {
		t.Errorf("the oversized patch was stored")
	}

	// Well under the limit is fine.
	small := metadata.Map{"b": strings.Repeat("b", 4<<10)}
	if err := set(ctx, s, id, "", small); err != nil {
		t.Errorf("Update with 4 KiB more = %v", err)
	}

	// Put checks the size too.
	huge := metadata.Map{"a": strings.Repeat("a", 17<<10)}
	if err := s.Put(ctx, id, huge); !errors.Is(err, metadata.ErrTooLarge) {
		t.Errorf("Put of 17 KiB = %v, want %v", err, metadata.ErrTooLarge)
	}
}

func testUpdateFunc(t *testing.T, s Store) {
	ctx := context.Background()

	t.Run("nothing stored", func(t *testing.T) {
		id := newUser(t, s, nil)
		if m := get(t, s, id); m != nil {
			t.Errorf("Get of a new user = %v, want nil", m)
		}
		var saw metadata.Map
		called := false
		err := s.Update(ctx, id, "", func(cur metadata.Map) (metadata.Map, error) {
			called, saw = true, cur
			return nil, nil
		})
		if err != nil || !called {
			t.Fatalf("Update = %v, called %t; want nil, true", err, called)
		}
		if saw != nil {
			t.Errorf("fn saw %v, want nil", saw)
		}
	})

	t.Run("sees current", func(t *testing.T) {
		id := newUser(t, s, metadata.Map{"n": 41.0})
		err := s.Update(ctx, id, "", func(cur metadata.Map) (metadata.Map, error) {
			n, _ := metadata.Int(cur["n"])
			return metadata.Map{"n": n + 1}, nil
		})
		if err != nil {
			t.Fatalf("Update = %v", err)
		}
		if n, _ := metadata.Int(get(t, s, id)["n"]); n != 42 {
			t.Errorf("n = %d, want 42", n)
		}
	})

	t.Run("error aborts", func(t *testing.T) {
		stored := metadata.Map{"n": 1.0}
		id := newUser(t, s, stored)
		errFn := errors.New("storetest: fn failed")
		err := s.Update(ctx, id, "r1", func(metadata.Map) (metadata.Map, error) {
			return metadata.Map{"n": 2.0}, errFn
		})
		if !errors.Is(err, errFn) {
			t.Errorf("Update = %v, want %v", err, errFn)
		}
		if d := diff(stored, get(t, s, id)); d != "" {
			t.Errorf("stored, mismatch (-want +got):\n%s", d)
		}
		if ok, _ := s.HasReceipt(ctx, id, "r1"); ok {
			t.Errorf("HasReceipt after an aborted update = true")
		}
	})

	t.Run("nil patch", func(t *testing.T) {
		stored := metadata.Map{"n": 1.0}
		id := newUser(t, s, stored)
		if err := set(ctx, s, id, "r1", nil); err != nil {
			t.Fatalf("Update = %v", err)
		}
		if d := diff(stored, get(t, s, id)); d != "" {
			t.Errorf("stored, mismatch (-want +got):\n%s", d)
		}
		if ok, err := s.HasReceipt(ctx, id, "r1"); !ok || err != nil {
			t.Errorf("HasReceipt = %t, %v; want true, nil (a nil patch "+
				"still records its receipt)", ok, err)
		}
	})
}

// increment adds one to the counter "n".
func increment(cur metadata.Map) (metadata.Map, error) {
	n, _ := metadata.Int(cur["n"])
	return metadata.Map{"n": n + 1}, nil
}

// updateAll calls update(w, i) for each i below each, in each of workers
// goroutines w at once, and returns the errors the calls gave.
func updateAll(workers, each int, update func(w, i int) error) []error {
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := update(w, i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return all
}

func testAtomic(t *testing.T, s Store) {
	const workers, each = 16, 100
	ctx := context.Background()
	id := newUser(t, s, nil)

	// Every increment must count, whatever the interleaving.
	for _, err := range updateAll(workers, each, func(int, int) error {
		return s.Update(ctx, id, "", increment)
	}) {
		t.Errorf("Update = %v", err)
	}

	if n, _ := metadata.Int(get(t, s, id)["n"]); n != workers*each {
		t.Errorf("n = %d, want %d", n, workers*each)
	}

	// The same with a receipt for every write, as flows write: each
	// counts, and each receipt is kept.
	id = newUser(t, s, nil)
	for _, err := range updateAll(workers, each, func(w, i int) error {
		r := fmt.Sprintf("w%d/%d", w, i)
		return s.Update(ctx, id, r, increment)
	}) {
		t.Errorf("Update with a receipt = %v", err)
	}
	if n, _ := metadata.Int(get(t, s, id)["n"]); n != workers*each {
		t.Errorf("with receipts, n = %d, want %d", n, workers*each)
	}
	for _, r := range []string{"w0/0", fmt.Sprintf("w%d/%d", workers-1,
		each-1)} {
		if ok, err := s.HasReceipt(ctx, id, r); !ok || err != nil {
			t.Errorf("HasReceipt(%s) = %t, %v; want true, nil", r, ok, err)
		}
	}
}

func testIdempotency(t *testing.T, s Store) {
	ctx := context.Background()
	id := newUser(t, s, nil)

	if ok, err := s.HasReceipt(ctx, id, "r1"); ok || err != nil {
		t.Errorf("HasReceipt before = %t, %v; want false, nil", ok, err)
	}
	if err := s.Update(ctx, id, "r1", increment); err != nil {
		t.Fatalf("first Update = %v", err)
	}

	// The retry is refused and fn is not called.
	called := false
	err := s.Update(ctx, id, "r1", func(cur metadata.Map) (metadata.Map, error) {
		called = true
		return increment(cur)
	})
	if !errors.Is(err, metadata.ErrDuplicate) {
		t.Errorf("second Update = %v, want %v", err, metadata.ErrDuplicate)
	}
	if called {
		t.Errorf("second Update called fn")
	}
	if ok, err := s.HasReceipt(ctx, id, "r1"); !ok || err != nil {
		t.Errorf("HasReceipt after = %t, %v; want true, nil", ok, err)
	}
	if n, _ := metadata.Int(get(t, s, id)["n"]); n != 1 {
		t.Errorf("n = %d, want 1", n)
	}

	// Another receipt is another write.
	if err := s.Update(ctx, id, "r2", increment); err != nil {
		t.Fatalf("Update with another receipt = %v", err)
	}
	if n, _ := metadata.Int(get(t, s, id)["n"]); n != 2 {
		t.Errorf("n = %d, want 2", n)
	}
}

func testConcurrentReceipt(t *testing.T, s Store) {
	const workers = 8
	ctx := context.Background()
	id := newUser(t, s, nil)

	// Eight retries of one write at once: exactly one applies.
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			errs <- s.Update(ctx, id, "r1", increment)
		})
	}
	wg.Wait()
	close(errs)
	applied, dups := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			applied++
		case errors.Is(err, metadata.ErrDuplicate):
			dups++
		default:
			t.Errorf("Update = %v", err)
		}
	}
	if applied != 1 || dups != workers-1 {
		t.Errorf("applied, duplicates = %d, %d; want 1, %d",
			applied, dups, workers-1)
	}
	if n, _ := metadata.Int(get(t, s, id)["n"]); n != 1 {
		t.Errorf("n = %d, want 1", n)
	}
}

func testReceiptsPerUser(t *testing.T, s Store) {
	ctx := context.Background()
	a, b := newUser(t, s, nil), newUser(t, s, nil)
	if err := s.Update(ctx, a, "r1", increment); err != nil {
		t.Fatalf("Update(a) = %v", err)
	}
	if ok, err := s.HasReceipt(ctx, b, "r1"); ok || err != nil {
		t.Errorf("HasReceipt(b) = %t, %v; want false, nil", ok, err)
	}
	if err := s.Update(ctx, b, "r1", increment); err != nil {
		t.Errorf("Update(b) with a's receipt = %v, want nil", err)
	}
}

func testMissingUser(t *testing.T, s Store) {
	ctx := context.Background()
	id := "storetest-missing-" + rand.Text()

	if _, err := s.Get(ctx, id); !errors.Is(err, metadata.ErrUserNotFound) {
		t.Errorf("Get = %v, want %v", err, metadata.ErrUserNotFound)
	}
	err := s.Update(ctx, id, "r1", increment)
	if !errors.Is(err, metadata.ErrUserNotFound) {
		t.Errorf("Update = %v, want %v", err, metadata.ErrUserNotFound)
	}
	if ok, err := s.HasReceipt(ctx, id, "r1"); ok || err != nil {
		t.Errorf("HasReceipt = %t, %v; want false, nil", ok, err)
	}
}

// checkCancelledUpdate checks that err, from an Update of id with receipt
// r1, wraps context.Canceled, and that the Update left id's stored
// metadata and no receipt behind.
func checkCancelledUpdate(t *testing.T, s Store, id string,
	stored metadata.Map, err error) {

	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update = %v, want %v", err, context.Canceled)
	}
	if d := diff(stored, get(t, s, id)); d != "" {
		t.Errorf("stored, mismatch (-want +got):\n%s", d)
	}
	ok, err := s.HasReceipt(context.Background(), id, "r1")
	if ok || err != nil {
		t.Errorf("HasReceipt = %t, %v; want false, nil", ok, err)
	}
}

func testCancelled(t *testing.T, s Store) {
	stored := metadata.Map{"n": 1.0}

	t.Run("before the call", func(t *testing.T) {
		id := newUser(t, s, stored)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		err := s.Update(ctx, id, "r1", increment)
		checkCancelledUpdate(t, s, id, stored, err)
		if _, err := s.HasReceipt(ctx, id, "r1"); err == nil {
			t.Errorf("HasReceipt with a cancelled context = nil error")
		}
	})

	// A caller that gives up while its function runs stores nothing:
	// the write is not half done, and its receipt lets a retry through.
	t.Run("while fn runs", func(t *testing.T) {
		id := newUser(t, s, stored)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()

		err := s.Update(ctx, id, "r1", func(cur metadata.Map) (metadata.Map, error) {
			cancel()
			return increment(cur)
		})
		checkCancelledUpdate(t, s, id, stored, err)
		if err := s.Update(context.Background(), id, "r1",
			increment); err != nil {
			t.Errorf("retried Update = %v", err)
		}
		if n, _ := metadata.Int(get(t, s, id)["n"]); n != 2 {
			t.Errorf("n after the retry = %d, want 2", n)
		}
	})
}

func testExactIntegers(t *testing.T, s Store) {
	ctx := context.Background()
	tests := []struct {
		name  string
		value any
		want  int64
	}{
		{"json.Number above 2^53", json.Number("9007199254740993"),
			9007199254740993},
		{"int64 2^62", int64(1 << 62), 1 << 62},
		{"int64 max", int64(math.MaxInt64), math.MaxInt64},
		{"negative", int64(-9007199254740993), -9007199254740993},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Through Put, and through Update.
			id := newUser(t, s, metadata.Map{"put": tc.value})
			err := set(ctx, s, id, "", metadata.Map{"upd": tc.value})
			if err != nil {
				t.Fatalf("Update = %v", err)
			}
			m := get(t, s, id)
			for _, k := range []string{"put", "upd"} {
				n, ok := metadata.Int(m[k])
				if !ok || n != tc.want {
					t.Errorf("Int(%s: %#v) = %d, %t; want %d, true",
						k, m[k], n, ok, tc.want)
				}
			}
		})
	}
}

func testGetReturnsCopy(t *testing.T, s Store) {
	stored := metadata.Map{
		"s":      "x",
		"nested": map[string]any{"a": 1.0, "list": []any{1.0, 2.0}},
	}
	id := newUser(t, s, stored)

	// Change every level of what Get returned.
	got := get(t, s, id)
	got["s"] = "changed"
	got["new"] = true
	if nested, ok := got["nested"].(map[string]any); ok {
		nested["a"] = 99.0
		if list, ok := nested["list"].([]any); ok && len(list) > 0 {
			list[0] = 99.0
		}
	}

	if d := diff(stored, get(t, s, id)); d != "" {
		t.Errorf("after changing a Get result, mismatch (-want +got):\n%s",
			d)
	}
}

// testRecordReceipt checks a store's [metadata.ReceiptRecorder], when it
// has one: the receipt is then known to HasReceipt and to Update, once,
// nothing is written, and an unknown user is refused.
func testRecordReceipt(t *testing.T, s Store) {
	rr, ok := s.(metadata.ReceiptRecorder)
	if !ok {
		t.Skip("the store is no metadata.ReceiptRecorder")
	}
	ctx := context.Background()
	id := newUser(t, s, metadata.Map{"kept": "yes"})

	if err := rr.RecordReceipt(ctx, id, "r1"); err != nil {
		t.Fatalf("RecordReceipt = %v", err)
	}
	err := rr.RecordReceipt(ctx, id, "r1")
	if !errors.Is(err, metadata.ErrDuplicate) {
		t.Errorf("second RecordReceipt = %v, want %v", err,
			metadata.ErrDuplicate)
	}
	if ok, err := s.HasReceipt(ctx, id, "r1"); !ok || err != nil {
		t.Errorf("HasReceipt = %t, %v; want true, nil", ok, err)
	}
	called := false
	err = s.Update(ctx, id, "r1", func(metadata.Map) (metadata.Map, error) {
		called = true
		return metadata.Map{"n": 1}, nil
	})
	if !errors.Is(err, metadata.ErrDuplicate) || called {
		t.Errorf("Update = %v, called %t; want %v, not called", err, called,
			metadata.ErrDuplicate)
	}
	if d := diff(metadata.Map{"kept": "yes"}, get(t, s, id)); d != "" {
		t.Errorf("stored mismatch (-want +got):\n%s", d)
	}

	// Another receipt of the user is its own.
	if err := rr.RecordReceipt(ctx, id, "r2"); err != nil {
		t.Errorf("RecordReceipt(r2) = %v", err)
	}

	// No receipt records nothing, as Update without one.
	for range 2 {
		if err := rr.RecordReceipt(ctx, id, ""); err != nil {
			t.Errorf("RecordReceipt(\"\") = %v, want nil", err)
		}
	}
	if ok, err := s.HasReceipt(ctx, id, ""); ok || err != nil {
		t.Errorf("HasReceipt(\"\") = %t, %v; want false, nil", ok, err)
	}

	missing := "storetest-missing-" + rand.Text()
	err = rr.RecordReceipt(ctx, missing, "r1")
	if !errors.Is(err, metadata.ErrUserNotFound) {
		t.Errorf("RecordReceipt(unknown user) = %v, want %v", err,
			metadata.ErrUserNotFound)
	}
	if ok, err := s.HasReceipt(ctx, missing, "r1"); ok || err != nil {
		t.Errorf("HasReceipt(unknown user) = %t, %v; want false, nil", ok,
			err)
	}

	// A cancelled context records nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = rr.RecordReceipt(cctx, id, "r3")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RecordReceipt(cancelled) = %v, want %v", err,
			context.Canceled)
	}
	if ok, err := s.HasReceipt(ctx, id, "r3"); ok || err != nil {
		t.Errorf("HasReceipt(r3) = %t, %v; want false, nil", ok, err)
	}
}

// testRecordReceipts checks a [metadata.BatchRecorder]: each receipt of
// a batch is answered on its own, in order, whatever the others' fate
// (a duplicate within the batch and of an earlier call, an unknown
// user, an empty receipt), and each recorded one counts as if recorded
// alone.
func testRecordReceipts(t *testing.T, s Store) {
	br, ok := s.(metadata.BatchRecorder)
	if !ok {
		t.Skip("the store is no metadata.BatchRecorder")
	}
	ctx := context.Background()
	a := newUser(t, s, metadata.Map{"kept": "yes"})
	b := newUser(t, s, nil)
	missing := "storetest-missing-" + rand.Text()
	if err := s.Update(ctx, a, "earlier", increment); err != nil {
		t.Fatalf("Update = %v", err)
	}

	rs := []metadata.UserReceipt{
		{UserID: a, Receipt: "r1"},
		{UserID: b, Receipt: "r1"}, // another user's is its own
		{UserID: a, Receipt: "r1"}, // again within the batch
		{UserID: missing, Receipt: "r1"},
		{UserID: a, Receipt: "earlier"},
		{UserID: a, Receipt: ""},
		{UserID: a, Receipt: "r2"},
	}
	errs := br.RecordReceipts(ctx, rs)
	if len(errs) != len(rs) {
		t.Fatalf("RecordReceipts returned %d errors for %d receipts",
			len(errs), len(rs))
	}
	wants := []error{nil, nil, metadata.ErrDuplicate,
		metadata.ErrUserNotFound, metadata.ErrDuplicate, nil, nil}
	for i, want := range wants {
		if got := errs[i]; (want == nil) != (got == nil) ||
			!errors.Is(got, want) {
			t.Errorf("receipt %d (%s of %s): error %v, want %v", i,
				rs[i].Receipt, rs[i].UserID, got, want)
		}
	}
	for _, r := range []metadata.UserReceipt{{UserID: a, Receipt: "r1"},
		{UserID: b, Receipt: "r1"}, {UserID: a, Receipt: "r2"}} {
		if ok, err := s.HasReceipt(ctx, r.UserID, r.Receipt); !ok ||
			err != nil {
			t.Errorf("HasReceipt(%s, %s) = %t, %v; want true, nil",
				r.UserID, r.Receipt, ok, err)
		}
	}
	if ok, err := s.HasReceipt(ctx, a, ""); ok || err != nil {
		t.Errorf("HasReceipt(\"\") = %t, %v; want false, nil", ok, err)
	}
	if d := diff(metadata.Map{"kept": "yes", "n": int64(1)},
		get(t, s, a)); d != "" {
		t.Errorf("stored mismatch (-want +got):\n%s", d)
	}

	// A receipt recorded in a batch makes its write a duplicate.
	err := s.Update(ctx, a, "r2", increment)
	if !errors.Is(err, metadata.ErrDuplicate) {
		t.Errorf("Update(r2) = %v, want %v", err, metadata.ErrDuplicate)
	}

	// An empty batch answers nothing; a cancelled context records
	// nothing.
	if errs := br.RecordReceipts(ctx, nil); len(errs) != 0 {
		t.Errorf("RecordReceipts(nil) = %v, want none", errs)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	errs = br.RecordReceipts(cctx,
		[]metadata.UserReceipt{{UserID: a, Receipt: "r3"}})
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Errorf("RecordReceipts(cancelled) = %v, want [%v]", errs,
			context.Canceled)
	}
	if ok, err := s.HasReceipt(ctx, a, "r3"); ok || err != nil {
		t.Errorf("HasReceipt(r3) = %t, %v; want false, nil", ok, err)
	}
}

// testUpdateView checks [metadata.UpdateView] on the store, a
// [metadata.Viewer] or not: the function views the current value, what it
// reads there is its own, its patch is merged, and its receipt counts once.
func testUpdateView(t *testing.T, s Store) {
	ctx := context.Background()
	id := newUser(t, s, metadata.Map{"n": 1,
		"o": map[string]any{"keep": "yes"}})

	add := func(v metadata.View) (metadata.Map, error) {
		n, _ := v.Get("n")
		cur, _ := metadata.Int(n)

		// Changing what the view gave changes nothing stored.
		if o, ok := v.Get("o"); ok {
			if o, ok := o.(map[string]any); ok {
				o["keep"] = "changed"
			}
		}
		return metadata.Map{"n": cur + 1, "seen": int64(v.Len())}, nil
	}
	if err := metadata.UpdateView(ctx, s, id, "r1", add); err != nil {
		t.Fatalf("UpdateView = %v", err)
	}
	called := false
	err := metadata.UpdateView(ctx, s, id, "r1",
		func(v metadata.View) (metadata.Map, error) {
			called = true
			return add(v)
		})
	if !errors.Is(err, metadata.ErrDuplicate) || called {
		t.Errorf("UpdateView again = %v, called %t; want %v, not called",
			err, called, metadata.ErrDuplicate)
	}
	want := metadata.Map{"n": 2, "seen": 2,
		"o": map[string]any{"keep": "yes"}}
	if d := diff(want, get(t, s, id)); d != "" {
		t.Errorf("stored mismatch (-want +got):\n%s", d)
	}

	// The function's error aborts the update, unchanged.
	errStop := errors.New("storetest: stop")
	err = metadata.UpdateView(ctx, s, id, "r2",
		func(metadata.View) (metadata.Map, error) { return nil, errStop })
	if !errors.Is(err, errStop) {
		t.Errorf("UpdateView with a failing function = %v, want %v", err,
			errStop)
	}
	if d := diff(want, get(t, s, id)); d != "" {
		t.Errorf("stored after the failure mismatch (-want +got):\n%s", d)
	}
}
