package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/session"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// TestExpiryCountsToLastActivity: a session active at +10 min expires
// after 30 min idle, found by the sweeper on its clock's tick. It counts
// 600 s; its later logout, and a touch after the end, change nothing.
func TestExpiryCountsToLastActivity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := setup(t, session.Options{}, "u1")
		sw, err := session.NewSweeper(fx.tracker, session.SweeperOptions{
			IdleTimeout: 30 * time.Minute,
			Every:       time.Minute,
		})
		if err != nil {
			t.Fatalf("NewSweeper: %v", err)
		}
		fx.start(t, "u1", "s1")
		fx.clk.Add(10 * time.Minute)
		fx.touch(t, "s1")

		// Let the sweeper wake every minute until 30 min after the last
		// activity, and one more.
		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan error, 1)
		go func() { stopped <- sw.Run(ctx) }()
		synctest.Wait()
		for range 30 {
			fx.clk.Add(time.Minute)
			synctest.Wait()
		}
		if got := fx.figures(t, "u1").SessionCount; got != 0 {
			t.Fatalf("counted after 30 min idle = %d, want 0", got)
		}
		fx.clk.Add(time.Minute)
		synctest.Wait()
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}

		want := sessionstats.Figures{
			SessionCount:        1,
			TotalSessionSeconds: 600,
			LastSessionDuration: 600,
			LastLogoutAt:        t0.Add(41 * time.Minute),
		}
		if diff := cmp.Diff(want, fx.figures(t, "u1")); diff != "" {
			t.Errorf("after expiry, figures mismatch (-want +got):\n%s",
				diff)
		}

		// The logout that follows counts nothing more, whether it goes
		// through the tracker or straight to the runner.
		_, err = fx.tracker.End(t.Context(), "s1", action.Logout)
		if !errors.Is(err, session.ErrUnknown) {
			t.Errorf("End(logout) error = %v, want ErrUnknown", err)
		}
		res, err := fx.runner.Run(t.Context(), &action.Event{
			Trigger: action.Logout,
			User:    action.User{ID: "u1", LastLoginAt: action.At(t0)},
			Session: action.Session{ID: "s1"},
		})
		if err != nil || !res.Repeat {
			t.Errorf("logout Run() = %+v, %v; want a repeat", res, err)
		}

		// Nor does a touch bring the session back.
		err = fx.tracker.Touch(t.Context(), "s1")
		if !errors.Is(err, session.ErrUnknown) {
			t.Errorf("Touch after the end error = %v, want ErrUnknown", err)
		}
		if diff := cmp.Diff(want, fx.figures(t, "u1")); diff != "" {
			t.Errorf("after logout, figures mismatch (-want +got):\n%s",
				diff)
		}
		if got := fx.live(t); len(got) != 0 {
			t.Errorf("live sessions = %v, want none", got)
		}
	})
}

// TestEndsCountOnce ends one session by two triggers in turn: whichever
// comes first counts, the second counts nothing.
func TestEndsCountOnce(t *testing.T) {
	tests := []struct {
		name          string
		first, second action.Trigger
		want          int64 // the duration counted
	}{
		{"logout then expiry", action.Logout, action.Expire, 1200},
		{"expiry then logout", action.Expire, action.Logout, 600},
		{"revoke then logout", action.Revoke, action.Logout, 600},
		{"logout twice", action.Logout, action.Logout, 1200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := setup(t, session.Options{}, "u1")
			fx.start(t, "u1", "s1")
			fx.clk.Add(10 * time.Minute)
			fx.touch(t, "s1")
			fx.clk.Add(10 * time.Minute)

			if _, err := fx.tracker.End(t.Context(), "s1",
				tc.first); err != nil {
				t.Fatalf("End(%s) error: %v", tc.first, err)
			}

			// The tracker has forgotten the session; an event built
			// elsewhere finds it ended in the runner.
			ev := &action.Event{Trigger: tc.second,
				User:    action.User{ID: "u1", LastLoginAt: action.At(t0)},
				Session: action.Session{ID: "s1"}}
			res, err := fx.runner.Run(t.Context(), ev)
			if err != nil || !res.Repeat {
				t.Errorf("Run(%s) = %+v, %v; want a repeat", tc.second,
					res, err)
			}
			got := fx.figures(t, "u1")
			if got.SessionCount != 1 || got.TotalSessionSeconds != tc.want {
				t.Errorf("figures = %+v, want 1 session of %d s", got,
					tc.want)
			}
		})
	}
}

