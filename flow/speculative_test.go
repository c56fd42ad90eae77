package flow_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
)

// guessStore is a memory store whose UpdateGuarded behaves as one across
// a network may: it first calls the function on the caller's guess, then
// lets the memory store decide. It counts the calls the runner makes,
// and fails the guarded writes with fail when set.
type guessStore struct {
	*memstore.Store

	mu       sync.Mutex
	fail     error // returned by UpdateGuarded, which then does nothing
	guarded  []metadata.GuardedUpdate
	expects  []metadata.Map
	hasCalls int
}

func (g *guessStore) UpdateGuarded(ctx context.Context,
	u metadata.GuardedUpdate) error {

	g.mu.Lock()
	g.guarded = append(g.guarded, u)
	g.expects = append(g.expects, u.Expect)
	fail := g.fail
	g.mu.Unlock()
	if fail != nil {
		return fail
	}
	if u.Fn != nil {
		if _, err := u.Fn(metadata.ViewOf(u.Expect)); err != nil {
			return err
		}
	}
	return g.Store.UpdateGuarded(ctx, u)
}

func (g *guessStore) HasReceipt(ctx context.Context, userID,
	receipt string) (bool, error) {

	g.mu.Lock()
	g.hasCalls++
	g.mu.Unlock()
	return g.Store.HasReceipt(ctx, userID, receipt)
}

// calls returns the guards of the guarded writes so far and the number
// of HasReceipt calls.
func (g *guessStore) calls() (guards []string, has int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, u := range g.guarded {
		guards = append(guards, u.Guard)
	}
	return guards, g.hasCalls
}

// unguarded shows the runner a store without UpdateGuarded.
type unguarded struct {
	metadata.Store
	metadata.ReceiptRecorder
}

// pure returns a, pure.
func pure(a action.Action) action.Action {
	a.Pure = true
	return a
}

// chatty returns a pure action that logs "before", counts in an atomic
// update, sets a claim and logs "after" with the count it stored.
func chatty(name string, inline bool) action.Action {
	a := pure(fnAction(name, func(ctx context.Context, _ *action.Event,
		api action.API) error {
		api.Log(slog.LevelInfo, "before")
		var n int64
		err := api.User().UpdateAppMetadata(ctx,
			func(cur metadata.Map) (metadata.Map, error) {
				p, err := increment(cur)
				n, _ = metadata.Int(p["n"])
				return p, err
			})
		if err != nil {
			return err
		}
		if err := api.Session().SetCustomClaim("n", n); err != nil {
			return err
		}
		api.Log(slog.LevelInfo, "after", slog.Int64("n", n))
		return nil
	}))
	a.Inline = inline
	return a
}

// specFixture is a runner on a guessStore with a logger that keeps
// every record, and the flow [name, RevokeSession] published.
type specFixture struct {
	*fixture
	gs   *guessStore
	logs *records
}

func newSpecFixture(t *testing.T, store func(*guessStore) metadata.Store,
	actions ...action.Action) *specFixture {

	t.Helper()
	gs := &guessStore{Store: memstore.New(memstore.Options{})}
	if err := gs.Put(context.Background(), "u1", nil); err != nil {
		t.Fatalf("Put: %v", err)
	}
	var s metadata.Store = gs
	if store != nil {
		s = store(gs)
	}
	logs := &records{level: slog.LevelDebug}
	fx := setup(t, flow.Options{Store: s, Logger: slog.New(logs)},
		actions...)
	fx.store = gs.Store
	var names []string
	for _, a := range actions {
		names = append(names, a.Name)
	}
	fx.publish(t, names...)
	return &specFixture{fixture: fx, gs: gs, logs: logs}
}

// messages returns the messages of the records kept so far.
func (sf *specFixture) messages() []string {
	var out []string
	for _, l := range sf.logs.all() {
		out = append(out, l.Msg)
	}
	return out
}

