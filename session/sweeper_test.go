package session_test

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
	"github.com/logoutflow/logoutflow/session"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// TestSweepTenThousand sweeps 10,000 sessions of 1,000 users, of which
// 1,000 (one per user) are idle past the limit, in batches of 100, with
// a fault injected on one expired session. Each row says what becomes of
// that session, now and at the next sweep.
func TestSweepTenThousand(t *testing.T) {
	const (
		users   = 1000
		perUser = 10
		faulty  = "s0500" // user u050's expired session
	)
	tests := []struct {
		name   string
		inject func(*fixture)
		first  session.SweepReport
		// counted is how many sessions the figures hold after the first
		// sweep; all expired ones are counted after the second.
		counted, finally int64
		second           session.SweepReport
	}{
		{
			name:    "no fault",
			inject:  func(*fixture) {},
			first:   session.SweepReport{Batches: 10, Expired: 1000},
			counted: 1000, finally: 1000,
		},
		{
			// The flow ran and counted; the store still shows the
			// session live, so the next sweep runs it again: a repeat.
			name: "session store fails to mark it ended",
			inject: func(fx *fixture) {
				fx.sessions.failEnd = map[string]bool{faulty: true}
			},
			first:   session.SweepReport{Batches: 10, Expired: 999, Failed: 1},
			counted: 1000, finally: 1000,
			second: session.SweepReport{Batches: 1, Expired: 1,
				Repeats: 1},
		},
		{
			// The flow failed before the end: the session stays live
			// and the next sweep counts it, once.
			name: "revoker fails",
			inject: func(fx *fixture) {
				fx.rev.fail = map[string]bool{faulty: true}
			},
			// Still live and idle, it is forgotten from memory; the
			// next sweep reads it from the store again.
			first: session.SweepReport{Batches: 10, Expired: 999, Failed: 1,
				Forgotten: 1},
			counted: 1000, finally: 1000,
			second: session.SweepReport{Batches: 1, Expired: 1},
		},
		{
			// The flow revokes the session but leaves its end
			// unrecorded: it stays live, and the next sweep's run
			// applies the figures write, once.
			name: "metadata store fails the figures write",
			inject: func(fx *fixture) {
				fx.md.fail = []string{faulty + "/"}
			},
			first: session.SweepReport{Batches: 10, Expired: 999,
				Incomplete: 1},
			counted: 999, finally: 1000,
			second: session.SweepReport{Completed: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids := make([]string, users)
			for i := range ids {
				ids[i] = fmt.Sprintf("u%03d", i)
			}
			fx := setup(t, session.Options{}, ids...)
			sw, err := session.NewSweeper(fx.tracker,
				session.SweeperOptions{
					IdleTimeout: 30 * time.Minute, BatchSize: 100,
				})
			if err != nil {
				t.Fatalf("NewSweeper: %v", err)
			}

			// Every session starts at t0; the expired ones (every
			// tenth) are last active at +2 min, the others at +10.
			var expired []string
			for i := range users * perUser {
				sid := fmt.Sprintf("s%04d", i)
				fx.start(t, ids[i/perUser], sid)
				if i%perUser == 0 {
					expired = append(expired, sid)
				}
			}
			fx.clk.Add(2 * time.Minute)
			for _, sid := range expired {
				fx.touch(t, sid)
			}
			fx.clk.Add(8 * time.Minute)
			for i := range users * perUser {
				if i%perUser != 0 {
					fx.touch(t, fmt.Sprintf("s%04d", i))
				}
			}
			fx.clk.Add(25 * time.Minute) // the expired: 33 min idle
			tc.inject(fx)

			// The first sweep.
			fx.sessions.lists = nil
			rep, err := sw.Sweep(t.Context())
			if err != nil {
				t.Fatalf("Sweep() error: %v", err)
			}
			if diff := cmp.Diff(tc.first, rep); diff != "" {
				t.Errorf("first sweep mismatch (-want +got):\n%s", diff)
			}
			for _, l := range fx.sessions.lists {
				if l.Limit != 100 || l.Len > 100 {
					t.Errorf("List(limit %d) gave %d records, want at "+
						"most 100", l.Limit, l.Len)
				}
			}
			if got := counted(t, fx, ids); got != tc.counted {
				t.Errorf("counted after the first sweep = %d, want %d",
					got, tc.counted)
			}

			// Exactly the expired sessions were counted, 120 s each.
			for sid, d := range fx.runner.written() {
				if n := len(d); n != 1 || d[0] != 120 ||
					sid[len(sid)-1] != '0' {
					t.Errorf("session %s wrote durations %v, want one "+
						"expired session's [120]", sid, d)
				}
			}

			// The next sweep retries what failed.
			rep, err = sw.Sweep(t.Context())
			if err != nil {
				t.Fatalf("second Sweep() error: %v", err)
			}
			if diff := cmp.Diff(tc.second, rep); diff != "" {
				t.Errorf("second sweep mismatch (-want +got):\n%s", diff)
			}
			if got := counted(t, fx, ids); got != tc.finally {
				t.Errorf("counted after the second sweep = %d, want %d",
					got, tc.finally)
			}
			if got := len(fx.live(t)); got != users*(perUser-1) {
				t.Errorf("live sessions = %d, want %d", got,
					users*(perUser-1))
			}
		})
	}
}

