package flow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
)

// fault is what faultStore does to one call.
type fault int

const (
	pass       fault = iota // call the store
	failBefore              // fail without calling the store
	failAfter               // call the store, then report a failure
	hang                    // wait for the context to end
	// late waits 1.5 times the deadline, ignoring the context, then
	// calls the store.
	late
	panics  // panic
	corrupt // fail with metadata.ErrCorrupt, calling nothing
)

// errCorrupt is the error of the corrupt fault.
var errCorrupt = fmt.Errorf("faultStore: %w", metadata.ErrCorrupt)

// faultStore wraps a store and injects faults: fault picks the fault of
// each Update by its receipt, hasErr fails every HasReceipt, and hung,
// when set, is called as a hang begins.
type faultStore struct {
	metadata.Store

	mu     sync.Mutex
	fault  func(receipt string) fault
	hasErr error
	hung   func()
}

var _ metadata.Store = (*faultStore)(nil)

func (s *faultStore) Update(ctx context.Context, userID, receipt string,
	fn metadata.UpdateFunc) error {

	s.mu.Lock()
	f := pass
	if s.fault != nil {
		f = s.fault(receipt)
	}
	s.mu.Unlock()

	switch f {
	case failBefore:
		return errInjected
	case failAfter:
		if err := s.Store.Update(ctx, userID, receipt, fn); err != nil {
			return err
		}
		return errInjected
	case hang:
		if s.hung != nil {
			s.hung()
		}
		<-ctx.Done()
		return ctx.Err()
	case panics:
		panic("store down")
	case corrupt:
		return errCorrupt
	case late:
		// In a synctest bubble: fake time.
		// The write lands after the step's deadline, but within the
		// grace the step gives a write under way (one more timeout).
		<-time.After(3 * flow.DefaultTimeout / 2)
		return s.Store.Update(context.WithoutCancel(ctx), userID,
			receipt, fn)
	}
	return s.Store.Update(ctx, userID, receipt, fn)
}

func (s *faultStore) HasReceipt(ctx context.Context, userID,
	receipt string) (bool, error) {

	if s.hasErr != nil {
		return false, s.hasErr
	}
	return s.Store.HasReceipt(ctx, userID, receipt)
}

// once returns a fault function that injects f into the first Update
// whose receipt starts with prefix, and passes every other call.
func once(prefix string, f fault) func(string) fault {
	done := false
	return func(receipt string) fault {
		if done || !strings.HasPrefix(receipt, prefix) {
			return pass
		}
		done = true
		return f
	}
}

// faulty returns a fixture whose runner uses a faultStore on its memory
// store, running count then RevokeSession.
func faulty(tb testing.TB) (*fixture, *faultStore) {
	tb.Helper()
	fs := new(faultStore)
	fx := setup(tb, flow.Options{Store: fs}, counter("count"))
	fs.Store = fx.store
	fx.publish(tb, "count")
	return fx, fs
}

// runRevokeFailsOnce makes fx's revoker fail its first call, runs the
// logout of s1 and checks that the run fails with ErrRevoke.
func runRevokeFailsOnce(t *testing.T, fx *fixture) *flow.Result {
	t.Helper()
	fails := 1
	fx.rev.hook = func(context.Context, string, string) error {
		if fails > 0 {
			fails--
			return errInjected
		}
		return nil
	}
	res, err := fx.runner.Run(t.Context(), event("s1"))
	if !errors.Is(err, flow.ErrRevoke) || !errors.Is(err, errInjected) {
		t.Fatalf("Run() error = %v, want ErrRevoke and errInjected", err)
	}
	return res
}

func TestStoreFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault func(string) fault
		want  int64 // stored n after the run
		err   error // in the step's error
		call  error // in the write's recorded call; nil: none recorded

		// retry: the write failed in a way that may pass, so the end
		// of the session is left unrecorded and running the event
		// again completes it; after: stored n after that second run.
		retry bool
		after int64
	}{
		{"update fails", once("s1/count/", failBefore), 0,
			errInjected, errInjected, true, 1},
		// The write's receipt tells the retry it was applied already.
		{"update applies, then fails", once("s1/count/", failAfter), 1,
			errInjected, errInjected, true, 1},
		// The panic ends the action, which then fails; the write never
		// returned, so it has no call, and the run cannot tell that it
		// failed: the session's end is recorded.
		{"update panics", once("s1/count/", panics), 0,
			flow.ErrPanic, nil, false, 0},
		// No retry mends a value the store cannot read: the session's
		// end is recorded, and it is not run again.
		{"stored value corrupt", once("s1/count/", corrupt), 0,
			metadata.ErrCorrupt, metadata.ErrCorrupt, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx, fs := faulty(t)
			fs.fault = tc.fault

			// The failure is in the result; the session is revoked.
			want := []stepSummary{failed("count"), revoked}
			res := runS1(t, fx, want)
			if err := stepErr(t, res, "count"); !errors.Is(err, tc.err) {
				t.Errorf("step error = %v, want %v", err, tc.err)
			}
			calls := res.Steps[0].Calls
			switch {
			case tc.call == nil && len(calls) != 0:
				t.Errorf("calls = %v, want none", calls)
			case tc.call != nil && (len(calls) != 1 ||
				!errors.Is(calls[0].Err, tc.call)):
				t.Errorf("calls = %v, want one failing with %v", calls,
					tc.call)
			}
			if diff := cmp.Diff([]string{"u1/s1"}, fx.revoked()); diff != "" {
				t.Errorf("revoked mismatch (-want +got):\n%s", diff)
			}
			if got := fx.count(t); got != tc.want {
				t.Errorf("stored n = %d, want %d", got, tc.want)
			}

			if res.Retry != tc.retry {
				t.Errorf("Result.Retry = %v, want %v", res.Retry, tc.retry)
			}

			// Running the event again completes a run to retry, and is
			// a repeat of one that ended.
			res, err := fx.runner.Run(t.Context(), event("s1"))
			if err != nil || res.Repeat == tc.retry || res.Retry {
				t.Errorf("second Run() = %+v, %v; want Repeat %v and no "+
					"Retry", res, err, !tc.retry)
			}
			if got := fx.count(t); got != tc.after {
				t.Errorf("stored n after the second run = %d, want %d",
					got, tc.after)
			}

			// Either way the session has ended now.
			res, err = fx.runner.Run(t.Context(), event("s1"))
			if err != nil || !res.Repeat {
				t.Errorf("third Run() = %+v, %v; want a repeat", res, err)
			}
			if got := fx.count(t); got != tc.after {
				t.Errorf("stored n after the third run = %d, want %d",
					got, tc.after)
			}
		})
	}
}

func TestAmbiguousWriteRetriedCountsOnce(t *testing.T) {
	fx, fs := faulty(t)

	// The write is stored but reported failed, and the revoker fails:
	// the caller is told to retry.
	fs.fault = once("s1/count/", failAfter)
	runRevokeFailsOnce(t, fx)
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n after the first run = %d, want 1", got)
	}

	// The retry finds the write's receipt: it counts nothing again.
	res, err := fx.runner.Run(t.Context(), event("s1"))
	if err != nil {
		t.Fatalf("retried Run() error: %v", err)
	}
	want := []stepSummary{ok("count"), revoked}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if got := res.Steps[0].AlreadyApplied; got != 1 {
		t.Errorf("AlreadyApplied = %d, want 1", got)
	}
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n after the retry = %d, want 1", got)
	}
	if got := len(fx.revoked()); got != 2 {
		t.Errorf("revoker calls = %d, want 2", got)
	}

	// The session has ended now: a third logout is a repeat.
	res, err = fx.runner.Run(t.Context(), event("s1"))
	if err != nil || !res.Repeat {
		t.Errorf("third Run() = %+v, %v; want a repeat", res, err)
	}
}

