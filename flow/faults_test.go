package flow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
// each write (Update, and guardedFaults' UpdateGuarded) by its receipt,
// hasErr fails every HasReceipt, hasHang makes each wait for its context
// to end, and hung, when set, is called as a hang begins. It notes
// every call it gets, with its receipt, in called.
type faultStore struct {
	metadata.Store

	mu      sync.Mutex
	fault   func(receipt string) fault
	hasErr  error
	hasHang bool // HasReceipt waits for its context to end
	hung    func()
	called  []string // "Method receipt", in order
}

var _ metadata.Store = (*faultStore)(nil)

func (s *faultStore) Update(ctx context.Context, userID, receipt string,
	fn metadata.UpdateFunc) error {

	s.note("Update", receipt)
	return s.inject(ctx, receipt, func(ctx context.Context) error {
		return s.Store.Update(ctx, userID, receipt, fn)
	})
}

// inject does to a write of receipt the fault that s.fault picks; call
// makes the write in the wrapped store.
func (s *faultStore) inject(ctx context.Context, receipt string,
	call func(context.Context) error) error {

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
		if err := call(ctx); err != nil {
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
		return call(context.WithoutCancel(ctx))
	}
	return call(ctx)
}

func (s *faultStore) HasReceipt(ctx context.Context, userID,
	receipt string) (bool, error) {

	s.note("HasReceipt", receipt)
	if s.hasHang {
		<-ctx.Done()
		return false, ctx.Err()
	}
	if s.hasErr != nil {
		return false, s.hasErr
	}
	return s.Store.HasReceipt(ctx, userID, receipt)
}

// note adds a call of method with receipt to s.called.
func (s *faultStore) note(method, receipt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called = append(s.called, method+" "+receipt)
}

// calls returns the calls noted so far, from the n-th on.
func (s *faultStore) calls(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.called[n:])
}

// guardedFaults is a faultStore that is a metadata.GuardedUpdater too,
// for the speculative path, so that the runner's guarded writes meet the
// faults of Update. Like faultStore, it hides the wrapped store's
// optional interfaces: a session's end is recorded through Update.
type guardedFaults struct{ *faultStore }

var _ metadata.GuardedUpdater = guardedFaults{}

// UpdateGuarded calls u.Fn on u.Expect first, as the PostgreSQL store
// computes the patch from the guess before it reaches the database, so
// every fault strikes after it; then it injects the fault of the write,
// as Update does, around the wrapped store's UpdateGuarded. The guess's
// patch and error are dropped, as that store drops them when the stored
// value is not the guess; the wrapped store calls u.Fn again.
func (s guardedFaults) UpdateGuarded(ctx context.Context,
	u metadata.GuardedUpdate) error {

	s.note("UpdateGuarded", u.Receipt)
	if u.Fn != nil {
		_, _ = u.Fn(metadata.ViewOf(u.Expect))
	}
	inner, ok := s.Store.(metadata.GuardedUpdater)
	if !ok {
		return fmt.Errorf("guardedFaults: %T has no UpdateGuarded",
			s.Store)
	}
	return s.inject(ctx, u.Receipt, func(ctx context.Context) error {
		return inner.UpdateGuarded(ctx, u)
	})
}

// path is how a run learns whether its session has ended already.
type path struct {
	name string

	// spec: the flow's first action is pure and the store a
	// metadata.GuardedUpdater, so that the action's first write asks
	// the store, and no HasReceipt before the first block.
	spec bool
}

// paths lists both ways. The fault tests run on each, with the same
// expectations wherever the guarantees are the same.
var paths = []path{{"checked first", false}, {"speculative", true}}

// onPaths runs test as one subtest per path, named for it.
func onPaths(t *testing.T, test func(t *testing.T, p path)) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) { test(t, p) })
	}
}

// faultyFlow returns a fixture whose runner, given opts, uses a
// faultStore on its memory store, running actions then RevokeSession.
// On the speculative path, the store is a guardedFaults and the first
// action is pure.
func faultyFlow(tb testing.TB, p path, opts flow.Options,
	actions ...action.Action) (*fixture, *faultStore) {

	tb.Helper()
	fs := new(faultStore)
	opts.Store = fs
	if p.spec {
		opts.Store = guardedFaults{fs}
		actions = slices.Clone(actions)
		actions[0] = pure(actions[0])
	}
	fx := setup(tb, opts, actions...)
	fs.Store = fx.store
	var names []string
	for _, a := range actions {
		names = append(names, a.Name)
	}
	fx.publish(tb, names...)

	// Every test's first run takes the path: its first store call
	// asks whether the session has ended, alone or in the write.
	first := "HasReceipt s1/end"
	if p.spec {
		first = "UpdateGuarded s1/" + names[0] + "/1"
	}
	tb.Cleanup(func() {
		if got := fs.calls(0); len(got) == 0 || got[0] != first {
			tb.Errorf("store calls = %q, want %q first", got, first)
		}
	})
	return fx, fs
}