// counted sums the users' session counts.
func counted(tb testing.TB, fx *fixture, users []string) int64 {
	tb.Helper()
	var n int64
	for _, u := range users {
		f := fx.figures(tb, u)
		n += f.SessionCount
		if f.SessionCount > 0 && f.TotalSessionSeconds != 120 {
			tb.Errorf("user %s: total %d s, want 120", u,
				f.TotalSessionSeconds)
		}
	}
	return n
}

// TestSweepAbsoluteLifetime: a session active all along expires at its
// maximum age, counted up to its last activity.
func TestSweepAbsoluteLifetime(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	sw, err := session.NewSweeper(fx.tracker, session.SweeperOptions{
		IdleTimeout: 30 * time.Minute, MaxAge: 2 * time.Hour,
	})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}
	fx.start(t, "u1", "s1")
	for range 12 {
		fx.clk.Add(10 * time.Minute)
		fx.touch(t, "s1")
		if _, err := sw.Sweep(t.Context()); err != nil {
			t.Fatalf("Sweep() error: %v", err)
		}
	}
	if got := fx.figures(t, "u1").SessionCount; got != 0 {
		t.Fatalf("counted at 2 h = %d, want 0", got)
	}
	fx.clk.Add(time.Second)
	rep, err := sw.Sweep(t.Context())
	if err != nil || rep.Expired != 1 {
		t.Fatalf("Sweep() = %+v, %v; want 1 expired", rep, err)
	}
	if got := fx.figures(t, "u1").TotalSessionSeconds; got != 7200 {
		t.Errorf("total = %d s, want 7200", got)
	}
}

// TestSweepSeesFresherActivity: the store's activity is an interval
// stale; the sweep trusts the tracker's memory and keeps the session.
func TestSweepSeesFresherActivity(t *testing.T) {
	fx := setup(t, session.Options{Interval: time.Hour}, "u1")
	sw, err := session.NewSweeper(fx.tracker, session.SweeperOptions{
		IdleTimeout: 30 * time.Minute,
	})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}
	fx.start(t, "u1", "s1")
	fx.clk.Add(20 * time.Minute)
	fx.touch(t, "s1") // in memory only: the interval is an hour
	fx.clk.Add(20 * time.Minute)

	rep, err := sw.Sweep(t.Context())
	want := session.SweepReport{Batches: 1, Active: 1}
	if err != nil {
		t.Fatalf("Sweep() error: %v", err)
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
}

// TestSweepStopsOnCancel: a sweep whose context ends stops before its
// next batch; Run returns nil once its context ends.
func TestSweepStopsOnCancel(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	sw, err := session.NewSweeper(fx.tracker, session.SweeperOptions{})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}
	fx.start(t, "u1", "s1")
	fx.clk.Add(time.Hour)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := sw.Sweep(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Sweep() error = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff(session.SweepReport{}, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	if got := fx.live(t); len(got) != 1 {
		t.Errorf("live sessions = %v, want s1 still", got)
	}

	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- sw.Run(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})
}

// TestSweepStoreListFails: a store that cannot list ends the sweep with
// its error.
func TestSweepStoreListFails(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	tr, err := session.NewTracker(session.Options{Runner: fx.runner,
		Store: listFails{fx.sessions}, Clock: fx.clk})
	if err != nil {
		t.Fatalf("NewTracker: %v", err)
	}
	sw, err := session.NewSweeper(tr, session.SweeperOptions{})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}
	if _, err := sw.Sweep(t.Context()); !errors.Is(err, errInjected) {
		t.Errorf("Sweep() error = %v, want errInjected", err)
	}
}

// listFails is a session store whose List fails.
type listFails struct{ session.Store }

func (listFails) List(context.Context,
	session.Query) ([]session.Record, error) {

	return nil, errInjected
}

