package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
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
		res, err := fx.tracker.End(t.Context(), "s1", action.Logout)
		if err != nil || res == nil || !res.Repeat {
			t.Errorf("End(logout) = %+v, %v; want a repeat", res, err)
		}
		res, err = fx.runner.Run(t.Context(), &action.Event{
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

// TestEndAfterTheEnd ends a session that has already ended, or that the
// tracker never knew. An ended session is a repeat with no error,
// whatever ended it; only a session neither memory nor the store knows
// is ErrUnknown, with no result.
func TestEndAfterTheEnd(t *testing.T) {
	repeat := &flow.Result{Trigger: action.Logout, Repeat: true}
	tests := []struct {
		name string
		// prepare readies the fixture and returns the tracker to end
		// s1 through.
		prepare func(t *testing.T, fx *fixture) *session.Tracker
		want    *flow.Result
		wantErr error
		counted int64 // u1's sessions counted in the end
	}{
		{"expired by the sweeper", func(t *testing.T,
			fx *fixture) *session.Tracker {
			fx.start(t, "u1", "s1")
			fx.clk.Add(time.Hour)
			sw, err := session.NewSweeper(fx.tracker,
				session.SweeperOptions{})
			if err != nil {
				t.Fatalf("NewSweeper: %v", err)
			}
			if rep, err := sw.Sweep(t.Context()); err != nil ||
				rep.Expired != 1 {
				t.Fatalf("Sweep() = %+v, %v; want 1 expired", rep, err)
			}
			return fx.tracker
		}, repeat, nil, 1},
		{"ended by EndAll", func(t *testing.T,
			fx *fixture) *session.Tracker {
			fx.start(t, "u1", "s1")
			if n, err := fx.tracker.EndAll(t.Context(), "u1",
				action.Revoke); n != 1 || err != nil {
				t.Fatalf("EndAll() = %d, %v; want 1, nil", n, err)
			}
			return fx.tracker
		}, repeat, nil, 1},
		{"logged out already", func(t *testing.T,
			fx *fixture) *session.Tracker {
			fx.start(t, "u1", "s1")
			mustEnd(t, fx.tracker, "s1")
			return fx.tracker
		}, repeat, nil, 1},
		{"ended, but the store missed it", func(t *testing.T,
			fx *fixture) *session.Tracker {
			fx.start(t, "u1", "s1")
			fx.sessions.failEnd = map[string]bool{"s1": true}
			res, err := fx.tracker.End(t.Context(), "s1", action.Logout)
			if res == nil || !errors.Is(err, session.ErrNotMarked) ||
				!errors.Is(err, errInjected) {
				t.Fatalf("End() = %+v, %v; want a result and "+
					"ErrNotMarked", res, err)
			}
			return fx.tracker
		}, repeat, nil, 1},
		{"ended by another process, seen here", func(t *testing.T,
			fx *fixture) *session.Tracker {
			fx.start(t, "u1", "s1")
			mustEnd(t, fx.other(t, fx.sessions), "s1")
			return fx.tracker
		}, repeat, nil, 1},
		{"ended by another process, never seen here", func(t *testing.T,
			fx *fixture) *session.Tracker {
			other := fx.other(t, fx.sessions)
			if err := other.Start(t.Context(), "u1", "s1"); err != nil {
				t.Fatalf("Start: %v", err)
			}
			mustEnd(t, other, "s1")
			return fx.tracker
		}, repeat, nil, 1},
		{
			// The store cannot say it ended, but this process saw it
			// live: the runner says it is a repeat.
			"store is no Finder, seen here", func(t *testing.T,
				fx *fixture) *session.Tracker {
				tr := fx.other(t, noFinder{fx.sessions})
				if err := tr.Start(t.Context(), "u1", "s1"); err != nil {
					t.Fatalf("Start: %v", err)
				}
				mustEnd(t, fx.tracker, "s1")
				return tr
			}, repeat, nil, 1,
		},
		{"store is no Finder, never seen here", func(t *testing.T,
			fx *fixture) *session.Tracker {
			fx.start(t, "u1", "s1")
			mustEnd(t, fx.tracker, "s1")
			return fx.other(t, noFinder{fx.sessions})
		}, nil, session.ErrUnknown, 1},
		{"forgotten after the retention", func(t *testing.T,
			fx *fixture) *session.Tracker {
			fx.start(t, "u1", "s1")
			mustEnd(t, fx.tracker, "s1")
			fx.clk.Add(session.DefaultRetention + time.Hour)
			return fx.tracker
		}, nil, session.ErrUnknown, 1},
		{"never started", func(_ *testing.T,
			fx *fixture) *session.Tracker {
			return fx.tracker
		}, nil, session.ErrUnknown, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := setup(t, session.Options{}, "u1")
			tr := tc.prepare(t, fx)
			got, err := tr.End(t.Context(), "s1", action.Logout)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("End() error = %v, want %v", err, tc.wantErr)
			}
			// A repeat the runner made carries its flow's version.
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(
				flow.Result{}, "Version")); diff != "" {
				t.Errorf("End() result mismatch (-want +got):\n%s", diff)
			}
			if got := fx.figures(t, "u1").SessionCount; got != tc.counted {
				t.Errorf("session count = %d, want %d", got, tc.counted)
			}
		})
	}
}

// mustEnd ends the session by Logout, failing the test on an error.
func mustEnd(tb testing.TB, tr *session.Tracker, sid string) {
	tb.Helper()
	if res, err := tr.End(context.Background(), sid,
		action.Logout); err != nil || res == nil {
		tb.Fatalf("End(%q) = %+v, %v; want a result", sid, res, err)
	}
}

// other returns a tracker of another process: the fixture's runner and
// clock, on store.
func (fx *fixture) other(tb testing.TB,
	store session.Store) *session.Tracker {

	tb.Helper()
	tr, err := session.NewTracker(session.Options{Runner: fx.runner,
		Store: store, Clock: fx.clk})
	if err != nil {
		tb.Fatalf("NewTracker: %v", err)
	}
	return tr
}

// noFinder is a session store that cannot read an ended session.
type noFinder struct{ session.Store }