// faulty returns a faultyFlow running count then RevokeSession.
func faulty(tb testing.TB, p path) (*fixture, *faultStore) {
	tb.Helper()
	return faultyFlow(tb, p, flow.Options{}, counter("count"))
}

// once returns a fault function that injects f into the first write
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
		fault fault // of count's first write
		want  int64 // stored n after the run
		err   error // in the step's error
		call  error // in the write's recorded call; nil: none recorded

		// retry: the write failed in a way that may pass, so the end
		// of the session is left unrecorded and running the event
		// again completes it; after: stored n after that second run.
		retry bool
		after int64
	}{
		{"update fails", failBefore, 0, errInjected, errInjected, true, 1},
		// The write's receipt tells the retry it was applied already.
		{"update applies, then fails", failAfter, 1, errInjected,
			errInjected, true, 1},
		// The panic ends the action, which then fails; the write never
		// returned, so it has no call, and the run cannot tell that it
		// failed: the session's end is recorded.
		{"update panics", panics, 0, flow.ErrPanic, nil, false, 0},
		// No retry mends a value the store cannot read: the session's
		// end is recorded, and it is not run again.
		{"stored value corrupt", corrupt, 0, metadata.ErrCorrupt,
			metadata.ErrCorrupt, false, 0},
	}
	onPaths(t, func(t *testing.T, p path) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				fx, fs := faulty(t, p)
				fs.fault = once("s1/count/", tc.fault)

				// The failure is in the result; the session is revoked.
				want := []stepSummary{failed("count"), revoked}
				res := runS1(t, fx, want)
				err := stepErr(t, res, "count")
				if !errors.Is(err, tc.err) {
					t.Errorf("step error = %v, want %v", err, tc.err)
				}
				calls := res.Steps[0].Calls
				switch {
				case tc.call == nil && len(calls) != 0:
					t.Errorf("calls = %v, want none", calls)
				case tc.call != nil && (len(calls) != 1 ||
					!errors.Is(calls[0].Err, tc.call)):
					t.Errorf("calls = %v, want one failing with %v",
						calls, tc.call)
				}
				if diff := cmp.Diff([]string{"u1/s1"},
					fx.revoked()); diff != "" {
					t.Errorf("revoked mismatch (-want +got):\n%s", diff)
				}
				if got := fx.count(t); got != tc.want {
					t.Errorf("stored n = %d, want %d", got, tc.want)
				}

				if res.Retry != tc.retry {
					t.Errorf("Result.Retry = %v, want %v", res.Retry,
						tc.retry)
				}

				// The store calls differ: the speculative path asks
				// whether the session has ended in the write, which
				// settles nothing when it fails, so it asks
				// HasReceipt after the step instead of before.
				wantCalls := []string{"HasReceipt s1/end",
					"Update s1/count/1"}
				if p.spec {
					wantCalls = []string{"UpdateGuarded s1/count/1",
						"HasReceipt s1/end"}
				}
				if !tc.retry {
					wantCalls = append(wantCalls, "Update s1/end")
				}
				if diff := cmp.Diff(wantCalls, fs.calls(0)); diff != "" {
					t.Errorf("store calls mismatch (-want +got):\n%s",
						diff)
				}

				// Running the event again completes a run to retry,
				// and is a repeat of one that ended.
				res, err = fx.runner.Run(t.Context(), event("s1"))
				if err != nil || res.Repeat == tc.retry || res.Retry {
					t.Errorf("second Run() = %+v, %v; want Repeat %v "+
						"and no Retry", res, err, !tc.retry)
				}
				if got := fx.count(t); got != tc.after {
					t.Errorf("stored n after the second run = %d, "+
						"want %d", got, tc.after)
				}

				// Either way the session has ended now.
				res, err = fx.runner.Run(t.Context(), event("s1"))
				if err != nil || !res.Repeat {
					t.Errorf("third Run() = %+v, %v; want a repeat",
						res, err)
				}
				if got := fx.count(t); got != tc.after {
					t.Errorf("stored n after the third run = %d, "+
						"want %d", got, tc.after)
				}
			})
		}
	})
}