// TestSweepStoreIgnoresCursor: a store that serves the same page again
// ends the sweep with an error rather than a loop.
func TestSweepStoreIgnoresCursor(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	tr, err := session.NewTracker(session.Options{Runner: fx.runner,
		Store: samePage{fx.sessions}, Clock: fx.clk})
	if err != nil {
		t.Fatalf("NewTracker: %v", err)
	}
	sw, err := session.NewSweeper(tr, session.SweeperOptions{BatchSize: 1})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}
	for _, sid := range []string{"s1", "s2"} {
		if err := tr.Start(t.Context(), "u1", sid); err != nil {
			t.Fatalf("Start: %v", err)
		}
	}
	fx.clk.Add(time.Hour)
	fx.rev.fail = map[string]bool{"s1": true}
	if _, err := sw.Sweep(t.Context()); err == nil {
		t.Errorf("Sweep() error = nil, want one")
	}
}

// samePage is a session store that ignores Query.After.
type samePage struct{ session.Store }

func (s samePage) List(ctx context.Context,
	q session.Query) ([]session.Record, error) {

	q.After = ""
	return s.Store.List(ctx, q)
}

// TestSweepLogs: a session that cannot expire is logged at warn with its
// user and session IDs and the error, and nothing else about the user.
func TestSweepLogs(t *testing.T) {
	logs := new(logRecords)
	fx := setup(t, session.Options{Logger: slog.New(logs)}, "u1")
	sw, err := session.NewSweeper(fx.tracker, session.SweeperOptions{})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}
	fx.start(t, "u1", "s1")
	fx.clk.Add(time.Hour)
	fx.rev.fail = map[string]bool{"s1": true}
	if _, err := sw.Sweep(t.Context()); err != nil {
		t.Fatalf("Sweep() error: %v", err)
	}

	want := []logRecord{
		{slog.LevelWarn, "session: cannot expire; next sweep tries again",
			[]string{session.LogKeyUserID, session.LogKeySessionID,
				session.LogKeyError}},
		{slog.LevelInfo, "session: sweep done",
			[]string{session.LogKeyBatches, session.LogKeyExpired,
				session.LogKeyFailed}},
	}
	if diff := cmp.Diff(want, logs.all()); diff != "" {
		t.Errorf("logs mismatch (-want +got):\n%s", diff)
	}
}

// logRecord is a log record's level, message and attribute keys.
type logRecord struct {
	Level slog.Level
	Msg   string
	Keys  []string
}

// logRecords is a slog handler that keeps every record it handles.
type logRecords struct {
	mu  sync.Mutex
	got []logRecord
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }

func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		rec.Keys = append(rec.Keys, a.Key)
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, rec)
	return nil
}

func (h *logRecords) all() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logRecord(nil), h.got...)
}

// logoutOnly returns a tracker on the fixture's stores whose runner has
// only the Logout flow published, as the README's wiring shows, with
// three sessions of u1 idle for an hour.
func logoutOnly(t *testing.T, fx *fixture,
	logger *slog.Logger) *session.Tracker {

	t.Helper()
	r, err := flow.NewRunner(flow.Options{Store: fx.md, Revoker: fx.rev})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	if _, err := r.Publish(flow.Must(action.Logout, fx.reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{})); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	tr, err := session.NewTracker(session.Options{Runner: r,
		Store: fx.sessions, Clock: fx.clk, Logger: logger})
	if err != nil {
		t.Fatalf("NewTracker: %v", err)
	}
	for _, sid := range []string{"s1", "s2", "s3"} {
		if err := tr.Start(t.Context(), "u1", sid); err != nil {
			t.Fatalf("Start(%q): %v", sid, err)
		}
	}
	fx.clk.Add(time.Hour)
	return tr
}

