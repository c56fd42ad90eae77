package flow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
)

// runS1 runs the logout of s1 on fx, which must not fail, and checks its
// steps against want.
func runS1(t *testing.T, fx *fixture, want []stepSummary) *flow.Result {
	t.Helper()
	res, err := fx.runner.Run(t.Context(), event("s1"))
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	return res
}

func TestRunRefusesWhatCannotRun(t *testing.T) {
	fx := setup(t, flow.Options{}, counter("count"))
	fx.publish(t, "count")

	tests := []struct {
		name string
		ev   *action.Event
		want error
	}{
		{"nil event", nil, flow.ErrBadEvent},
		{"no user ID", &action.Event{Session: action.Session{ID: "s1"}},
			flow.ErrBadEvent},
		{"no session ID", &action.Event{User: action.User{ID: "u1"}},
			flow.ErrBadEvent},
		{"NUL in the user ID", &action.Event{User: action.User{ID: "u\x001"},
			Session: action.Session{ID: "s1"}}, action.ErrBadID},
		{"invalid UTF-8 in the session ID", &action.Event{
			User: action.User{ID: "u1"}, Session: action.Session{ID: "s\xff"},
		}, action.ErrBadID},
		{"no flow for the trigger", &action.Event{
			Trigger: action.Revoke,
			User:    action.User{ID: "u1"},
			Session: action.Session{ID: "s1"},
		}, flow.ErrNoFlow},
		{"a trigger that ends no session", &action.Event{
			Trigger: "login",
			User:    action.User{ID: "u1"},
			Session: action.Session{ID: "s1"},
		}, flow.ErrBadEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := fx.runner.Run(t.Context(), tc.ev)
			if !errors.Is(err, tc.want) || res != nil {
				t.Errorf("Run() = %v, %v; want nil, %v", res, err, tc.want)
			}
		})
	}
	if got := fx.revoked(); len(got) != 0 {
		t.Errorf("revoked %v, want none", got)
	}
	if got := fx.count(t); got != 0 {
		t.Errorf("stored n = %d, want 0", got)
	}
}

func TestRunEmptyTriggerMeansLogout(t *testing.T) {
	fx := setup(t, flow.Options{}, counter("count"))
	fx.publish(t, "count")
	ev := event("s1")
	ev.Trigger = ""

	res, err := fx.runner.Run(t.Context(), ev)
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	if res.Trigger != action.Logout || res.Version != 1 {
		t.Errorf("Run() trigger, version = %q, %d; want %q, 1",
			res.Trigger, res.Version, action.Logout)
	}
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n = %d, want 1", got)
	}
}

func TestRevokerSeesWritesStored(t *testing.T) {
	write := fnAction("write", func(ctx context.Context, _ *action.Event,
		api action.API) error {
		return api.User().SetAppMetadata(ctx, metadata.Map{"k": "v"})
	})
	fx := setup(t, flow.Options{}, write, counter("count"))
	fx.publish(t, "write", "count")

	// The revoker reads the store when it is called.
	var seen metadata.Map
	fx.rev.hook = func(ctx context.Context, uid, _ string) error {
		m, err := fx.store.Get(ctx, uid)
		seen = m
		return err
	}
	if _, err := fx.runner.Run(t.Context(), event("s1")); err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	want := metadata.Map{"k": "v", "n": int64(1)}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("store seen by the revoker mismatch (-want +got):\n%s",
			diff)
	}
}

