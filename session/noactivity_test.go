package session_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/session"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// TestStoredWithoutActivity ends a session stored with no last activity:
// its event carries none (not 1970), and the expiry counts it as 0 s.
func TestStoredWithoutActivity(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	ctx := t.Context()
	rec := session.Record{ID: "x3", UserID: "u1",
		Start: fx.clk.Now().Add(-2 * time.Hour)}
	if err := fx.tracker.Store().Put(ctx, rec); err != nil {
		t.Fatalf("Put() error = %v", err)
	}

	ev, err := fx.tracker.Event(ctx, "x3", action.Expire)
	if err != nil {
		t.Fatalf("Event() error = %v", err)
	}
	if !ev.Session.LastActiveAt.IsZero() {
		t.Errorf("LastActiveAt = %v, want absent",
			ev.Session.LastActiveAt)
	}
	if _, err := fx.tracker.End(ctx, "x3", action.Expire); err != nil {
		t.Fatalf("End() error = %v", err)
	}
	f := fx.figures(t, "u1")
	if f.SessionCount != 1 || f.TotalSessionSeconds != 0 {
		t.Errorf("figures = %+v, want 1 session of 0 s", f)
	}
}

// TestEndAllCountsOnlyWhatItEnded ends one of a user's sessions straight
// through the runner, then all of them: EndAll counts only the other.
func TestEndAllCountsOnlyWhatItEnded(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	ctx := t.Context()
	fx.start(t, "u1", "s1")
	fx.start(t, "u1", "s2")
	ev, err := fx.tracker.Event(ctx, "s1", action.Logout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.runner.Run(ctx, ev); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	n, err := fx.tracker.EndAll(ctx, "u1", action.Revoke)
	if err != nil || n != 1 {
		t.Errorf("EndAll() = %d, %v; want 1, nil", n, err)
	}
	if got := fx.figures(t, "u1").SessionCount; got != 2 {
		t.Errorf("session count = %d, want 2", got)
	}
}

// TestTouchAfterRetry ends a session whose figures write fails once: it
// is revoked but left for the sweeper. Touches after that change nothing
// and say it ended; the sweep then counts it to its last activity.
func TestTouchAfterRetry(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	ctx := t.Context()
	sw := sweeper(t, fx.tracker, 30*time.Minute)
	fx.start(t, "u1", "s1")
	fx.clk.Add(2 * time.Hour)
	fx.touch(t, "s1")

	fx.md.fail = []string{"s1/"}
	res, err := fx.tracker.End(ctx, "s1", action.Logout)
	if err != nil || res == nil || !res.Retry {
		t.Fatalf("End() = %+v, %v; want a result to retry", res, err)
	}
	for range 6 {
		fx.clk.Add(10 * time.Minute)
		if err := fx.tracker.Touch(ctx, "s1"); !errors.Is(err,
			session.ErrEnded) {
			t.Errorf("Touch() error = %v, want ErrEnded", err)
		}
	}
	if _, err := sw.Sweep(ctx); err != nil {
		t.Fatalf("Sweep() error = %v", err)
	}
	f := fx.figures(t, "u1")
	if f.SessionCount != 1 || f.TotalSessionSeconds != 7200 {
		t.Errorf("figures = %+v, want 1 session of 7200 s", f)
	}
}

// TestSweepCompletesRetriedEnd ends a session, last touched 40 minutes
// earlier, by a flow whose figures write fails once: the session is
// revoked and left to retry. The next sweep, a minute later, completes
// it though it is not idle past the timeout, and measures it as the
// end would have: a logout up to the moment of the logout, a revocation
// up to the last activity.
func TestSweepCompletesRetriedEnd(t *testing.T) {
	tests := []struct {
		trigger action.Trigger
		want    int64 // the session's duration, seconds
	}{
		{action.Logout, 3600},
		{action.Revoke, 1200},
	}
	for _, tc := range tests {
		t.Run(string(tc.trigger), func(t *testing.T) {
			fx := setup(t, session.Options{}, "u1")
			ctx := t.Context()
			sw := sweeper(t, fx.tracker, time.Hour)
			fx.start(t, "u1", "s1")
			fx.clk.Add(20 * time.Minute)
			fx.touch(t, "s1")
			fx.clk.Add(40 * time.Minute)

			fx.endToRetry(t, "s1", tc.trigger)
			fx.clk.Add(time.Minute)
			rep, err := sw.Sweep(ctx)
			if err != nil {
				t.Fatalf("Sweep() error = %v", err)
			}
			if diff := cmp.Diff(session.SweepReport{Completed: 1},
				rep); diff != "" {
				t.Errorf("sweep mismatch (-want +got):\n%s", diff)
			}
			fx.oneSession(t, "u1", tc.want)

			// Completed, the session has ended: the next sweep finds
			// nothing. The revoker ran at the end and again with the
			// flow that completed it.
			rep, err = sw.Sweep(ctx)
			if err != nil || rep != (session.SweepReport{}) {
				t.Errorf("next Sweep() = %+v, %v; want nothing done", rep,
					err)
			}
			fx.rev.mu.Lock()
			revoked := slices.Clone(fx.rev.revoked)
			fx.rev.mu.Unlock()
			if diff := cmp.Diff([]string{"s1", "s1"}, revoked); diff != "" {
				t.Errorf("revoked mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEndAgainAfterRetry signs out a session whose figures write fails
// once, then ends it again ten minutes later, by each trigger: the
// second End completes the first, measured up to the sign-out whatever
// its trigger, and counts the session once.
func TestEndAgainAfterRetry(t *testing.T) {
	for _, again := range action.SessionEnds() {
		t.Run(string(again), func(t *testing.T) {
			fx := setup(t, session.Options{}, "u1")
			ctx := t.Context()
			fx.start(t, "u1", "s1")
			fx.clk.Add(2 * time.Hour)
			fx.endToRetry(t, "s1", action.Logout)
			fx.clk.Add(10 * time.Minute)
			res, err := fx.tracker.End(ctx, "s1", again)
			if err != nil || res == nil || res.Retry || res.Repeat {
				t.Fatalf("End(%s) = %+v, %v; want a full run", again, res,
					err)
			}
			fx.oneSession(t, "u1", 7200)
		})
	}
}

// TestSweepReportsRetries checks what sweeps report of a session signed
// out with its figures write left to retry, once it is idle past the
// timeout, so that the store lists it too: each sweep runs its flow once.
func TestSweepReportsRetries(t *testing.T) {
	tests := []struct {
		name  string
		fails int  // further failures of the figures write
		other bool // the session's flow is run to its end elsewhere first
		want  []session.SweepReport
	}{
		{name: "completed", want: []session.SweepReport{
			{Completed: 1}, {}}},
		{name: "fails again", fails: 1, want: []session.SweepReport{
			{Batches: 1, Incomplete: 1}, {Completed: 1}, {}}},
		{name: "completed elsewhere", other: true, want: []session.SweepReport{
			{Completed: 1, Repeats: 1}, {}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := setup(t, session.Options{}, "u1")
			ctx := t.Context()
			sw := sweeper(t, fx.tracker, 30*time.Minute)
			fx.start(t, "u1", "s1")
			fx.clk.Add(time.Hour)
			fx.endToRetry(t, "s1", action.Logout)
			for range tc.fails {
				fx.md.fail = append(fx.md.fail, "s1/")
			}
			if tc.other {
				ev, err := fx.tracker.Event(ctx, "s1", action.Expire)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := fx.runner.Run(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			fx.clk.Add(31 * time.Minute)
			var got []session.SweepReport
			for range tc.want {
				rep, err := sw.Sweep(ctx)
				if err != nil {
					t.Fatalf("Sweep() error = %v", err)
				}
				got = append(got, rep)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("sweeps mismatch (-want +got):\n%s", diff)
			}
			if n := fx.figures(t, "u1").SessionCount; n != 1 {
				t.Errorf("session count = %d, want 1", n)
			}
		})
	}
}

// TestRetryInOtherProcesses signs out, at 60 min, a session last touched
// at 20 min, whose figures write fails once, in one process. Another
// process sharing the stores (or the first one, restarted) then touches
// it and starts it again, or not, and sweeps an hour later. The store
// has the session revoked: the touches and the start change nothing, and
// the sweep completes it, measured up to the sign-out, 3600 s, counted
// once: through its memory when a touch read it, through the store's
// listing of idle sessions when not.
func TestRetryInOtherProcesses(t *testing.T) {
	tests := []struct {
		name          string
		before, after bool // the other process touches it before, after
		want          session.SweepReport
	}{
		{"touched before and after", true, true,
			session.SweepReport{Completed: 1}},
		{"touched after", false, true, session.SweepReport{Completed: 1}},
		{"never touched", false, false,
			session.SweepReport{Batches: 1, Completed: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := setup(t, session.Options{}, "u1")
			ctx := t.Context()
			other, err := session.NewTracker(session.Options{
				Runner: fx.newRunner(t), Store: fx.sessions, Clock: fx.clk})
			if err != nil {
				t.Fatal(err)
			}
			fx.start(t, "u1", "s1")
			fx.clk.Add(20 * time.Minute)
			fx.touch(t, "s1")
			if tc.before {
				if err := other.Touch(ctx, "s1"); err != nil {
					t.Fatalf("other Touch() = %v", err)
				}
			}
			fx.clk.Add(40 * time.Minute)
			fx.endToRetry(t, "s1", action.Logout)

			for range 12 {
				fx.clk.Add(5 * time.Minute)
				if !tc.after {
					continue
				}
				err := other.Touch(ctx, "s1")
				if !errors.Is(err, session.ErrEnded) {
					t.Fatalf("other Touch() = %v, want ErrEnded", err)
				}
				if err := other.Start(ctx, "u1", "s1"); !errors.Is(err,
					session.ErrEnded) {
					t.Fatalf("other Start() = %v, want ErrEnded", err)
				}
			}
			sw := sweeper(t, other, 30*time.Minute)
			rep, err := sw.Sweep(ctx)
			if err != nil {
				t.Fatalf("Sweep() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, rep); diff != "" {
				t.Errorf("sweep mismatch (-want +got):\n%s", diff)
			}
			fx.oneSession(t, "u1", 3600)
		})
	}
}

// TestEventOfRetriedSession asks for the logout event of a session whose
// sign-out, at 2h, left its figures write to retry, 40 minutes later: it
// is the event End would run to complete it, the expiry measured up to
// the sign-out.
func TestEventOfRetriedSession(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	ctx := t.Context()
	fx.start(t, "u1", "s1")
	fx.clk.Add(100 * time.Minute)
	fx.touch(t, "s1")
	fx.clk.Add(20 * time.Minute)
	logout := fx.clk.Now()
	fx.endToRetry(t, "s1", action.Logout)
	fx.clk.Add(40 * time.Minute)
	ev, err := fx.tracker.Event(ctx, "s1", action.Logout)
	if err != nil {
		t.Fatalf("Event() error = %v", err)
	}
	active, err := ev.Session.LastActiveAt.Time()
	if ev.Trigger != action.Expire || err != nil || !active.Equal(logout) {
		t.Errorf("Event() = %s, last active %v (%v); want expire, %v",
			ev.Trigger, active, err, logout)
	}
}

// endToRetry ends the session by trigger with its figures write failing
// once: the flow revokes it and leaves the write to retry.
func (fx *fixture) endToRetry(t *testing.T, sid string, trigger action.Trigger) {
	t.Helper()
	fx.md.fail = []string{sid + "/"}
	res, err := fx.tracker.End(t.Context(), sid, trigger)
	if err != nil || res == nil || !res.Retry {
		t.Fatalf("End() = %+v, %v; want a result to retry", res, err)
	}
}

// oneSession fails the test unless the user's figures are one session
// of sec seconds.
func (fx *fixture) oneSession(t *testing.T, user string, sec int64) {
	t.Helper()
	want := sessionstats.Figures{SessionCount: 1, TotalSessionSeconds: sec,
		LastSessionDuration: sec}
	got := fx.figures(t, user)
	got.LastLogoutAt = time.Time{}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("figures mismatch (-want +got):\n%s", diff)
	}
}

// sweeper returns a sweeper of tr's sessions idle past idle.
func sweeper(t *testing.T, tr *session.Tracker,
	idle time.Duration) *session.Sweeper {

	t.Helper()
	sw, err := session.NewSweeper(tr, session.SweeperOptions{IdleTimeout: idle})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}
	return sw
}
