package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logoutflow/logoutflow/metadata"
)

// testGuarded checks a store's [metadata.GuardedUpdater], when it has
// one: with its guard not recorded, a guarded write is UpdateView,
// receipt and duplicate included; with the guard recorded, it is barred,
// before its receipt counts, and leaves no value and no receipt; its
// function works on the stored value whatever Expect guesses, and the
// store leaves Expect as it was; an empty guard bars nothing and a nil
// function records the receipt alone; unknown users and cancelled
// contexts are refused; concurrent writes with stale guesses count once
// each, and concurrent repeats after the guard are all barred.
func testGuarded(t *testing.T, s Store) {
	g, ok := s.(metadata.GuardedUpdater)
	if !ok {
		t.Skip("the store is no metadata.GuardedUpdater")
	}

	// With no guard recorded, a guarded write is UpdateView.
	t.Run("unbarred", func(t *testing.T) { guardedUnbarred(t, s, g) })

	// The recorded guard bars the write, before its receipt does.
	t.Run("barred", func(t *testing.T) { guardedBarred(t, s, g) })

	// The function sees the stored value, whatever Expect guesses.
	t.Run("guesses", func(t *testing.T) { guardedGuesses(t, s, g) })

	// Only the stored value can make the function or its patch fail.
	t.Run("failures", func(t *testing.T) { guardedFailures(t, s, g) })

	// An empty guard bars nothing; a nil function only records.
	t.Run("zero values", func(t *testing.T) { guardedZero(t, s, g) })

	// Unknown users and cancelled contexts leave nothing behind.
	t.Run("refused", func(t *testing.T) { guardedRefused(t, s, g) })

	// Concurrent writes with a stale guess count once each.
	t.Run("concurrent", func(t *testing.T) { guardedConcurrent(t, s, g) })

	// Concurrent repeats after the guard are all barred.
	t.Run("after the guard", func(t *testing.T) {
		guardedAfterGuard(t, s, g)
	})
}

// viewIncrement adds one to the counter "n", as increment does, reading
// it through a view.
func viewIncrement(v metadata.View) (metadata.Map, error) {
	n, _ := v.Get("n")
	cur, _ := metadata.Int(n)
	return metadata.Map{"n": cur + 1}, nil
}

// wantReceipt checks that HasReceipt reports want for the user's
// receipt r.
func wantReceipt(t *testing.T, s Store, id, r string, want bool) {
	t.Helper()
	ok, err := s.HasReceipt(context.Background(), id, r)
	if ok != want || err != nil {
		t.Errorf("HasReceipt(%q) = %t, %v; want %t, nil", r, ok, err, want)
	}
}

// guardRecorders are the ways a guard gets recorded: by an Update that
// writes nothing, and by RecordReceipt where the store has it.
var guardRecorders = []struct {
	name   string
	record func(t *testing.T, s Store, id, r string)
}{
	{"recorded by Update", func(t *testing.T, s Store, id, r string) {
		t.Helper()
		if err := set(context.Background(), s, id, r, nil); err != nil {
			t.Fatalf("Update(%q) with no patch = %v", r, err)
		}
	}},
	{"recorded by RecordReceipt", func(t *testing.T, s Store, id, r string) {
		t.Helper()
		rr, ok := s.(metadata.ReceiptRecorder)
		if !ok {
			t.Skip("the store is no metadata.ReceiptRecorder")
		}
		if err := rr.RecordReceipt(context.Background(), id, r); err != nil {
			t.Fatalf("RecordReceipt(%q) = %v", r, err)
		}
	}},
}