// TestSpeculativeRun signs a session out twice through a flow whose first
// action is pure, on a store that checks the guard in the write: the
// first run asks the store nothing before the write, logs what the
// action logged in order, and counts; the second finds the session ended
// in the write and runs nothing, logs nothing of the action's, and
// revokes nothing.
func TestSpeculativeRun(t *testing.T) {
	for _, inline := range []bool{true, false} {
		name := map[bool]string{true: "inline", false: "away"}[inline]
		t.Run(name, func(t *testing.T) {
			sf := newSpecFixture(t, nil, chatty("c", inline))
			ev := event("s1")
			ev.User.AppMetadata = metadata.Map{"n": 0}

			res, err := sf.runner.Run(context.Background(), ev)
			if err != nil || res.Repeat {
				t.Fatalf("first Run = %+v, %v", res, err)
			}
			if d := cmp.Diff([]stepSummary{ok("c"), revoked},
				summarize(res)); d != "" {
				t.Errorf("steps mismatch (-want +got):\n%s", d)
			}
			want := []string{"before", "after"}
			if d := cmp.Diff(want, sf.messages()); d != "" {
				t.Errorf("logs mismatch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(map[string]any{"n": int64(1)},
				res.Claims); d != "" {
				t.Errorf("claims mismatch (-want +got):\n%s", d)
			}

			// The write carried the guard and the event's snapshot (a
			// copy of it for an action in its own goroutine); the
			// store was asked nothing else.
			guards, has := sf.gs.calls()
			if d := cmp.Diff([]string{"s1/end"}, guards); d != "" {
				t.Errorf("guards mismatch (-want +got):\n%s", d)
			}
			if has != 0 {
				t.Errorf("HasReceipt called %d times, want 0", has)
			}
			got := sf.gs.expects[0]
			if d := cmp.Diff(ev.User.AppMetadata, got); d != "" {
				t.Errorf("Expect mismatch (-want +got):\n%s", d)
			}
			same := reflect.ValueOf(got).UnsafePointer() ==
				reflect.ValueOf(ev.User.AppMetadata).UnsafePointer()
			if same != inline {
				t.Errorf("Expect is the caller's map: %t, want %t", same,
					inline)
			}

			// The repeat: barred in its write, nothing of it shows.
			res, err = sf.runner.Run(context.Background(), event("s1"))
			if err != nil || !res.Repeat || len(res.Steps) != 0 ||
				res.Claims != nil || res.Retry {
				t.Errorf("second Run = %+v, %v; want a bare repeat", res,
					err)
			}
			want = append(want, "flow: session already ended")
			if d := cmp.Diff(want, sf.messages()); d != "" {
				t.Errorf("logs after the repeat mismatch (-want +got):\n%s",
					d)
			}
			if n := sf.count(t); n != 1 {
				t.Errorf("n = %d, want 1", n)
			}
			if d := cmp.Diff([]string{"u1/s1"}, sf.rev.revoked()); d != "" {
				t.Errorf("revoked mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestSpeculativeLogsAsUnguarded runs one logout through a pure action
// on a guarded store and on the same store seen without UpdateGuarded:
// both log the same records, the runner's included, in the same order.
func TestSpeculativeLogsAsUnguarded(t *testing.T) {
	run := func(store func(*guessStore) metadata.Store) []logged {
		sf := newSpecFixture(t, store, chatty("c", true))
		if _, err := sf.runner.Run(context.Background(),
			event("s1")); err != nil {
			t.Fatalf("Run = %v", err)
		}
		return sf.logs.all()
	}
	plain := run(func(g *guessStore) metadata.Store {
		return unguarded{g, g}
	})
	if d := cmp.Diff(plain, run(nil)); d != "" {
		t.Errorf("logs mismatch (-unguarded +guarded):\n%s", d)
	}
}

// TestSpeculativeDuplicate signs out a session whose write an earlier
// run stored, though its end was not recorded: the store finds the
// write's receipt only after the action's function ran on the guess, so
// the runner runs the action again, and the step reports the write as
// already applied, counting nothing twice.
func TestSpeculativeDuplicate(t *testing.T) {
	sf := newSpecFixture(t, nil, chatty("c", true))
	ctx := context.Background()
	if err := sf.store.Update(ctx, "u1", "s1/c/1", increment); err != nil {
		t.Fatalf("Update = %v", err)
	}

	res, err := sf.runner.Run(ctx, event("s1"))
	if err != nil || res.Repeat {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if d := cmp.Diff([]stepSummary{ok("c"), revoked},
		summarize(res)); d != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", d)
	}
	if got := res.Steps[0].AlreadyApplied; got != 1 {
		t.Errorf("AlreadyApplied = %d, want 1", got)
	}

	// The second run of the action saw its write applied before, with
	// its function never called: its count is 0. The first run's calls
	// and logs are gone.
	want := []action.Call{
		{API: action.CallLog, Level: slog.LevelInfo, Message: "before"},
		{API: action.CallSetAppMetadata},
		{API: action.CallSetCustomClaim, Key: "n", Value: int64(0)},
		{API: action.CallLog, Level: slog.LevelInfo, Message: "after",
			Attrs: []slog.Attr{slog.Int64("n", 0)}},
	}
	if d := cmp.Diff(want, res.Steps[0].Calls,
		cmp.Comparer(func(a, b slog.Attr) bool {
			return a.Equal(b)
		})); d != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", d)
	}
	wantLogs := []string{"before", "flow: write already applied by an " +
		"earlier run", "after"}
	if d := cmp.Diff(wantLogs, sf.messages()); d != "" {
		t.Errorf("logs mismatch (-want +got):\n%s", d)
	}
	if n := sf.count(t); n != 1 {
		t.Errorf("n = %d, want 1", n)
	}
	if guards, _ := sf.gs.calls(); len(guards) != 1 {
		t.Errorf("guarded writes = %q, want one", guards)
	}

	// The session's end is recorded: a repeat runs nothing.
	res, err = sf.runner.Run(ctx, event("s1"))
	if err != nil || !res.Repeat {
		t.Errorf("repeat = %+v, %v; want a repeat", res, err)
	}
}

// TestSpeculativeUnsettled runs pure actions whose guarded write does not
// settle whether the session has ended (the store fails) or that make
// none: the runner asks the store after the step, and either discards
// the step as a repeat or hands on what it held.
func TestSpeculativeUnsettled(t *testing.T) {
	logOnly := pure(inlineAction("c", func(_ context.Context,
		_ *action.Event, api action.API) error {
		api.Log(slog.LevelInfo, "before")
		return api.Session().SetCustomClaim("k", "v")
	}))
	panics := pure(inlineAction("c", func(_ context.Context,
		_ *action.Event, api action.API) error {
		api.Log(slog.LevelInfo, "before")
		panic("boom")
	}))
	tests := []struct {
		name  string
		act   action.Action
		fail  error // of the guarded write
		ended bool  // the session's end is recorded before the run

		want     []stepSummary
		wantLogs []string
		retry    bool
	}{{
		name: "write fails", act: chatty("c", true), fail: errInjected,
		want: []stepSummary{failed("c"), revoked},
		wantLogs: []string{"before", "flow: action failed",
			"flow: a metadata write failed; the end of the session is " +
				"not recorded, so that running the event again " +
				"completes it"},
		retry: true,
	}, {
		name: "write fails, session ended", act: chatty("c", true),
		fail: errInjected, ended: true,
		wantLogs: []string{"flow: session already ended"},
	}, {
		name: "no write", act: logOnly,
		want:     []stepSummary{ok("c"), revoked},
		wantLogs: []string{"before"},
	}, {
		name: "no write, session ended", act: logOnly, ended: true,
		wantLogs: []string{"flow: session already ended"},
	}, {
		name: "panic", act: panics,
		want:     []stepSummary{failed("c"), revoked},
		wantLogs: []string{"before", "flow: action failed"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sf := newSpecFixture(t, nil, tc.act)
			ctx := context.Background()
			if tc.ended {
				if err := sf.store.RecordReceipt(ctx, "u1",
					"s1/end"); err != nil {
					t.Fatalf("RecordReceipt = %v", err)
				}
			}
			sf.gs.fail = tc.fail

			res, err := sf.runner.Run(ctx, event("s1"))
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			if res.Repeat != tc.ended {
				t.Errorf("Repeat = %t, want %t", res.Repeat, tc.ended)
			}
			if d := cmp.Diff(tc.want, summarize(res)); d != "" {
				t.Errorf("steps mismatch (-want +got):\n%s", d)
			}
			if res.Retry != tc.retry {
				t.Errorf("Retry = %t, want %t", res.Retry, tc.retry)
			}
			if d := cmp.Diff(tc.wantLogs, sf.messages()); d != "" {
				t.Errorf("logs mismatch (-want +got):\n%s", d)
			}
			if tc.ended && (res.Claims != nil ||
				len(sf.rev.revoked()) != 0) {
				t.Errorf("a repeat set claims %v, revoked %q",
					res.Claims, sf.rev.revoked())
			}

			// The store was asked once, after the step.
			if _, has := sf.gs.calls(); has != 1 {
				t.Errorf("HasReceipt called %d times, want 1", has)
			}
		})
	}
}

// TestSpeculativeNotTaken lists the runs that ask the store whether the
// session has ended before the first block, as without a guarded store:
// a store that cannot check a guard, a first action that is not pure,
// disabled, or not first.
func TestSpeculativeNotTaken(t *testing.T) {
	plain := chatty("c", true)
	plain.Pure = false
	tests := []struct {
		name    string
		store   func(*guessStore) metadata.Store
		actions []action.Action
		disable string
	}{{
		name:    "unguarded store",
		store:   func(g *guessStore) metadata.Store { return unguarded{g, g} },
		actions: []action.Action{chatty("c", true)},
	}, {
		name: "not pure", actions: []action.Action{plain},
	}, {
		name: "disabled", actions: []action.Action{chatty("c", true)},
		disable: "c",
	}, {
		name:    "not first",
		actions: []action.Action{counter("first"), chatty("c", true)},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sf := newSpecFixture(t, tc.store, tc.actions...)
			if tc.disable != "" {
				if err := sf.reg.SetEnabled(tc.disable,
					false); err != nil {
					t.Fatalf("SetEnabled = %v", err)
				}
			}
			for range 2 {
				if _, err := sf.runner.Run(context.Background(),
					event("s1")); err != nil {
					t.Fatalf("Run = %v", err)
				}
			}
			guards, has := sf.gs.calls()
			if len(guards) != 0 || has != 2 {
				t.Errorf("guarded writes %q, HasReceipt calls %d; want "+
					"none, 2", guards, has)
			}
		})
	}
}

// TestSpeculativeConcurrentRepeats signs one session out from 8
// goroutines at once, and others after them, through a pure action on a
// guarded store: it counts once, is revoked once, and every other run
// is a repeat.
func TestSpeculativeConcurrentRepeats(t *testing.T) {
	sf := newSpecFixture(t, nil, chatty("c", true))
	var wg sync.WaitGroup
	results := make(chan *flow.Result, 16)
	for range 8 {
		wg.Go(func() {
			res, err := sf.runner.Run(context.Background(), event("s1"))
			if err != nil {
				t.Errorf("Run = %v", err)
			}
			results <- res
		})
	}
	wg.Wait()
	for range 8 {
		res, err := sf.runner.Run(context.Background(), event("s1"))
		if err != nil {
			t.Errorf("Run = %v", err)
		}
		results <- res
	}
	close(results)
	repeats := 0
	for res := range results {
		if res != nil && res.Repeat {
			repeats++
		}
	}
	if repeats != 15 {
		t.Errorf("%d repeats, want 15", repeats)
	}
	if n := sf.count(t); n != 1 {
		t.Errorf("n = %d, want 1", n)
	}
	if got := sf.rev.revoked(); len(got) != 1 {
		t.Errorf("revoked %q, want once", got)
	}
}

// TestSpeculativeAgainKeepsDeadline runs a speculative step whose write
// an earlier run stored, the store slow past the deadline: the write
// lands as a duplicate after the update function ran on the guess, so
// the action runs again, but within the first run's deadline and its
// grace. The step holds the logout no longer than one step may, two
// timeouts, and counts nothing twice.
func TestSpeculativeAgainKeepsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx, fs := faultyFlow(t, paths[1], flow.Options{}, counter("count"))
		ctx := t.Context()
		if err := fx.store.Update(ctx, "u1", "s1/count/1",
			increment); err != nil {
			t.Fatalf("Update = %v", err)
		}
		fs.fault = func(r string) fault {
			if strings.HasPrefix(r, "s1/count/") {
				return late
			}
			return pass
		}

		start := time.Now()
		res, err := fx.runner.Run(ctx, event("s1"))
		if took := time.Since(start); took > 2*flow.DefaultTimeout {
			t.Errorf("Run took %v, want at most %v; store calls %q", took,
				2*flow.DefaultTimeout, fs.calls(0))
		}
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := cmp.Diff([]stepSummary{failed("count"), revoked},
			summarize(res)); d != "" {
			t.Errorf("steps mismatch (-want +got):\n%s", d)
		}
		if n := fx.count(t); n != 1 {
			t.Errorf("n = %d, want 1", n)
		}
	})
}

// TestSpeculativeFailedWritePatch fails a speculative write whose update
// function ran on a stale guess: the recorded call shows no patch, since
// the one computed says nothing of the stored value.
func TestSpeculativeFailedWritePatch(t *testing.T) {
	fx, fs := faultyFlow(t, paths[1], flow.Options{}, counter("count"))
	ctx := t.Context()
	if err := fx.store.Put(ctx, "u1", metadata.Map{"n": 7}); err != nil {
		t.Fatalf("Put = %v", err)
	}
	fs.fault = once("s1/count/", failBefore)
	ev := event("s1")
	ev.User.AppMetadata = metadata.Map{"n": 3}

	res, err := fx.runner.Run(ctx, ev)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	calls := res.Steps[0].Calls
	if len(calls) != 1 || calls[0].Patch != nil ||
		!errors.Is(calls[0].Err, errInjected) {
		t.Errorf("calls = %+v, want one failed write with no patch", calls)
	}
}

// TestSpeculativeCallerGivesUp ends the caller's context during a
// speculative write: the run stops before revoking, as on the path that
// asks first, without asking the store, on the ended context, whether
// the session has ended, and without warning that it cannot tell.
func TestSpeculativeCallerGivesUp(t *testing.T) {
	logs := &records{level: slog.LevelDebug}
	fx, fs := faultyFlow(t, paths[1], flow.Options{Logger: slog.New(logs)},
		counter("count"))
	ctx, cancel := context.WithCancel(t.Context())
	fs.fault = once("s1/count/", hang)
	fs.hung = cancel

	_, err := fx.runner.Run(ctx, event("s1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	want := []string{"UpdateGuarded s1/count/1"}
	if d := cmp.Diff(want, fs.calls(0)); d != "" {
		t.Errorf("store calls mismatch (-want +got):\n%s", d)
	}
	for _, l := range logs.all() {
		if l.Level >= slog.LevelWarn && strings.Contains(l.Msg, "cannot") {
			t.Errorf("logged %q", l.Msg)
		}
	}
	if got := fx.revoked(); len(got) != 0 {
		t.Errorf("revoked %q, want none", got)
	}
}

// TestRunnerStoreCallsBounded stalls each store call that the runner
// makes outside an action's step, the caller's context having no
// deadline: asking whether the session has ended, before the first
// block or after a speculative step whose write failed, and recording
// the end. Each ends at the runner's timeout, so that Run returns, the
// session revoked, within two timeouts.
func TestRunnerStoreCallsBounded(t *testing.T) {
	tests := []struct {
		name    string
		p       path
		fault   func(string) fault
		hasHang bool
	}{
		{"asking first", paths[0], nil, true},
		{"asking after the step", paths[1],
			once("s1/count/", failBefore), true},
		{"recording the end", paths[1], once("s1/end", hang), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fx, fs := faulty(t, tc.p)
				fs.fault, fs.hasHang = tc.fault, tc.hasHang

				start := time.Now()
				res, err := fx.runner.Run(context.Background(),
					event("s1"))
				took := time.Since(start)
				if err != nil || res == nil {
					t.Fatalf("Run = %+v, %v", res, err)
				}
				if took > 2*flow.DefaultTimeout {
					t.Errorf("Run took %v, want at most %v", took,
						2*flow.DefaultTimeout)
				}
				if got := fx.revoked(); len(got) != 1 {
					t.Errorf("revoked %q, want once", got)
				}
			})
		})
	}
}