func TestAmbiguousWriteRetriedCountsOnce(t *testing.T) {
	onPaths(t, func(t *testing.T, p path) {
		fx, fs := faulty(t, p)

		// The write is stored but reported failed, and the revoker
		// fails: the caller is told to retry.
		fs.fault = once("s1/count/", failAfter)
		runRevokeFailsOnce(t, fx)
		if got := fx.count(t); got != 1 {
			t.Errorf("stored n after the first run = %d, want 1", got)
		}

		// The retry finds the write's receipt: it counts nothing again.
		n := len(fs.calls(0))
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

		// The speculative retry finds the receipt in its guarded write,
		// after the update function ran on the guess, so the runner
		// runs the action again, unguarded, and that write finds it.
		wantCalls := []string{"HasReceipt s1/end", "Update s1/count/1",
			"Update s1/end"}
		if p.spec {
			wantCalls = []string{"UpdateGuarded s1/count/1",
				"Update s1/count/1", "Update s1/end"}
		}
		if diff := cmp.Diff(wantCalls, fs.calls(n)); diff != "" {
			t.Errorf("retry's store calls mismatch (-want +got):\n%s",
				diff)
		}

		// The session has ended now: a third logout is a repeat.
		res, err = fx.runner.Run(t.Context(), event("s1"))
		if err != nil || !res.Repeat {
			t.Errorf("third Run() = %+v, %v; want a repeat", res, err)
		}
	})
}

func TestRevokerFailsOnceThenRetrySucceeds(t *testing.T) {
	onPaths(t, func(t *testing.T, p path) {
		fx, _ := faulty(t, p)
		res := runRevokeFailsOnce(t, fx)
		want := []stepSummary{ok("count"),
			{"RevokeSession", "", flow.StatusFailed, true}}
		if diff := cmp.Diff(want, summarize(res)); diff != "" {
			t.Errorf("steps mismatch (-want +got):\n%s", diff)
		}

		// The retry revokes; the write's receipt keeps the count at
		// one.
		res, err := fx.runner.Run(t.Context(), event("s1"))
		if err != nil || res.Repeat {
			t.Fatalf("retried Run() = %+v, %v; want a full run", res,
				err)
		}
		if diff := cmp.Diff([]stepSummary{ok("count"), revoked},
			summarize(res)); diff != "" {
			t.Errorf("retried steps mismatch (-want +got):\n%s", diff)
		}
		if got := fx.count(t); got != 1 {
			t.Errorf("stored n = %d, want 1", got)
		}
		if diff := cmp.Diff([]string{"u1/s1", "u1/s1"},
			fx.revoked()); diff != "" {
			t.Errorf("revoker calls mismatch (-want +got):\n%s", diff)
		}
	})
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
	onPaths(t, func(t *testing.T, p path) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				logs := new(records)
				opts := flow.Options{Logger: slog.New(logs),
					DeferEnd: tc.deferEnd}
				fx, fs := faultyFlow(t, p, opts, counter("count"))
				fs.fault = once("s1/end", tc.f)

				// The session is revoked: the failure is a warning
				// only.
				res, err := fx.runner.Run(t.Context(), event("s1"))
				if err != nil || res.Repeat || len(res.Failed()) != 0 {
					t.Fatalf("Run() = %+v, %v; want a full run", res,
						err)
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
					t.Fatalf("second Run() = %+v, %v; want a full run",
						res, err)
				}
				fx.runner.Wait()
				if got := fx.count(t); got != 1 {
					t.Errorf("stored n = %d, want 1", got)
				}
				if diff := cmp.Diff([]string{"u1/s1", "u1/s1"},
					fx.revoked()); diff != "" {
					t.Errorf("revoker calls mismatch (-want +got):\n%s",
						diff)
				}
			})
		}
	})
}

