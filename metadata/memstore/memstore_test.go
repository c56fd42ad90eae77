package memstore_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/metadata/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(testing.TB) storetest.Store {
		return memstore.New(memstore.Options{})
	})
}

// increment adds one to the counter "n".
func increment(cur metadata.Map) (metadata.Map, error) {
	n, _ := metadata.Int(cur["n"])
	return metadata.Map{"n": n + 1}, nil
}

// newStore returns a store on a fake clock, with a user "u".
func newStore(t testing.TB, opts memstore.Options) *memstore.Store {
	t.Helper()
	s := memstore.New(opts)
	if err := s.Put(context.Background(), "u", nil); err != nil {
		t.Fatalf("Put = %v", err)
	}
	return s
}

func TestRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		after     time.Duration
		want      bool
	}{
		{"just recorded", time.Minute, 0, true},
		{"within retention", time.Minute, time.Minute - 1, true},
		{"at retention", time.Minute, time.Minute, false},
		{"long after", time.Minute, 10 * time.Hour, false},
		{"default keeps a day", 0, 24*time.Hour - 1, true},
		{"default forgets after a day", 0, 24 * time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clk := clock.NewMock()
			s := newStore(t, memstore.Options{
				Clock: clk, Retention: tc.retention})
			if err := s.Update(ctx, "u", "r1", increment); err != nil {
				t.Fatalf("Update = %v", err)
			}

			clk.Add(tc.after)
			got, err := s.HasReceipt(ctx, "u", "r1")
			if err != nil || got != tc.want {
				t.Errorf("HasReceipt = %t, %v; want %t, nil",
					got, err, tc.want)
			}

			// A forgotten receipt lets the write through again.
			err = s.Update(ctx, "u", "r1", increment)
			if dup := errors.Is(err, metadata.ErrDuplicate); dup != tc.want {
				t.Errorf("Update again = %v, duplicate %t, want %t",
					err, dup, tc.want)
			}
		})
	}
}

// TestReceiptsMemoryFlat writes one user a million times, each with a
// receipt of its own, while the clock moves on: forgotten receipts must
// free their memory.
func TestReceiptsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("a million updates; skipped in -short mode")
	}
	const (
		updates = 1_000_000
		mark    = 100_000
		perTick = 1000 // updates per second of the fake clock

		// The heap may grow by this much. About 20,000 receipts live at
		// any time, under 1 MiB; keeping all would take about 50 MiB.
		slack = 4 << 20
	)
	ctx := context.Background()
	clk := clock.NewMock()
	s := newStore(t, memstore.Options{
		Clock: clk, Retention: 10 * time.Second})
	patch := metadata.Map{"k": "v"}
	set := func(metadata.Map) (metadata.Map, error) { return patch, nil }

	var before runtime.MemStats
	for i := range updates {
		// Move the clock now and then: each Add sleeps a millisecond.
		if i%perTick == 0 {
			clk.Add(time.Second)
		}
		err := s.Update(ctx, "u", "logout-"+strconv.Itoa(i), set)
		if err != nil {
			t.Fatalf("Update %d = %v", i, err)
		}
		if i == mark {
			runtime.GC()
			runtime.ReadMemStats(&before)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > slack {
		t.Errorf("heap grew by %d bytes from update %d to %d, want at "+
			"most %d", grew, mark, updates, slack)
	}

	// At most three retention periods of receipts are held.
	if got, most := s.ReceiptsHeld(), 3*10*perTick; got > most {
		t.Errorf("ReceiptsHeld() = %d, want at most %d", got, most)
	}
	if ok, _ := s.HasReceipt(ctx, "u", "logout-0"); ok {
		t.Errorf("HasReceipt(logout-0) = true long after retention")
	}
}

// TestIdleUsersReceiptsForgotten has users write once and never again:
// their receipts must still be dropped, by the writes of other users.
func TestIdleUsersReceiptsForgotten(t *testing.T) {
	const idle = 1000
	ctx := context.Background()
	clk := clock.NewMock()
	s := memstore.New(memstore.Options{Clock: clk, Retention: time.Minute})
	write := func(id string) {
		t.Helper()
		if err := s.Put(ctx, id, nil); err != nil {
			t.Fatalf("Put(%s) = %v", id, err)
		}
		if err := s.Update(ctx, id, "r1", increment); err != nil {
			t.Fatalf("Update(%s) = %v", id, err)
		}
	}
	for i := range idle {
		write("idle" + strconv.Itoa(i))
	}
	if got := s.ReceiptsHeld(); got != idle {
		t.Fatalf("ReceiptsHeld() = %d, want %d", got, idle)
	}

	// Three periods on, one active user on each shard writes.
	clk.Add(3 * time.Minute)
	covered := make(map[int]bool)
	for i := 0; len(covered) < memstore.Shards; i++ {
		id := "active" + strconv.Itoa(i)
		if sh := s.ShardOf(id); !covered[sh] {
			covered[sh] = true
			write(id)
		}
	}
	if got := s.ReceiptsHeld(); got != memstore.Shards {
		t.Errorf("ReceiptsHeld() = %d, want %d (the active users' only)",
			got, memstore.Shards)
	}
}

func TestPutReplaces(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, memstore.Options{})
	if err := s.Put(ctx, "u", metadata.Map{"a": "x", "b": "y"}); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if err := s.Put(ctx, "u", metadata.Map{"c": "z"}); err != nil {
		t.Fatalf("Put = %v", err)
	}
	got, err := s.Get(ctx, "u")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if len(got) != 1 || got["c"] != "z" {
		t.Errorf("Get = %v, want map[c:z]", got)
	}
}