func TestFailingActionsDoNotStopTheFlow(t *testing.T) {
	tests := []struct {
		name    string
		run     action.Func
		want    error  // wrapped by the step's error
		message string // in the step's error
	}{
		{
			name: "error",
			run: func(context.Context, *action.Event, action.API) error {
				return errInjected
			},
			want:    errInjected,
			message: "injected fault",
		},
		{
			name: "panic",
			run: func(context.Context, *action.Event, action.API) error {
				panic("kaboom")
			},
			want:    flow.ErrPanic,
			message: "kaboom",
		},
		{
			name: "invalid write",
			run: func(ctx context.Context, _ *action.Event,
				api action.API) error {
				// The action ignores the refusal: the step still fails.
				_ = api.User().SetAppMetadata(ctx, metadata.Map{"": 1})
				return nil
			},
			want:    metadata.ErrInvalidPatch,
			message: "metadata write failed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := new(records)
			fx := setup(t, flow.Options{Logger: slog.New(logs)},
				fnAction("bad", tc.run), counter("count"))
			fx.publish(t, "bad", "count")

			// The failure is reported, and the rest ran.
			want := []stepSummary{failed("bad"), ok("count"), revoked}
			res := runS1(t, fx, want)
			serr := stepErr(t, res, "bad")
			if !errors.Is(serr, tc.want) ||
				!strings.Contains(serr.Error(), tc.message) {
				t.Errorf("step error = %v, want one wrapping %v, "+
					"holding %q", serr, tc.want, tc.message)
			}
			if got := len(res.Failed()); got != 1 {
				t.Errorf("len(Failed()) = %d, want 1", got)
			}
			if got := fx.revoked(); len(got) != 1 {
				t.Errorf("revoked %v, want u1/s1", got)
			}

			// The failure is logged at error level, with who and what.
			var found bool
			for _, l := range logs.all() {
				if l.Level != slog.LevelError {
					continue
				}
				found = true
				want := map[string]string{
					flow.LogKeyAction: "bad", flow.LogKeyUserID: "u1",
					flow.LogKeySessionID: "s1", flow.LogKeyBlock: "1",
					flow.LogKeyError: serr.Error(),
				}
				if diff := cmp.Diff(want, l.Attrs); diff != "" {
					t.Errorf("error log attrs mismatch (-want +got):\n%s",
						diff)
				}
			}
			if !found {
				t.Errorf("no error log in %v", logs.all())
			}
		})
	}
}

func TestActionPastItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// stuck ignores its context until the test releases it, then
		// tries to write.
		release := make(chan struct{})
		late := make(chan error, 1)
		stuck := fnAction("stuck", func(ctx context.Context,
			_ *action.Event, api action.API) error {
			<-release
			late <- api.User().SetAppMetadata(context.Background(),
				metadata.Map{"late": true})
			api.Log(slog.LevelInfo, "too late")
			return nil
		})
		fx := setup(t, flow.Options{}, stuck, counter("count"))
		fx.publish(t, "stuck", "count")

		// The run goes on at the deadline, in fake time.
		want := []stepSummary{failed("stuck"), ok("count"), revoked}
		res := runS1(t, fx, want)
		serr := stepErr(t, res, "stuck")
		if !errors.Is(serr, context.DeadlineExceeded) {
			t.Errorf("step error = %v, want DeadlineExceeded", serr)
		}
		if got := fx.revoked(); len(got) != 1 {
			t.Errorf("revoked %v, want u1/s1", got)
		}

		// The abandoned action's write is refused and never stored.
		close(release)
		if err := <-late; !errors.Is(err, flow.ErrStepOver) {
			t.Errorf("late SetAppMetadata() = %v, want ErrStepOver", err)
		}
		synctest.Wait()
		if _, ok := fx.stored(t)["late"]; ok {
			t.Errorf("late write stored: %v", fx.stored(t))
		}
		if got := res.Steps[0].Calls; len(got) != 0 {
			t.Errorf("stuck's calls = %v, want none", got)
		}
	})
}

