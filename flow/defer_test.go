package flow_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/flow"
)

// deferred returns a fixture with Options.DeferEnd on a faultStore,
// running count then RevokeSession.
func deferred(tb testing.TB) (*fixture, *faultStore) {
	tb.Helper()
	fs := new(faultStore)
	fx := setup(tb, flow.Options{Store: fs, DeferEnd: true},
		counter("count"))
	fs.Store = fx.store
	fx.publish(tb, "count")
	return fx, fs
}

// TestDeferEndRepeats runs a session's logout, then the same again at
// once and from 8 goroutines: with the end recorded after Run returns,
// the session still counts once and is revoked once.
func TestDeferEndRepeats(t *testing.T) {
	fx, _ := deferred(t)
	res, err := fx.runner.Run(t.Context(), event("s1"))
	if err != nil || res.Repeat || len(res.Failed()) != 0 {
		t.Fatalf("Run() = %+v, %v; want a full run", res, err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			res, err := fx.runner.Run(t.Context(), event("s1"))
			if err != nil || !res.Repeat {
				t.Errorf("repeated Run() = %+v, %v; want a repeat", res,
					err)
			}
		})
	}
	wg.Wait()
	fx.runner.Wait()
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n = %d, want 1", got)
	}
	if diff := cmp.Diff([]string{"u1/s1"}, fx.revoked()); diff != "" {
		t.Errorf("revoked mismatch (-want +got):\n%s", diff)
	}
	done, err := fx.store.HasReceipt(t.Context(), "u1", "s1/end")
	if err != nil || !done {
		t.Errorf("end receipt recorded = %v, %v; want true", done, err)
	}
}

// TestDeferEndDoesNotWait holds the record of the session's end: the
// caller's Run returns without waiting for it, and a repeat of the
// session waits for the record, then runs nothing.
func TestDeferEndDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx, fs := deferred(t)
		fs.fault = once("s1/end", hang)

		start := time.Now()
		res, err := fx.runner.Run(context.Background(), event("s1"))
		if err != nil || res.Repeat || len(res.Failed()) != 0 {
			t.Fatalf("Run() = %+v, %v; want a full run", res, err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("Run() took %v, want no wait for the end record", got)
		}

		// The repeat joins the run, whose record gives up at the
		// runner's timeout; the repeat then runs nothing.
		res, err = fx.runner.Run(context.Background(), event("s1"))
		if err != nil || !res.Repeat {
			t.Errorf("repeated Run() = %+v, %v; want a repeat", res, err)
		}
		if got := time.Since(start); got != flow.DefaultTimeout {
			t.Errorf("repeat returned after %v, want %v", got,
				flow.DefaultTimeout)
		}
		fx.runner.Wait()
		if got := fx.count(t); got != 1 {
			t.Errorf("stored n = %d, want 1", got)
		}
		if diff := cmp.Diff([]string{"u1/s1"}, fx.revoked()); diff != "" {
			t.Errorf("revoked mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestWaitWhileRunning calls Wait from two goroutines while four others
// sign out 250 sessions each with the end recorded after Run, on a
// store without RecordReceipts, which records a batch's ends one by one,
// and on one that records each batch in one call: the race detector
// finds nothing, and a last Wait, once the runs are over, leaves every
// session counted once, revoked once and recorded as ended.
func TestWaitWhileRunning(t *testing.T) {
	const workers, each = 4, 250
	one := func(t *testing.T) (*fixture, func() int) {
		fx, _ := deferred(t)
		return fx, nil
	}
	batches := func(t *testing.T) (*fixture, func() int) {
		fx, bs, _ := batched(t, flow.Options{DeferEndDelay: -1})
		return fx, func() int {
			n := 0
			for _, size := range bs.sizes() {
				n += size
			}
			return n
		}
	}
	stores := []struct {
		name       string
		newFixture func(*testing.T) (*fixture, func() int)
	}{
		{"one by one", one},
		{"batches", batches},
	}
	for _, tc := range stores {
		t.Run(tc.name, func(t *testing.T) {
			fx, batched := tc.newFixture(t)
			var runs, waits sync.WaitGroup
			stop := make(chan struct{})
			for w := range workers {
				runs.Go(func() {
					for i := range each {
						fullRun(t, fx, "s"+strconv.Itoa(w*each+i))
					}
				})
			}
			for range 2 {
				waits.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
							fx.runner.Wait()
						}
					}
				})
			}
			runs.Wait()
			close(stop)
			waits.Wait()
			fx.runner.Wait()

			if got := fx.count(t); got != workers*each {
				t.Errorf("stored n = %d, want %d", got, workers*each)
			}
			if got := len(fx.revoked()); got != workers*each {
				t.Errorf("revoked %d sessions, want %d", got, workers*each)
			}
			if batched != nil && batched() != workers*each {
				t.Errorf("%d ends in batches, want %d", batched(),
					workers*each)
			}
			fx.checkEnded(t, workers*each)
		})
	}
}

// TestWaitWaitsForTheRecord holds the record of a session's end: Wait,
// called from two goroutines, returns when the record gives up at the
// runner's timeout, not before.
func TestWaitWaitsForTheRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx, fs := deferred(t)
		fs.fault = once("s1/end", hang)
		start := time.Now()
		if _, err := fx.runner.Run(context.Background(), event("s1")); err != nil {
			t.Fatalf("Run() error: %v", err)
		}
		var wg sync.WaitGroup
		waited := make([]time.Duration, 2)
		for i := range waited {
			wg.Go(func() {
				fx.runner.Wait()
				waited[i] = time.Since(start)
			})
		}
		wg.Wait()
		want := []time.Duration{flow.DefaultTimeout, flow.DefaultTimeout}
		if diff := cmp.Diff(want, waited); diff != "" {
			t.Errorf("Wait returned after (-want +got):\n%s", diff)
		}
		fx.runner.Wait() // nothing left: returns at once
		if got := time.Since(start); got != flow.DefaultTimeout {
			t.Errorf("last Wait returned after %v, want %v", got,
				flow.DefaultTimeout)
		}
	})
}