func TestRevokerFailsOnceThenRetrySucceeds(t *testing.T) {
	fx, _ := faulty(t)
	res := runRevokeFailsOnce(t, fx)
	want := []stepSummary{ok("count"),
		{"RevokeSession", "", flow.StatusFailed, true}}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}

	// The retry revokes; the write's receipt keeps the count at one.
	res, err := fx.runner.Run(t.Context(), event("s1"))
	if err != nil || res.Repeat {
		t.Fatalf("retried Run() = %+v, %v; want a full run", res, err)
	}
	if diff := cmp.Diff([]stepSummary{ok("count"), revoked},
		summarize(res)); diff != "" {
		t.Errorf("retried steps mismatch (-want +got):\n%s", diff)
	}
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n = %d, want 1", got)
	}
	if diff := cmp.Diff([]string{"u1/s1", "u1/s1"}, fx.revoked()); diff != "" {
		t.Errorf("revoker calls mismatch (-want +got):\n%s", diff)
	}
}

// TestEndReceiptFailure makes the record of a session's end fail, or
// panic, with the end recorded before Run returns or after: the session
// is revoked, the failure is a warning only, and a repeat runs again but
// counts nothing twice.
func TestEndReceiptFailure(t *testing.T) {
	tests := []struct {
		name     string
		f        fault
		deferEnd bool
	}{
		{"fails", failBefore, false},
		{"panics", panics, false},
		{"fails after Run", failBefore, true},
		{"panics after Run", panics, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := new(records)
			fs := new(faultStore)
			fx := setup(t, flow.Options{Store: fs, Logger: slog.New(logs),
				DeferEnd: tc.deferEnd}, counter("count"))
			fs.Store = fx.store
			fx.publish(t, "count")
			fs.fault = once("s1/end", tc.f)

			// The session is revoked: the failure is a warning only.
			res, err := fx.runner.Run(t.Context(), event("s1"))
			if err != nil || res.Repeat || len(res.Failed()) != 0 {
				t.Fatalf("Run() = %+v, %v; want a full run", res, err)
			}
			fx.runner.Wait()
			var warned bool
			for _, l := range logs.all() {
				warned = warned || l.Level == slog.LevelWarn
			}
			if !warned {
				t.Errorf("logs = %v, want a warning", logs.all())
			}

			// A repeat then runs again, but counts nothing twice.
			res, err = fx.runner.Run(t.Context(), event("s1"))
			if err != nil || res.Repeat {
				t.Fatalf("second Run() = %+v, %v; want a full run", res,
					err)
			}
			fx.runner.Wait()
			if got := fx.count(t); got != 1 {
				t.Errorf("stored n = %d, want 1", got)
			}
			if diff := cmp.Diff([]string{"u1/s1", "u1/s1"},
				fx.revoked()); diff != "" {
				t.Errorf("revoker calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReceiptCheckFailureRunsAnyway(t *testing.T) {
	fx, fs := faulty(t)
	fs.hasErr = errInjected
	for _, sid := range []string{"s1", "s1"} {
		res, err := fx.runner.Run(t.Context(), event(sid))
		if err != nil || res.Repeat {
			t.Fatalf("Run() = %+v, %v; want a full run", res, err)
		}
	}
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n = %d, want 1", got)
	}
}

func TestUpdateSlowerThanDeadline(t *testing.T) {
	tests := []struct {
		name  string
		fault fault
		want  int64 // stored n after the run
		retry bool  // Result.Retry: the write may pass when run again
	}{
		{"store gives up at the deadline", hang, 0, true},
		// The run waits for the store call under way, so that the
		// step's record is final, then goes on.
		{"store ignores the deadline and writes late", late, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fx, fs := faulty(t)
				fs.fault = once("s1/count/", tc.fault)

				want := []stepSummary{failed("count"), revoked}
				res := runS1(t, fx, want)
				err := stepErr(t, res, "count")
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("step error = %v, want DeadlineExceeded", err)
				}
				if got := fx.count(t); got != tc.want {
					t.Errorf("stored n = %d, want %d", got, tc.want)
				}
				if diff := cmp.Diff([]string{"u1/s1"},
					fx.revoked()); diff != "" {
					t.Errorf("revoked mismatch (-want +got):\n%s", diff)
				}

				if res.Retry != tc.retry {
					t.Errorf("Result.Retry = %v, want %v", res.Retry,
						tc.retry)
				}

				// Running the event again counts the session once,
				// whichever way the first write went.
				res, err = fx.runner.Run(t.Context(), event("s1"))
				if err != nil || res.Repeat == tc.retry {
					t.Errorf("second Run() = %+v, %v; want Repeat %v",
						res, err, !tc.retry)
				}
				if got := fx.count(t); got != 1 {
					t.Errorf("stored n after the second run = %d, "+
						"want 1", got)
				}
			})
		})
	}
}