func TestRevokerFailureReachesTheCaller(t *testing.T) {
	tests := []struct {
		name string
		hook func(context.Context, string, string) error
		want []error
	}{
		{
			name: "error",
			hook: func(context.Context, string, string) error {
				return errInjected
			},
			want: []error{flow.ErrRevoke, errInjected},
		},
		{
			name: "panic",
			hook: func(context.Context, string, string) error {
				panic("revoker down")
			},
			want: []error{flow.ErrRevoke, flow.ErrPanic},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := setup(t, flow.Options{}, counter("count"))
			fx.publish(t, "count")
			fx.rev.hook = tc.hook

			res, err := fx.runner.Run(t.Context(), event("s1"))
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Run() error = %v, want it to wrap %v", err, w)
				}
			}
			if res == nil {
				t.Fatal("Run() result is nil")
			}
			want := []stepSummary{ok("count"),
				{"RevokeSession", "", flow.StatusFailed, true}}
			if diff := cmp.Diff(want, summarize(res)); diff != "" {
				t.Errorf("steps mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDisabledActionIsSkipped(t *testing.T) {
	logs := &records{level: slog.LevelDebug}
	fx := setup(t, flow.Options{Logger: slog.New(logs)}, counter("count"))
	fx.publish(t, "count")

	// Disabled: skipped, with no call and a debug log.
	if err := fx.reg.SetEnabled("count", false); err != nil {
		t.Fatalf("SetEnabled: %v", err)
	}
	want := []stepSummary{skipped("count"), revoked}
	res := runS1(t, fx, want)
	if got := res.Steps[0].Calls; got != nil {
		t.Errorf("skipped step's calls = %v, want none", got)
	}
	if got := fx.count(t); got != 0 {
		t.Errorf("stored n = %d, want 0", got)
	}
	logged := logs.all()
	if len(logged) != 1 || logged[0].Level != slog.LevelDebug ||
		logged[0].Attrs[flow.LogKeyAction] != "count" {
		t.Errorf("logs = %v, want one debug naming the action", logged)
	}

	// Enabled again: it runs on the next logout.
	if err := fx.reg.SetEnabled("count", true); err != nil {
		t.Fatalf("SetEnabled: %v", err)
	}
	res, err := fx.runner.Run(t.Context(), event("s2"))
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	want = []stepSummary{ok("count"), revoked}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n = %d, want 1", got)
	}
}

func TestCallsRecordedInOrder(t *testing.T) {
	logs := new(records)
	talk := fnAction("talk", func(ctx context.Context, _ *action.Event,
		api action.API) error {
		api.Log(slog.LevelInfo, "hello", slog.Int("n", 1))
		if err := api.User().SetAppMetadata(ctx,
			metadata.Map{"a": 1}); err != nil {
			return err
		}
		err := api.User().UpdateAppMetadata(ctx,
			func(metadata.Map) (metadata.Map, error) {
				return metadata.Map{"b": 2}, nil
			})
		if err != nil {
			return err
		}
		err = api.User().UpdateAppMetadataView(ctx,
			func(cur metadata.View) (metadata.Map, error) {
				b, _ := cur.Get("b")
				return metadata.Map{"c": b}, nil
			})
		if err != nil {
			return err
		}
		if err := api.Session().SetCustomClaim("role", "admin"); err != nil {
			return err
		}
		_ = api.Session().SetCustomClaim("", 1)
		return nil
	})
	fx := setup(t, flow.Options{Logger: slog.New(logs)}, talk)
	fx.publish(t, "talk")

	res, err := fx.runner.Run(t.Context(), event("s1"))
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}

	// Every call, in order, with what it wrote.
	want := []action.Call{
		{API: action.CallLog, Level: slog.LevelInfo, Message: "hello",
			Attrs: []slog.Attr{slog.Int("n", 1)}},
		{API: action.CallSetAppMetadata, Patch: metadata.Map{"a": 1}},
		{API: action.CallSetAppMetadata, Patch: metadata.Map{"b": 2}},
		{API: action.CallSetAppMetadata, Patch: metadata.Map{"c": 2}},
		{API: action.CallSetCustomClaim, Key: "role", Value: "admin"},
		{API: action.CallSetCustomClaim, Key: "", Value: 1,
			Err: flow.ErrInvalidClaim},
	}
	if diff := cmp.Diff(want, res.Steps[0].Calls,
		cmpopts.EquateErrors()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
	wantClaims := map[string]any{"role": "admin"}
	if diff := cmp.Diff(wantClaims, res.Claims); diff != "" {
		t.Errorf("claims mismatch (-want +got):\n%s", diff)
	}

	// The action's log carries its name, the user and the session.
	wantLogs := []logged{{Level: slog.LevelInfo, Msg: "hello",
		Attrs: map[string]string{
			flow.LogKeyAction: "talk", flow.LogKeyUserID: "u1",
			flow.LogKeySessionID: "s1", "n": "1",
		}}}
	if diff := cmp.Diff(wantLogs, logs.all()); diff != "" {
		t.Errorf("logs mismatch (-want +got):\n%s", diff)
	}
}

func TestCustomClaimValidation(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		value any
		ok    bool
	}{
		{"string", "role", "admin", true},
		{"object", "org", map[string]any{"id": 7}, true},
		{"empty key", "", "x", false},
		{"NaN", "score", nanValue(), false},
		{"function", "f", func() {}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			claim := fnAction("claim", func(_ context.Context,
				_ *action.Event, api action.API) error {
				got = api.Session().SetCustomClaim(tc.key, tc.value)
				return nil
			})
			fx := setup(t, flow.Options{}, claim)
			fx.publish(t, "claim")
			res, err := fx.runner.Run(t.Context(), event("s1"))
			if err != nil {
				t.Fatalf("Run() error: %v", err)
			}
			if tc.ok != (got == nil) ||
				(got != nil && !errors.Is(got, flow.ErrInvalidClaim)) {
				t.Errorf("SetCustomClaim(%q, %v) = %v, want ok %t",
					tc.key, tc.value, got, tc.ok)
			}
			if _, in := res.Claims[tc.key]; in != tc.ok {
				t.Errorf("claim in result = %t, want %t", in, tc.ok)
			}
			if got := fx.stored(t); len(got) != 0 {
				t.Errorf("claim touched app_metadata: %v", got)
			}
		})
	}
}

