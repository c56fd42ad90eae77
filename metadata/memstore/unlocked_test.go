package memstore_test

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
)

// TestUpdateFuncChangesNothingStored has an update function change the
// map it is given, with values no patch may hold: nothing stored
// changes, and the user's later writes still work.
func TestUpdateFuncChangesNothingStored(t *testing.T) {
	s := newStore(t, memstore.Options{})
	ctx := t.Context()
	before := metadata.Map{"n": int64(1), "nested": map[string]any{"a": 1}}
	if err := s.Put(ctx, "u1", before); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, "u1", "r1", func(cur metadata.Map) (metadata.Map, error) {
		cur["poison"] = math.NaN()
		cur["__proto__"] = 1
		cur["n"] = 999
		cur["nested"].(map[string]any)["a"] = make(chan int)
		return nil, nil
	})
	if err != nil {
		t.Fatalf("Update() error = %v", err)
	}
	got, err := s.Get(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	want := metadata.Map{"n": int64(1), "nested": map[string]any{"a": 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored mismatch (-want +got):\n%s", diff)
	}
	if err := s.Update(ctx, "u1", "r2", increment); err != nil {
		t.Errorf("a later Update() error = %v", err)
	}
}

// TestStuckUpdateFuncHoldsUpNoOne blocks one update function of a user
// and shows that the user's other writes and reads go on; when the
// stuck function returns, it runs again on the value those writes left,
// so no write is lost.
func TestStuckUpdateFuncHoldsUpNoOne(t *testing.T) {
	s := newStore(t, memstore.Options{})
	ctx := t.Context()
	if err := s.Put(ctx, "u1", metadata.Map{"n": 0}); err != nil {
		t.Fatal(err)
	}

	// The stuck update counts its calls and waits, at its first call,
	// until released.
	entered, release := make(chan struct{}), make(chan struct{})
	calls := 0
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, "u1", "stuck", func(cur metadata.Map) (metadata.Map, error) {
			calls++
			if calls == 1 {
				close(entered)
				<-release
			}
			return increment(cur)
		})
	}()
	<-entered

	// Meanwhile the user's other writes and reads go on.
	for _, r := range []string{"a", "b", "c"} {
		if err := s.Update(ctx, "u1", r, increment); err != nil {
			t.Fatalf("Update(%s) error = %v", r, err)
		}
	}
	if got, err := s.Get(ctx, "u1"); err != nil || got["n"] != int64(3) {
		t.Fatalf("Get() = %v, %v; want n 3", got, err)
	}

	// Released, the stuck update sees it lost the race and counts on
	// the fresh value.
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("stuck Update() error = %v", err)
	}
	if calls != 2 {
		t.Errorf("stuck update function calls = %d, want 2", calls)
	}
	if got, err := s.Get(ctx, "u1"); err != nil || got["n"] != int64(4) {
		t.Errorf("Get() = %v, %v; want n 4", got, err)
	}
}

// TestReceiptRecordedWhileUpdateRuns records an update's receipt with
// RecordReceipt while the update's function runs: the update then
// stores nothing and returns ErrDuplicate, since its write was applied
// (by the receipt's record) already.
func TestReceiptRecordedWhileUpdateRuns(t *testing.T) {
	s := newStore(t, memstore.Options{})
	ctx := t.Context()
	if err := s.Put(ctx, "u1", metadata.Map{"n": int64(0)}); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, "u1", "r1", func(cur metadata.Map) (metadata.Map, error) {
			close(entered)
			<-release
			return increment(cur)
		})
	}()
	<-entered
	if err := s.RecordReceipt(ctx, "u1", "r1"); err != nil {
		t.Fatalf("RecordReceipt() error = %v", err)
	}
	close(release)
	if err := <-done; !errors.Is(err, metadata.ErrDuplicate) {
		t.Errorf("Update() error = %v, want %v", err, metadata.ErrDuplicate)
	}
	got, err := s.Get(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(metadata.Map{"n": int64(0)}, got); diff != "" {
		t.Errorf("stored mismatch (-want +got):\n%s", diff)
	}
}