// TestReceiptCheckFailureRunsAnyway fails every HasReceipt: a run that
// cannot tell whether the session has ended runs the flow, and the
// write's receipt keeps the count at one.
func TestReceiptCheckFailureRunsAnyway(t *testing.T) {
	onPaths(t, func(t *testing.T, p path) {
		fx, fs := faulty(t, p)
		fs.hasErr = errInjected
		for i, sid := range []string{"s1", "s1"} {
			// The speculative path asks no HasReceipt of a step its
			// write settled: the first run's write finds the session
			// live, the second's finds it ended, a repeat.
			repeat := p.spec && i > 0
			res, err := fx.runner.Run(t.Context(), event(sid))
			if err != nil || res.Repeat != repeat {
				t.Fatalf("Run() = %+v, %v; want Repeat %v", res, err,
					repeat)
			}
		}
		if got := fx.count(t); got != 1 {
			t.Errorf("stored n = %d, want 1", got)
		}
		wantCalls := []string{
			"HasReceipt s1/end", "Update s1/count/1", "Update s1/end",
			"HasReceipt s1/end", "Update s1/count/1", "Update s1/end",
		}
		if p.spec {
			wantCalls = []string{"UpdateGuarded s1/count/1",
				"Update s1/end", "UpdateGuarded s1/count/1"}
		}
		if diff := cmp.Diff(wantCalls, fs.calls(0)); diff != "" {
			t.Errorf("store calls mismatch (-want +got):\n%s", diff)
		}

		// The speculative path asks HasReceipt after a step whose
		// write settled nothing, as one that fails. Failing too, it
		// lets the run go on, on either path, as for a live session:
		// the session is revoked again and nothing counts twice.
		fs.fault = once("s1/count/", failBefore)
		n := len(fs.calls(0))
		res := runS1(t, fx, []stepSummary{failed("count"), revoked})
		if res.Repeat || !res.Retry {
			t.Errorf("third Run() = %+v; want a full run with Retry", res)
		}
		wantCalls = []string{"HasReceipt s1/end", "Update s1/count/1"}
		if p.spec {
			wantCalls = []string{"UpdateGuarded s1/count/1",
				"HasReceipt s1/end"}
		}
		if diff := cmp.Diff(wantCalls, fs.calls(n)); diff != "" {
			t.Errorf("third run's store calls mismatch (-want +got):\n%s",
				diff)
		}
		if got := fx.count(t); got != 1 {
			t.Errorf("stored n after the third run = %d, want 1", got)
		}
		wantRevoked := []string{"u1/s1", "u1/s1", "u1/s1"}
		if p.spec {
			wantRevoked = wantRevoked[1:] // the second run was a repeat
		}
		if diff := cmp.Diff(wantRevoked, fx.revoked()); diff != "" {
			t.Errorf("revoked mismatch (-want +got):\n%s", diff)
		}
	})
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
	onPaths(t, func(t *testing.T, p path) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					slowerThanDeadline(t, p, tc.fault, tc.want,
						tc.retry)
				})
			})
		}
	})
}

// slowerThanDeadline is one case of TestUpdateSlowerThanDeadline, in a
// synctest bubble: the fault of count's write, the stored n after the
// run, and its Result.Retry.
func slowerThanDeadline(t *testing.T, p path, f fault, want int64,
	retry bool) {

	fx, fs := faulty(t, p)
	fs.fault = once("s1/count/", f)

	res := runS1(t, fx, []stepSummary{failed("count"), revoked})
	err := stepErr(t, res, "count")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("step error = %v, want DeadlineExceeded", err)
	}
	if got := fx.count(t); got != want {
		t.Errorf("stored n = %d, want %d", got, want)
	}
	if diff := cmp.Diff([]string{"u1/s1"}, fx.revoked()); diff != "" {
		t.Errorf("revoked mismatch (-want +got):\n%s", diff)
	}

	if res.Retry != retry {
		t.Errorf("Result.Retry = %v, want %v", res.Retry, retry)
	}

	// Running the event again counts the session once, whichever way
	// the first write went.
	res, err = fx.runner.Run(t.Context(), event("s1"))
	if err != nil || res.Repeat == retry {
		t.Errorf("second Run() = %+v, %v; want Repeat %v", res, err,
			!retry)
	}
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n after the second run = %d, want 1", got)
	}
}

func TestCallerCancelsMidRun(t *testing.T) {
	onPaths(t, func(t *testing.T, p path) {
		// cancel ends the caller's context from inside the flow, after
		// the count is stored.
		ctx, cancel := context.WithCancel(t.Context())
		stop := fnAction("stop", func(context.Context, *action.Event,
			action.API) error {
			cancel()
			return nil
		})
		fx, _ := faultyFlow(t, p, flow.Options{}, counter("count"), stop,
			counter("after"))

		// The run stops: the rest is skipped and the user stays signed
		// in.
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
	})
}

func TestCallerCancelsDuringAWrite(t *testing.T) {
	onPaths(t, func(t *testing.T, p path) {
		// The caller gives up while the store call is under way, and
		// the store gives up with it.
		fx, fs := faulty(t, p)
		ctx, cancel := context.WithCancel(t.Context())
		fs.fault = once("s1/count/", hang)
		fs.hung = cancel

		// The action fails, the run stops before revoking, and says
		// why.
		res, err := fx.runner.Run(ctx, event("s1"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run() error = %v, want context.Canceled", err)
		}
		want := []stepSummary{failed("count"),
			{"RevokeSession", "", flow.StatusSkipped, true}}
		if diff := cmp.Diff(want, summarize(res)); diff != "" {
			t.Errorf("steps mismatch (-want +got):\n%s", diff)
		}
		err = stepErr(t, res, "count")
		if !errors.Is(err, context.Canceled) {
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
	})
}