func TestLoggerDiscardingBuildsNothing(t *testing.T) {
	// A handler above error level sees nothing of the actions' logs.
	logs := &records{level: slog.LevelError + 1}
	talk := fnAction("talk", func(_ context.Context, _ *action.Event,
		api action.API) error {
		api.Log(slog.LevelError, "dropped")
		return nil
	})
	fx := setup(t, flow.Options{Logger: slog.New(logs)}, talk)
	fx.publish(t, "talk")
	res, err := fx.runner.Run(t.Context(), event("s1"))
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	if got := logs.all(); len(got) != 0 {
		t.Errorf("handled %v, want nothing", got)
	}
	if got := len(res.Steps[0].Calls); got != 1 {
		t.Errorf("recorded calls = %d, want 1 (the call counts anyway)", got)
	}
}

func TestPublishWhileRunning(t *testing.T) {
	// Each action logs the label of the flow it belongs to.
	labelled := func(name, label string) action.Action {
		return fnAction(name, func(_ context.Context, _ *action.Event,
			api action.API) error {
			api.Log(slog.LevelInfo, label)
			return nil
		})
	}
	fx := setup(t, flow.Options{},
		labelled("a1", "one"), labelled("b1", "one"),
		labelled("a2", "two"), labelled("b2", "two"))

	// Publish the two flows in turn while logouts run.
	var labels sync.Map // version -> label
	publish := func(label string, names ...string) {
		labels.Store(fx.publish(t, names...), label)
	}
	publish("one", "a1", "b1")
	const runs = 200
	results := make(chan *flow.Result, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			res, err := fx.runner.Run(t.Context(),
				event(fmt.Sprintf("s%d", i)))
			if err != nil {
				t.Errorf("Run() error: %v", err)
				return
			}
			results <- res
		})
	}
	for i := range 50 {
		if i%2 == 0 {
			publish("two", "a2", "b2")
		} else {
			publish("one", "a1", "b1")
		}
	}
	wg.Wait()
	close(results)

	// Every run is wholly on the version its result names.
	for res := range results {
		label, _ := labels.Load(res.Version)
		for _, s := range res.Steps[:2] {
			if len(s.Calls) != 1 || s.Calls[0].Message != label {
				t.Errorf("version %d (%v): step %s logged %v",
					res.Version, label, s.Action, s.Calls)
			}
		}
	}
}

