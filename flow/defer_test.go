package flow_test

import (
	"context"
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