// guardedUnbarred checks a guarded write whose guard is not recorded: it
// merges its patch and records its receipt, as UpdateView does, and its
// repeat is a duplicate that changes nothing, whatever it guesses.
func guardedUnbarred(t *testing.T, s Store, g metadata.GuardedUpdater) {
	ctx := context.Background()
	stored := metadata.Map{"n": 1, "kept": "yes"}
	id := newUser(t, s, stored)

	// The write applies and records its receipt, not its guard.
	u := metadata.GuardedUpdate{UserID: id, Receipt: "r1", Guard: "end",
		Expect: metadata.Clone(stored), Fn: viewIncrement}
	if err := g.UpdateGuarded(ctx, u); err != nil {
		t.Fatalf("UpdateGuarded = %v", err)
	}
	want := metadata.Map{"n": 2, "kept": "yes"}
	if d := diff(want, get(t, s, id)); d != "" {
		t.Errorf("stored, mismatch (-want +got):\n%s", d)
	}
	wantReceipt(t, s, id, "r1", true)
	wantReceipt(t, s, id, "end", false)

	// Its repeat is a duplicate, guessing the value it left or the one
	// before.
	for _, expect := range []metadata.Map{want, stored} {
		u.Expect = metadata.Clone(expect)
		err := g.UpdateGuarded(ctx, u)
		if !errors.Is(err, metadata.ErrDuplicate) {
			t.Errorf("UpdateGuarded again, Expect %v = %v, want %v",
				expect, err, metadata.ErrDuplicate)
		}
	}
	if d := diff(want, get(t, s, id)); d != "" {
		t.Errorf("stored after the repeats, mismatch (-want +got):\n%s", d)
	}
}