func TestOneCountPerSession(t *testing.T) {
	t.Run("in sequence", func(t *testing.T) {
		fx := setup(t, flow.Options{}, counter("count"))
		fx.publish(t, "count")
		first, err := fx.runner.Run(t.Context(), event("s1"))
		if err != nil || first.Repeat {
			t.Fatalf("first Run() = %+v, %v; want no repeat", first, err)
		}
		again, err := fx.runner.Run(t.Context(), event("s1"))
		if err != nil {
			t.Fatalf("second Run() error: %v", err)
		}
		want := &flow.Result{Trigger: action.Logout, Version: 1, Repeat: true}
		if diff := cmp.Diff(want, again); diff != "" {
			t.Errorf("second Run() mismatch (-want +got):\n%s", diff)
		}
		fx.checkOnce(t)
	})

	t.Run("joined while running", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The first run waits at the gate until every other run
			// has joined it.
			gate := make(chan struct{})
			slow := fnAction("slow", func(ctx context.Context,
				_ *action.Event, api action.API) error {
				<-gate
				return api.User().UpdateAppMetadata(ctx, increment)
			})
			fx := setup(t, flow.Options{}, slow)
			fx.publish(t, "slow")
			results := fx.runAll(t, 8, func() {
				synctest.Wait()
				close(gate)
			})

			// One ran, the others joined it and share its result.
			var repeats int
			for _, res := range results {
				if res.Repeat {
					repeats++
				}
				want := []stepSummary{ok("slow"), revoked}
				if diff := cmp.Diff(want, summarize(res)); diff != "" {
					t.Errorf("steps mismatch (-want +got):\n%s", diff)
				}
			}
			if repeats != 7 {
				t.Errorf("repeats = %d, want 7", repeats)
			}
			fx.checkOnce(t)
		})
	})

	t.Run("at once", func(t *testing.T) {
		fx := setup(t, flow.Options{}, counter("count"))
		fx.publish(t, "count")
		results := fx.runAll(t, 8, func() {})
		var repeats int
		for _, res := range results {
			if res.Repeat {
				repeats++
			}
		}
		if repeats != 7 {
			t.Errorf("repeats = %d, want 7", repeats)
		}
		fx.checkOnce(t)
	})
}

// runAll runs n logouts of session s1 at once, calls started once they
// are all started, and returns their results. Each must succeed.
func (fx *fixture) runAll(tb testing.TB, n int, started func()) []*flow.Result {
	tb.Helper()
	results := make([]*flow.Result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := fx.runner.Run(context.Background(), event("s1"))
			if err != nil {
				tb.Errorf("Run() error: %v", err)
			}
			results[i] = res
		})
	}
	close(start)
	started()
	wg.Wait()
	return results
}

// checkOnce checks that s1 was revoked once and counted once.
func (fx *fixture) checkOnce(tb testing.TB) {
	tb.Helper()
	if diff := cmp.Diff([]string{"u1/s1"}, fx.revoked()); diff != "" {
		tb.Errorf("revoked mismatch (-want +got):\n%s", diff)
	}
	if got := fx.count(tb); got != 1 {
		tb.Errorf("stored n = %d, want 1", got)
	}
}

// revoked returns the sessions the fixture's revoker ended.
func (fx *fixture) revoked() []string { return fx.rev.revoked() }

// nanValue returns NaN without a constant expression.
func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