func TestCallerCancelsMidRun(t *testing.T) {
	// cancel ends the caller's context from inside the flow, after the
	// count is stored.
	ctx, cancel := context.WithCancel(t.Context())
	stop := fnAction("stop", func(context.Context, *action.Event,
		action.API) error {
		cancel()
		return nil
	})
	fx := setup(t, flow.Options{}, counter("count"), stop,
		counter("after"))
	fx.publish(t, "count", "stop", "after")

	// The run stops: the rest is skipped and the user stays signed in.
	res, err := fx.runner.Run(ctx, event("s1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() error = %v, want context.Canceled", err)
	}
	want := []stepSummary{
		ok("count"), ok("stop"),
		{"RunCustomAction", "after", flow.StatusSkipped, true},
		{"RevokeSession", "", flow.StatusSkipped, true},
	}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if got := fx.revoked(); len(got) != 0 {
		t.Errorf("revoked %v, want none", got)
	}

	// A retry later finishes the logout and counts once.
	res, err = fx.runner.Run(t.Context(), event("s1"))
	if err != nil {
		t.Fatalf("retried Run() error: %v", err)
	}
	if got := fx.count(t); got != 2 {
		// count and after each add 1, once.
		t.Errorf("stored n = %d, want 2", got)
	}
	if got := res.Steps[0].AlreadyApplied; got != 1 {
		t.Errorf("count's AlreadyApplied = %d, want 1", got)
	}
	if diff := cmp.Diff([]string{"u1/s1"}, fx.revoked()); diff != "" {
		t.Errorf("revoked mismatch (-want +got):\n%s", diff)
	}
}

func TestCallerCancelsDuringAWrite(t *testing.T) {
	// The caller gives up while the store call is under way, and the
	// store gives up with it.
	fx, fs := faulty(t)
	ctx, cancel := context.WithCancel(t.Context())
	fs.fault = once("s1/count/", hang)
	fs.hung = cancel

	// The action fails, the run stops before revoking, and says why.
	res, err := fx.runner.Run(ctx, event("s1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() error = %v, want context.Canceled", err)
	}
	want := []stepSummary{failed("count"),
		{"RevokeSession", "", flow.StatusSkipped, true}}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if err := stepErr(t, res, "count"); !errors.Is(err, context.Canceled) {
		t.Errorf("step error = %v, want context.Canceled", err)
	}
	if got := fx.revoked(); len(got) != 0 {
		t.Errorf("revoked %v, want none", got)
	}

	// A retry later signs the user out and counts once.
	res, err = fx.runner.Run(t.Context(), event("s1"))
	if err != nil {
		t.Fatalf("retried Run() error: %v", err)
	}
	if diff := cmp.Diff([]stepSummary{ok("count"), revoked},
		summarize(res)); diff != "" {
		t.Errorf("retried steps mismatch (-want +got):\n%s", diff)
	}
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n = %d, want 1", got)
	}
}