// guardedBarred checks writes that the recorded guard bars, however it
// was recorded: the error wraps ErrBarred, nothing is stored, the
// write's receipt stays free for a later write, and the guard bars
// before a receipt recorded too makes the write a duplicate.
func guardedBarred(t *testing.T, s Store, g metadata.GuardedUpdater) {
	ctx := context.Background()
	for _, rec := range guardRecorders {
		t.Run(rec.name, func(t *testing.T) {
			stored := metadata.Map{"n": 1}
			id := newUser(t, s, stored)
			rec.record(t, s, id, "end")

			// Barred, whether the guess is right or not.
			for _, expect := range []metadata.Map{{"n": 1}, nil} {
				err := g.UpdateGuarded(ctx, metadata.GuardedUpdate{
					UserID: id, Receipt: "r1", Guard: "end",
					Expect: expect, Fn: viewIncrement})
				if !errors.Is(err, metadata.ErrBarred) {
					t.Errorf("UpdateGuarded, Expect %v = %v, want %v",
						expect, err, metadata.ErrBarred)
				}
			}
			if d := diff(stored, get(t, s, id)); d != "" {
				t.Errorf("stored, mismatch (-want +got):\n%s", d)
			}
			wantReceipt(t, s, id, "r1", false)

			// The barred write's receipt is free for a plain Update.
			if err := s.Update(ctx, id, "r1", increment); err != nil {
				t.Errorf("Update(r1) after the barred write = %v", err)
			}

			// With the guard and the receipt both recorded, the guard
			// bars.
			err := g.UpdateGuarded(ctx, metadata.GuardedUpdate{
				UserID: id, Receipt: "r1", Guard: "end",
				Expect: metadata.Map{"n": 2}, Fn: viewIncrement})
			if !errors.Is(err, metadata.ErrBarred) {
				t.Errorf("UpdateGuarded with guard and receipt recorded "+
					"= %v, want %v", err, metadata.ErrBarred)
			}
			if d := diff(metadata.Map{"n": 2}, get(t, s, id)); d != "" {
				t.Errorf("stored at the end, mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// guardedGuesses checks that Expect is only a guess: right, stale,
// missing, for a user with nothing stored, or no JSON at all, the write
// is the function's on the stored value, merged into the stored value,
// and the store leaves Expect as it was.
func guardedGuesses(t *testing.T, s Store, g metadata.GuardedUpdater) {
	ctx := context.Background()
	tests := []struct {
		name                 string
		stored, expect, want metadata.Map
	}{
		{"right",
			metadata.Map{"n": 5, "o": map[string]any{"k": "v"}},
			metadata.Map{"n": 5, "o": map[string]any{"k": "v"}},
			metadata.Map{"n": 6, "o": map[string]any{"k": "v"}}},
		{"stale",
			metadata.Map{"n": 5}, metadata.Map{"n": 2},
			metadata.Map{"n": 6}},
		// The patch is merged into what is stored, not into the guess.
		{"lacks a stored key",
			metadata.Map{"n": 5, "kept": "yes"}, metadata.Map{"n": 5},
			metadata.Map{"n": 6, "kept": "yes"}},
		{"holds a key not stored",
			metadata.Map{"n": 5}, metadata.Map{"n": 5, "gone": "yes"},
			metadata.Map{"n": 6}},
		{"nil for a user with data",
			metadata.Map{"n": 5}, nil,
			metadata.Map{"n": 6}},
		{"empty for a user with data",
			metadata.Map{"n": 5}, metadata.Map{},
			metadata.Map{"n": 6}},
		{"data for a user with nothing stored",
			nil, metadata.Map{"n": 5},
			metadata.Map{"n": 1}},
		// A guess is never stored, so it need not be valid.
		{"not JSON",
			metadata.Map{"n": 5}, metadata.Map{"n": 5, "nan": math.NaN()},
			metadata.Map{"n": 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := newUser(t, s, tc.stored)
			before := metadata.Clone(tc.expect)
			err := g.UpdateGuarded(ctx, metadata.GuardedUpdate{
				UserID: id, Receipt: "r1", Guard: "end",
				Expect: tc.expect, Fn: viewIncrement})
			if err != nil {
				t.Fatalf("UpdateGuarded = %v", err)
			}
			if d := diff(tc.want, get(t, s, id)); d != "" {
				t.Errorf("stored, mismatch (-want +got):\n%s", d)
			}

			// Exactly as it was: same types, same NaN.
			d := cmp.Diff(before, tc.expect, cmpopts.EquateNaNs())
			if d != "" {
				t.Errorf("Expect after the call, mismatch (-want +got):\n%s",
					d)
			}
		})
	}
}

// guardedFailures checks that what the function makes of the guess
// decides nothing: its error, an oversized merge or an invalid patch
// aborts the write when it comes from the stored value, and the write
// applies when only the guess gives it.
func guardedFailures(t *testing.T, s Store, g metadata.GuardedUpdater) {
	ctx := context.Background()
	errPicky := errors.New("storetest: bad value")
	big := strings.Repeat("b", metadata.DefaultMaxBytes/2)

	// picky counts, failing on a value that holds "bad", copying "big"
	// (the copy and the original outgrow the limit), and writing a NaN
	// for "invalid".
	picky := func(v metadata.View) (metadata.Map, error) {
		if _, ok := v.Get("bad"); ok {
			return nil, errPicky
		}
		patch, _ := viewIncrement(v)
		if b, ok := v.Get("big"); ok {
			patch["copy"] = b
		}
		if _, ok := v.Get("invalid"); ok {
			patch["nan"] = math.NaN()
		}
		return patch, nil
	}

	// Every row stores n 1: a write that applies leaves n 2.
	tests := []struct {
		name           string
		stored, expect metadata.Map
		err            error // nil: the write applies
	}{
		{"fails on the stored value",
			metadata.Map{"n": 1, "bad": true},
			metadata.Map{"n": 1, "bad": true}, errPicky},
		{"fails on the stored value, not on the guess",
			metadata.Map{"n": 1, "bad": true},
			metadata.Map{"n": 1}, errPicky},
		{"fails on the guess only",
			metadata.Map{"n": 1},
			metadata.Map{"n": 1, "bad": true}, nil},
		{"too large on the stored value",
			metadata.Map{"n": 1, "big": big},
			metadata.Map{"n": 1, "big": big}, metadata.ErrTooLarge},
		{"too large on the guess only",
			metadata.Map{"n": 1},
			metadata.Map{"n": 1, "big": big}, nil},
		{"invalid on the stored value",
			metadata.Map{"n": 1, "invalid": true},
			metadata.Map{"n": 1, "invalid": true}, metadata.ErrInvalidPatch},
		{"invalid on the guess only",
			metadata.Map{"n": 1},
			metadata.Map{"n": 1, "invalid": true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := newUser(t, s, tc.stored)
			err := g.UpdateGuarded(ctx, metadata.GuardedUpdate{
				UserID: id, Receipt: "r1", Guard: "end",
				Expect: tc.expect, Fn: picky})
			if (err == nil) != (tc.err == nil) || !errors.Is(err, tc.err) {
				t.Errorf("UpdateGuarded = %v, want %v", err, tc.err)
			}

			// A refused write changes nothing and records nothing.
			want := tc.stored
			if tc.err == nil {
				want = metadata.Clone(tc.stored)
				want["n"] = 2
			}
			if d := diff(want, get(t, s, id)); d != "" {
				t.Errorf("stored, mismatch (-want +got):\n%s", d)
			}
			wantReceipt(t, s, id, "r1", tc.err == nil)
		})
	}
}

// guardedZero checks the zero values of a guarded write's parts: an
// empty guard bars nothing and an empty receipt records nothing, so
// that such a write applies every time; a nil function records the
// receipt, once, and writes nothing, and is barred as any write is.
func guardedZero(t *testing.T, s Store, g metadata.GuardedUpdater) {
	ctx := context.Background()
	id := newUser(t, s, metadata.Map{"n": 1})

	// No guard, no receipt, twice: both apply.
	for range 2 {
		err := g.UpdateGuarded(ctx, metadata.GuardedUpdate{
			UserID: id, Expect: metadata.Map{"n": 1}, Fn: viewIncrement})
		if err != nil {
			t.Errorf("UpdateGuarded with no guard, no receipt = %v", err)
		}
	}
	want := metadata.Map{"n": 3}
	if d := diff(want, get(t, s, id)); d != "" {
		t.Errorf("stored, mismatch (-want +got):\n%s", d)
	}
	wantReceipt(t, s, id, "", false)

	// A nil function records the receipt, once, and writes nothing.
	u := metadata.GuardedUpdate{UserID: id, Receipt: "r1", Guard: "end",
		Expect: metadata.Map{"n": 3}}
	if err := g.UpdateGuarded(ctx, u); err != nil {
		t.Errorf("UpdateGuarded with a nil function = %v", err)
	}
	err := g.UpdateGuarded(ctx, u)
	if !errors.Is(err, metadata.ErrDuplicate) {
		t.Errorf("UpdateGuarded with a nil function again = %v, want %v",
			err, metadata.ErrDuplicate)
	}
	if d := diff(want, get(t, s, id)); d != "" {
		t.Errorf("stored after a nil function, mismatch (-want +got):\n%s",
			d)
	}
	wantReceipt(t, s, id, "r1", true)

	// Barred, a nil function records nothing either.
	if err := set(ctx, s, id, "end", nil); err != nil {
		t.Fatalf("Update(end) with no patch = %v", err)
	}
	u.Receipt = "r2"
	if err := g.UpdateGuarded(ctx, u); !errors.Is(err, metadata.ErrBarred) {
		t.Errorf("UpdateGuarded with a nil function, barred = %v, want %v",
			err, metadata.ErrBarred)
	}
	wantReceipt(t, s, id, "r2", false)
}

// guardedRefused checks the writes a store refuses whatever is stored:
// an unknown user's, and one whose context is cancelled before the call
// or while the function runs; they store nothing and record nothing,
// and a retry then applies.
func guardedRefused(t *testing.T, s Store, g metadata.GuardedUpdater) {
	ctx := context.Background()

	// An unknown user is not found, whatever the guess.
	missing := "storetest-missing-" + rand.Text()
	for _, expect := range []metadata.Map{nil, {"n": 1}} {
		err := g.UpdateGuarded(ctx, metadata.GuardedUpdate{
			UserID: missing, Receipt: "r1", Guard: "end",
			Expect: expect, Fn: viewIncrement})
		if !errors.Is(err, metadata.ErrUserNotFound) {
			t.Errorf("UpdateGuarded(unknown user), Expect %v = %v, want %v",
				expect, err, metadata.ErrUserNotFound)
		}
	}
	wantReceipt(t, s, missing, "r1", false)

	// A cancelled context, before the call or while the function runs,
	// leaves nothing behind.
	cancelBefore := func(cancel context.CancelFunc) metadata.ViewFunc {
		cancel()
		return viewIncrement
	}
	cancelInFn := func(cancel context.CancelFunc) metadata.ViewFunc {
		return func(v metadata.View) (metadata.Map, error) {
			cancel()
			return viewIncrement(v)
		}
	}
	tests := []struct {
		name string
		fn   func(cancel context.CancelFunc) metadata.ViewFunc // to run
	}{
		{"cancelled before the call", cancelBefore},
		{"cancelled while fn runs", cancelInFn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored := metadata.Map{"n": 1}
			id := newUser(t, s, stored)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			err := g.UpdateGuarded(cctx, metadata.GuardedUpdate{
				UserID: id, Receipt: "r1", Guard: "end",
				Expect: metadata.Map{"n": 1}, Fn: tc.fn(cancel)})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("UpdateGuarded = %v, want %v", err,
					context.Canceled)
			}
			if d := diff(stored, get(t, s, id)); d != "" {
				t.Errorf("stored, mismatch (-want +got):\n%s", d)
			}
			wantReceipt(t, s, id, "r1", false)

			// The write was not half done: its retry applies.
			err = g.UpdateGuarded(ctx, metadata.GuardedUpdate{
				UserID: id, Receipt: "r1", Guard: "end",
				Expect: metadata.Map{"n": 1}, Fn: viewIncrement})
			if err != nil {
				t.Errorf("retried UpdateGuarded = %v", err)
			}
			if d := diff(metadata.Map{"n": 2}, get(t, s, id)); d != "" {
				t.Errorf("stored after the retry, mismatch (-want +got):\n%s",
					d)
			}
		})
	}
}

// guardedConcurrent runs guarded increments of one user from many
// goroutines at once, each with a receipt and a guard of its own, the
// guard never recorded, and all with the guess of the value before
// them: every increment counts once.
func guardedConcurrent(t *testing.T, s Store, g metadata.GuardedUpdater) {
	const workers, each = 16, 50
	ctx := context.Background()
	id := newUser(t, s, metadata.Map{"n": 0})

	// One guess for all: the store must only read it.
	stale := metadata.Map{"n": 0}
	for _, err := range updateAll(workers, each, func(w, i int) error {
		return g.UpdateGuarded(ctx, metadata.GuardedUpdate{
			UserID:  id,
			Receipt: fmt.Sprintf("w%d/%d", w, i),
			Guard:   fmt.Sprintf("g-%d-%d", w, i),
			Expect:  stale,
			Fn:      viewIncrement,
		})
	}) {
		t.Errorf("UpdateGuarded = %v", err)
	}

	if n, _ := metadata.Int(get(t, s, id)["n"]); n != workers*each {
		t.Errorf("n = %d, want %d", n, workers*each)
	}
	wantReceipt(t, s, id, "w0/0", true)
	wantReceipt(t, s, id, fmt.Sprintf("w%d/%d", workers-1, each-1), true)
	wantReceipt(t, s, id, "g-0-0", false)
}

// guardedAfterGuard records the guard, then repeats one write from many
// goroutines at once, guessing right: every repeat is barred, and none
// stores or records anything.
func guardedAfterGuard(t *testing.T, s Store, g metadata.GuardedUpdater) {
	const workers = 8
	ctx := context.Background()
	stored := metadata.Map{"n": 1}
	id := newUser(t, s, stored)
	if err := set(ctx, s, id, "end", nil); err != nil {
		t.Fatalf("Update(end) with no patch = %v", err)
	}

	// Every repeat must fail, barred: updateAll returns no nil errors.
	errs := updateAll(workers, 1, func(int, int) error {
		return g.UpdateGuarded(ctx, metadata.GuardedUpdate{
			UserID: id, Receipt: "late", Guard: "end",
			Expect: stored, Fn: viewIncrement})
	})
	barred := 0
	for _, err := range errs {
		if errors.Is(err, metadata.ErrBarred) {
			barred++
			continue
		}
		t.Errorf("UpdateGuarded = %v, want %v", err, metadata.ErrBarred)
	}
	if barred != workers {
		t.Errorf("barred %d of %d repeats, want all", barred, workers)
	}

	if d := diff(stored, get(t, s, id)); d != "" {
		t.Errorf("stored, mismatch (-want +got):\n%s", d)
	}
	wantReceipt(t, s, id, "late", false)
}