// TestSessionIDsLikeReceipts signs out sessions of one user whose IDs look
// like the receipts of one another, old names included: each is a
// session of its own, counted and revoked once.
func TestSessionIDsLikeReceipts(t *testing.T) {
	fx := setup(t, flow.Options{}, counter("count"))
	fx.publish(t, "count")
	ids := []string{"X", "X/end", "X/count/1", "X/count", "session-end/X",
		"end", "X/end/count/1", "/", "X/"}
	for _, id := range ids {
		res, err := fx.runner.Run(t.Context(), event(id))
		if err != nil || res.Repeat || len(res.Failed()) > 0 {
			t.Errorf("Run(%q) = %+v, %v; want a full run", id, res, err)
		}
	}
	if got := fx.count(t); got != int64(len(ids)) {
		t.Errorf("stored n = %d, want %d", got, len(ids))
	}
	if got := len(fx.revoked()); got != len(ids) {
		t.Errorf("revoked %d sessions, want %d", got, len(ids))
	}
}

// TestActionInTwoBlocks runs a flow with one action in two blocks: each
// block's write is its own, and a retry of the session applies neither
// again.
func TestActionInTwoBlocks(t *testing.T) {
	fx := setup(t, flow.Options{}, counter("count"))
	fx.publish(t, "count", "count")
	res := runS1(t, fx, []stepSummary{ok("count"), ok("count"), revoked})
	for i, s := range res.Steps[:2] {
		if s.AlreadyApplied != 0 {
			t.Errorf("block %d AlreadyApplied = %d, want 0", i+1,
				s.AlreadyApplied)
		}
	}
	if got := fx.count(t); got != 2 {
		t.Errorf("stored n = %d, want 2", got)
	}

	// The same writes retried, as after a lost end record: both found.
	for _, r := range []string{"s1/count/1", "s1/count/2"} {
		err := fx.store.Update(t.Context(), "u1", r, increment)
		if !errors.Is(err, metadata.ErrDuplicate) {
			t.Errorf("Update(%s) = %v, want ErrDuplicate", r, err)
		}
	}
}

// TestJoinerTakesOverWhenLeaderGivesUp runs a session's logout whose
// caller gives up during the action, with a second run of the session,
// under a live context, waiting for it. The first returns its context's
// error without revoking; the second then runs the flow itself, as no
// run had ended the session: it counts the session once, revokes it,
// and is no repeat. The second run's action is also inline and not.
func TestJoinerTakesOverWhenLeaderGivesUp(t *testing.T) {
	bothModes(t, func(t *testing.T, inline bool) {
		var calls atomic.Int32
		act := fnAction("count", func(ctx context.Context,
			_ *action.Event, api action.API) error {
			if calls.Add(1) == 1 {
				<-ctx.Done() // the first caller gives up here
				return ctx.Err()
			}
			return api.User().UpdateAppMetadata(ctx, increment)
		})
		act.Inline = inline
		fx := setup(t, flow.Options{}, act)
		fx.publish(t, "count")

		ctx, cancel := context.WithCancel(t.Context())
		first := make(chan error, 1)
		go func() {
			_, err := fx.runner.Run(ctx, event("s1"))
			first <- err
		}()
		synctest.Wait() // the first run waits in its action
		second := make(chan *flow.Result, 1)
		go func() {
			res, err := fx.runner.Run(t.Context(), event("s1"))
			if err != nil {
				t.Errorf("second Run() error = %v, want nil", err)
			}
			second <- res
		}()
		synctest.Wait() // the second joins the first
		cancel()

		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Errorf("first Run() error = %v, want Canceled", err)
		}
		res := <-second
		if res == nil || res.Repeat || len(res.Failed()) != 0 {
			t.Fatalf("second Run() = %+v, want a full run", res)
		}
		if got := fx.count(t); got != 1 {
			t.Errorf("stored n = %d, want 1", got)
		}
		if diff := cmp.Diff([]string{"u1/s1"},
			fx.revoked()); diff != "" {
			t.Errorf("revoked mismatch (-want +got):\n%s", diff)
		}
	})
}
