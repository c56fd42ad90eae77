package session_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/session"
)

// TestTouchRacingEnd touches a session from many goroutines while it
// ends: once End returns, the session is not live, and every later touch
// fails.
func TestTouchRacingEnd(t *testing.T) {
	fx := setup(t, session.Options{Interval: -1}, "u1")
	fx.start(t, "u1", "s1")
	fx.clk.Add(time.Hour)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_ = fx.tracker.Touch(t.Context(), "s1")
				}
			}
		})
	}
	_, err := fx.tracker.End(t.Context(), "s1", action.Logout)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("End() error: %v", err)
	}
	if got := fx.live(t); len(got) != 0 {
		t.Errorf("live sessions = %v, want none", got)
	}
	if err := fx.tracker.Touch(t.Context(), "s1"); err == nil {
		t.Errorf("Touch() after the end error = nil, want one")
	}
	if got := fx.figures(t, "u1").SessionCount; got != 1 {
		t.Errorf("session count = %d, want 1", got)
	}
}

// TestTwoReplicasSweep: two processes, each with its own runner and
// tracker, share the user records and the sessions, and sweep at the
// same moment: every expired session counts once.
func TestTwoReplicasSweep(t *testing.T) {
	const n = 200
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("u%03d", i)
	}
	fx := setup(t, session.Options{}, users...)
	for i, u := range users {
		fx.start(t, u, fmt.Sprintf("s%03d", i))
	}

	// The second replica: its own runner on the same stores.
	r2 := fx.newRunner(t)
	tr2, err := session.NewTracker(session.Options{Runner: r2,
		Store: fx.sessions, Clock: fx.clk})
	if err != nil {
		t.Fatalf("NewTracker: %v", err)
	}
	fx.clk.Add(time.Hour)

	// Both sweep at once.
	var wg sync.WaitGroup
	for _, tr := range []*session.Tracker{fx.tracker, tr2} {
		sw, err := session.NewSweeper(tr, session.SweeperOptions{
			BatchSize: 10})
		if err != nil {
			t.Fatalf("NewSweeper: %v", err)
		}
		wg.Go(func() {
			if _, err := sw.Sweep(t.Context()); err != nil {
				t.Errorf("Sweep() error: %v", err)
			}
		})
	}
	wg.Wait()

	for _, u := range users {
		if got := fx.figures(t, u).SessionCount; got != 1 {
			t.Errorf("user %s: session count = %d, want 1", u, got)
		}
	}
	if got := fx.live(t); len(got) != 0 {
		t.Errorf("live sessions = %d, want none", len(got))
	}
}

// TestEndRacingEndAllAndSweep logs out each of a user's 50 idle sessions
// while a sweep expires them and a "sign out everywhere" revokes them:
// every End succeeds with a result, and every session counts once. (A
// repeat that joined a run under way carries that run's steps, so the
// count, not the recorded writes, says what counted.)
func TestEndRacingEndAllAndSweep(t *testing.T) {
	const n = 50
	fx := setup(t, session.Options{}, "u1")
	sids := make([]string, n)
	for i := range sids {
		sids[i] = fmt.Sprintf("s%02d", i)
		fx.start(t, "u1", sids[i])
	}
	fx.clk.Add(time.Hour)
	sw, err := session.NewSweeper(fx.tracker, session.SweeperOptions{
		BatchSize: 7})
	if err != nil {
		t.Fatalf("NewSweeper: %v", err)
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := sw.Sweep(t.Context()); err != nil {
			t.Errorf("Sweep() error: %v", err)
		}
	})
	wg.Go(func() {
		if _, err := fx.tracker.EndAll(t.Context(), "u1",
			action.Revoke); err != nil {
			t.Errorf("EndAll() error: %v", err)
		}
	})
	for _, sid := range sids {
		wg.Go(func() {
			res, err := fx.tracker.End(t.Context(), sid, action.Logout)
			if err != nil || res == nil {
				t.Errorf("End(%q) = %+v, %v; want a result, no error",
					sid, res, err)
			}
		})
	}
	wg.Wait()

	if got := fx.figures(t, "u1").SessionCount; got != n {
		t.Errorf("session count = %d, want %d", got, n)
	}
	if got := fx.live(t); len(got) != 0 {
		t.Errorf("live sessions = %v, want none", got)
	}
}