// TestNoFlowPublished: with no flow for the trigger, a sweep and a "sign
// out everywhere" stop at once with flow.ErrNoFlow, a configuration
// error: no session is failed one by one, logged, or ended.
func TestNoFlowPublished(t *testing.T) {
	tests := []struct {
		name string
		// run ends sessions through tr, and returns its report, if
		// any, and its error.
		run  func(t *testing.T, tr *session.Tracker) (any, error)
		want any
	}{
		{"Sweep", func(t *testing.T, tr *session.Tracker) (any, error) {
			sw, err := session.NewSweeper(tr, session.SweeperOptions{})
			if err != nil {
				t.Fatalf("NewSweeper: %v", err)
			}
			return sw.Sweep(t.Context())
		}, session.SweepReport{Batches: 1}},
		{"EndAll", func(t *testing.T, tr *session.Tracker) (any, error) {
			return tr.EndAll(t.Context(), "u1", action.Revoke)
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := new(logRecords)
			fx := setup(t, session.Options{}, "u1")
			tr := logoutOnly(t, fx, slog.New(logs))

			got, err := tc.run(t, tr)
			if !errors.Is(err, flow.ErrNoFlow) {
				t.Fatalf("error = %v, want flow.ErrNoFlow", err)
			}
			if n := strings.Count(err.Error(), "no flow published"); n != 1 {
				t.Errorf("error = %v, want the missing flow once", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("report mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]logRecord(nil), logs.all()); diff != "" {
				t.Errorf("logs mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"s1", "s2", "s3"},
				fx.live(t)); diff != "" {
				t.Errorf("live sessions mismatch (-want +got):\n%s", diff)
			}
			if got := fx.figures(t, "u1").SessionCount; got != 0 {
				t.Errorf("session count = %d, want 0", got)
			}
		})
	}
}

// TestRunLogsNoFlow: Run logs a sweep stopped by a missing expiry flow
// at error level, once per tick, and sweeps again at the next.
func TestRunLogsNoFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := new(logRecords)
		fx := setup(t, session.Options{}, "u1")
		tr := logoutOnly(t, fx, slog.New(logs))
		sw, err := session.NewSweeper(tr, session.SweeperOptions{
			Every: time.Minute})
		if err != nil {
			t.Fatalf("NewSweeper: %v", err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan error, 1)
		go func() { stopped <- sw.Run(ctx) }()
		synctest.Wait()
		for range 2 {
			fx.clk.Add(time.Minute)
			synctest.Wait()
		}
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}

		failed := logRecord{slog.LevelError, "session: sweep failed",
			[]string{session.LogKeyError}}
		if diff := cmp.Diff([]logRecord{failed, failed},
			logs.all()); diff != "" {
			t.Errorf("logs mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestSweepForgetsWhatOthersEnded starts sessions in one process and ends
// them in another, on a shared store: the first process's sweep forgets
// them, so that its memory does not grow with the sessions the others
// end, while a session still live is kept until it is idle too.
func TestSweepForgetsWhatOthersEnded(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	sw, err := session.NewSweeper(fx.tracker, session.SweeperOptions{})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}
	other := fx.other(t, fx.sessions)
	const n = 100
	for i := range n {
		fx.start(t, "u1", fmt.Sprintf("s%03d", i))
	}
	fx.start(t, "u1", "busy")
	for i := range n {
		sid := fmt.Sprintf("s%03d", i)
		if _, err := other.End(t.Context(), sid, action.Logout); err != nil {
			t.Fatalf("other End(%s): %v", sid, err)
		}
	}

	// Before the idle timeout, memory keeps them all.
	fx.clk.Add(session.DefaultIdleTimeout / 2)
	fx.touch(t, "busy")
	rep, err := sw.Sweep(t.Context())
	if err != nil || rep.Forgotten != 0 {
		t.Fatalf("early Sweep() = %+v, %v; want nothing forgotten", rep, err)
	}

	// Past it, the ended ones go; the busy one, touched since, stays.
	fx.clk.Add(session.DefaultIdleTimeout/2 + time.Second)
	rep, err = sw.Sweep(t.Context())
	if err != nil {
		t.Fatalf("Sweep() error: %v", err)
	}
	if rep.Forgotten != n || rep.Expired != 0 {
		t.Errorf("Sweep() = %+v, want %d forgotten, none expired", rep, n)
	}
	if got := fx.tracker.InMemory(); got != 1 {
		t.Errorf("sessions in memory = %d, want 1 (busy)", got)
	}

	// A forgotten session is still ended: a touch reads the store.
	err = fx.tracker.Touch(t.Context(), "s000")
	if !errors.Is(err, session.ErrEnded) && !errors.Is(err, session.ErrUnknown) {
		t.Errorf("Touch(s000) = %v, want ErrEnded or ErrUnknown", err)
	}
	fx.touch(t, "busy")
}

// TestRetryPendingSession checks a session revoked with its end left to
// retry: Start does not bring it back, and EndAll does not count it as
// ended.
func TestRetryPendingSession(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	fx.start(t, "u1", "s1")
	fx.start(t, "u1", "s2")
	fx.md.fail = []string{"s1/", "s2/"} // the figures writes fail once

	n, err := fx.tracker.EndAll(t.Context(), "u1", action.Revoke)
	if err != nil || n != 0 {
		t.Errorf("EndAll() = %d, %v; want 0 ended, no error", n, err)
	}
	if err := fx.tracker.Start(t.Context(), "u1", "s1"); !errors.Is(err,
		session.ErrEnded) {
		t.Errorf("Start(s1) after a Retry = %v, want ErrEnded", err)
	}

	// Once the store is back, ending them again counts them.
	n, err = fx.tracker.EndAll(t.Context(), "u1", action.Revoke)
	if err != nil || n != 2 {
		t.Errorf("second EndAll() = %d, %v; want 2 ended", n, err)
	}
	if got := fx.figures(t, "u1").SessionCount; got != 2 {
		t.Errorf("session_count = %d, want 2", got)
	}
}