// TestSignOutEverywhere ends a user's three sessions by Revoke: three
// are counted, each up to its own last activity; another user's session
// stays live.
func TestSignOutEverywhere(t *testing.T) {
	fx := setup(t, session.Options{}, "u1", "u2")
	fx.start(t, "u2", "other")
	sessions := []struct {
		id           string
		startAt      time.Duration
		lastActiveAt time.Duration
	}{
		{"s1", 0, 50 * time.Minute},
		{"s2", time.Hour, 80 * time.Minute},
		{"s3", 2 * time.Hour, 125 * time.Minute},
	}
	for _, s := range sessions {
		fx.clk.Set(t0.Add(s.startAt))
		fx.start(t, "u1", s.id)
	}
	for _, s := range sessions {
		fx.clk.Set(t0.Add(s.lastActiveAt))
		fx.touch(t, s.id)
	}
	fx.clk.Set(t0.Add(3 * time.Hour))

	n, err := fx.tracker.EndAll(t.Context(), "u1", action.Revoke)
	if err != nil || n != 3 {
		t.Fatalf("EndAll() = %d, %v; want 3, nil", n, err)
	}
	wantDurations := map[string][]int64{
		"s1": {3000}, "s2": {1200}, "s3": {300},
	}
	if diff := cmp.Diff(wantDurations, fx.runner.written()); diff != "" {
		t.Errorf("durations mismatch (-want +got):\n%s", diff)
	}
	got := fx.figures(t, "u1")
	if got.SessionCount != 3 || got.TotalSessionSeconds != 4500 {
		t.Errorf("figures = %+v, want 3 sessions, 4500 s", got)
	}
	if diff := cmp.Diff([]string{"other"}, fx.live(t)); diff != "" {
		t.Errorf("live sessions mismatch (-want +got):\n%s", diff)
	}

	// Signing out everywhere again finds nothing to end.
	if n, err := fx.tracker.EndAll(t.Context(), "u1",
		action.Revoke); n != 0 || err != nil {
		t.Errorf("second EndAll() = %d, %v; want 0, nil", n, err)
	}
}

// TestEndAllKeepsGoing: a failed revocation of one session leaves it
// live and reports it; the others end.
func TestEndAllKeepsGoing(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	for _, sid := range []string{"s1", "s2", "s3"} {
		fx.start(t, "u1", sid)
	}
	fx.rev.fail = map[string]bool{"s2": true}

	n, err := fx.tracker.EndAll(t.Context(), "u1", action.Revoke)
	if n != 2 || !errors.Is(err, errInjected) {
		t.Fatalf("EndAll() = %d, %v; want 2 and errInjected", n, err)
	}
	if diff := cmp.Diff([]string{"s2"}, fx.live(t)); diff != "" {
		t.Errorf("live sessions mismatch (-want +got):\n%s", diff)
	}

	// Trying again ends it, and it counts once.
	if n, err := fx.tracker.EndAll(t.Context(), "u1",
		action.Revoke); n != 1 || err != nil {
		t.Errorf("second EndAll() = %d, %v; want 1, nil", n, err)
	}
	if got := fx.figures(t, "u1").SessionCount; got != 3 {
		t.Errorf("session count = %d, want 3", got)
	}
}

// TestServerDetectsExpiry: a server that sees expiry itself ends the
// session by Expire, with the same measure as the sweeper.
func TestServerDetectsExpiry(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	fx.start(t, "u1", "s1")
	fx.clk.Add(15 * time.Minute)
	fx.touch(t, "s1")
	fx.clk.Add(time.Hour)

	ev, err := fx.tracker.Event(t.Context(), "s1", action.Expire)
	if err != nil {
		t.Fatalf("Event() error: %v", err)
	}
	want := &action.Event{
		Trigger: action.Expire,
		User:    action.User{ID: "u1", LastLoginAt: action.At(t0)},
		Session: action.Session{ID: "s1", CreatedAt: action.At(t0),
			LastActiveAt: action.At(t0.Add(15 * time.Minute))},
	}
	if diff := cmp.Diff(want, ev, cmp.Comparer(sameStamp)); diff != "" {
		t.Errorf("Event() mismatch (-want +got):\n%s", diff)
	}

	if _, err := fx.tracker.End(t.Context(), "s1",
		action.Expire); err != nil {
		t.Fatalf("End(expire) error: %v", err)
	}
	if got := fx.figures(t, "u1").TotalSessionSeconds; got != 900 {
		t.Errorf("total = %d s, want 900", got)
	}
}

// sameStamp compares timestamps by their JSON form.
func sameStamp(a, b action.Timestamp) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && string(ja) == string(jb)
}