func TestUpdateKeepsNoHandle(t *testing.T) {
	// Changing a patch after Update must not change the store.
	ctx := context.Background()
	s := newStore(t, memstore.Options{})
	list := []any{"a"}
	patch := metadata.Map{"l": list}
	set := func(metadata.Map) (metadata.Map, error) { return patch, nil }
	if err := s.Update(ctx, "u", "", set); err != nil {
		t.Fatalf("Update = %v", err)
	}
	list[0] = "changed"
	patch["l"] = "changed"

	got, err := s.Get(ctx, "u")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if l, ok := got["l"].([]any); !ok || len(l) != 1 || l[0] != "a" {
		t.Errorf("Get()[l] = %#v, want []any{\"a\"}", got["l"])
	}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, memstore.Options{
		Limits: metadata.Limits{MaxBytes: 20}})
	ok := func(metadata.Map) (metadata.Map, error) {
		return metadata.Map{"a": "0123456789"}, nil // {"a":"0123456789"}
	}
	if err := s.Update(ctx, "u", "", ok); err != nil {
		t.Errorf("Update of 18 bytes = %v", err)
	}
	tooBig := func(metadata.Map) (metadata.Map, error) {
		return metadata.Map{"b": 1}, nil
	}
	if err := s.Update(ctx, "u", "", tooBig); !errors.Is(err,
		metadata.ErrTooLarge) {
		t.Errorf("Update of 24 bytes = %v, want %v", err,
			metadata.ErrTooLarge)
	}
}

func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, memstore.Options{})
	stored := metadata.Map{
		"last_logout_at":            "2026-05-20T10:00:00.000Z",
		"last_session_duration_sec": int64(7200),
		"session_count":             int64(3),
		"total_session_seconds":     int64(9000),
		"plan":                      "pro",
	}
	if err := s.Put(ctx, "u", stored); err != nil {
		b.Fatal(err)
	}
	patch := metadata.Map{"session_count": int64(4)}
	set := func(metadata.Map) (metadata.Map, error) { return patch, nil }
	receipts := make([]string, b.N)
	for i := range receipts {
		receipts[i] = "r" + strconv.Itoa(i)
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Update(ctx, "u", receipts[i], set); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSizeKeptAcrossWrites checks the size the store keeps of each user,
// which it updates from each patch alone: after writes that add,
// replace and delete keys, a write that reaches the limit exactly is
// stored, and one a byte over it is refused.
func TestSizeKeptAcrossWrites(t *testing.T) {
	const limit = 200
	ctx := context.Background()
	s := newStore(t, memstore.Options{Limits: metadata.Limits{MaxBytes: limit}})
	writes := []metadata.Map{
		{"a": "first", "b": int64(12), "o": map[string]any{"x": []any{1.5}}},
		{"a": "<replaced & escaped>"},
		{"b": nil, "c": true},
		{"o": nil},
	}
	for i, p := range writes {
		if err := s.Update(ctx, "u", "", constant(p)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := s.Put(ctx, "v", metadata.Map{"a": "first", "z": nil}); err != nil {
		t.Fatalf("Put(v) = %v", err)
	}

	for _, user := range []string{"u", "v"} {
		stored, err := s.Get(ctx, user)
		if err != nil {
			t.Fatal(err)
		}

		// pad fills the stored value up to limit+over bytes.
		pad := func(over int) metadata.Map {
			room := limit - metadata.EncodedSize(stored) -
				len(`,"pad":""`) + over
			return metadata.Map{"pad": strings.Repeat("p", room)}
		}
		err = s.Update(ctx, user, "", constant(pad(1)))
		if !errors.Is(err, metadata.ErrTooLarge) {
			t.Errorf("%s: a byte over the limit: %v, want ErrTooLarge",
				user, err)
		}
		if err := s.Update(ctx, user, "", constant(pad(0))); err != nil {
			t.Errorf("%s: at the limit exactly: %v, want stored", user, err)
		}
	}
}

// constant returns an update function that writes p.
func constant(p metadata.Map) metadata.UpdateFunc {
	return func(metadata.Map) (metadata.Map, error) { return p, nil }
}
