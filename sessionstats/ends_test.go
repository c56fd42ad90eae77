package sessionstats_test

import (
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/action/actiontest"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// endEvent returns an event of user u1's session ending by trigger,
// begun at login and last active at active.
func endEvent(trigger action.Trigger,
	login, active action.Timestamp) *action.Event {

	return &action.Event{
		Trigger: trigger,
		User:    action.User{ID: "u1", LastLoginAt: login},
		Session: action.Session{ID: "s1", CreatedAt: login,
			LastActiveAt: active},
	}
}

// messages returns the messages the action logged, in order.
func messages(calls []action.Call) []string {
	var out []string
	for _, c := range calls {
		if c.API == action.CallLog {
			out = append(out, c.Message)
		}
	}
	return out
}

func TestNewHandlesEverySessionEnd(t *testing.T) {
	a := sessionstats.New(sessionstats.Options{})
	for _, tr := range action.SessionEnds() {
		if !a.Handles(tr) {
			t.Errorf("Handles(%q) = false, want true", tr)
		}
	}
	if a.Handles("login") {
		t.Errorf(`Handles("login") = true, want false`)
	}
}

func TestSessionEndDuration(t *testing.T) {
	login := time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	now := login.Add(2 * time.Hour)
	at := func(d time.Duration) action.Timestamp {
		return action.At(login.Add(d))
	}
	const (
		summary   = "session recorded"
		tooShort  = "session too short to record: written as 0 s"
		noActive  = "last_active_at missing: expired session recorded as 0 s"
		badActive = "last_active_at unparseable: expired session " +
			"recorded as 0 s"
		badRevoke = "last_active_at unparseable: revoked session " +
			"measured to now"
		noLogin = "last_login_at missing: session recorded as 0 s"
	)
	var bad action.Timestamp
	if err := bad.UnmarshalJSON([]byte(`"yesterday"`)); err != nil {
		t.Fatalf("UnmarshalJSON: %v", err)
	}

	tests := []struct {
		name    string
		trigger action.Trigger
		login   action.Timestamp
		active  action.Timestamp
		want    int64
		logs    []string
	}{
		{"logout ignores the last activity", action.Logout,
			at(0), at(10 * time.Minute), 7200, []string{summary}},
		{"expiry ends at the last activity", action.Expire,
			at(0), at(10 * time.Minute), 600, []string{summary}},
		{"expiry never counts past now", action.Expire,
			at(0), at(3 * time.Hour), 7200, []string{summary}},
		{"expiry without activity counts 0 s", action.Expire,
			at(0), action.Timestamp{}, 0, []string{noActive, summary}},
		{"expiry with bad activity counts 0 s", action.Expire,
			at(0), bad, 0, []string{badActive, summary}},
		{"expiry soon after login is too short", action.Expire,
			at(0), at(30 * time.Second), 0, []string{tooShort, summary}},
		{"expiry without login counts 0 s", action.Expire,
			action.Timestamp{}, at(10 * time.Minute), 0,
			[]string{noLogin, summary}},
		{"revocation ends at the last activity", action.Revoke,
			at(0), at(45 * time.Minute), 2700, []string{summary}},
		{"revocation without activity ends now", action.Revoke,
			at(0), action.Timestamp{}, 7200, []string{summary}},
		{"revocation with bad activity ends now", action.Revoke,
			at(0), bad, 7200, []string{badRevoke, summary}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewMock()
			clk.Set(now)
			a := sessionstats.New(sessionstats.Options{Clock: clk})
			ev := endEvent(tc.trigger, tc.login, tc.active)
			r, err := actiontest.Run(t.Context(), a, ev,
				actiontest.Options{})
			if err != nil {
				t.Fatalf("Run() error: %v", err)
			}

			want := sessionstats.Figures{
				SessionCount:        1,
				TotalSessionSeconds: tc.want,
				LastSessionDuration: tc.want,
				LastLogoutAt:        now,
			}
			got := sessionstats.Read(r.AppMetadata())
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("figures mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.logs, messages(r.Calls())); diff != "" {
				t.Errorf("logs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCountByTrigger(t *testing.T) {
	login := time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	clk := clock.NewMock()
	clk.Set(login.Add(time.Hour))
	active := action.At(login.Add(20 * time.Minute))

	tests := []struct {
		name    string
		on      bool
		stored  metadata.Map
		trigger action.Trigger
		want    metadata.Map // the keys beyond the four of the SPEC
	}{
		{"off by default", false, nil, action.Expire, metadata.Map{}},
		{"first expiry", true, nil, action.Expire, metadata.Map{
			sessionstats.KeyLastSessionEnd:       "expire",
			sessionstats.CountKey(action.Expire): int64(1),
		}},
		{"empty trigger is a logout", true, nil, "", metadata.Map{
			sessionstats.KeyLastSessionEnd:       "logout",
			sessionstats.CountKey(action.Logout): int64(1),
		}},
		{"adds to the stored count", true, metadata.Map{
			sessionstats.CountKey(action.Revoke): 4,
			sessionstats.CountKey(action.Logout): 9,
		}, action.Revoke, metadata.Map{
			sessionstats.KeyLastSessionEnd:       "revoke",
			sessionstats.CountKey(action.Revoke): int64(5),
			sessionstats.CountKey(action.Logout): 9,
		}},
		{"a bad stored count restarts from 0", true, metadata.Map{
			sessionstats.CountKey(action.Expire): "many",
		}, action.Expire, metadata.Map{
			sessionstats.KeyLastSessionEnd:       "expire",
			sessionstats.CountKey(action.Expire): int64(1),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := sessionstats.New(sessionstats.Options{Clock: clk,
				CountByTrigger: tc.on})
			ev := endEvent(tc.trigger, action.At(login), active)
			ev.User.AppMetadata = tc.stored
			r, err := actiontest.Run(t.Context(), a, ev,
				actiontest.Options{})
			if err != nil {
				t.Fatalf("Run() error: %v", err)
			}

			// The four keys mean what they always meant.
			md := r.AppMetadata()
			if got := sessionstats.Read(md).SessionCount; got != 1 {
				t.Errorf("session count = %d, want 1", got)
			}
			extra := metadata.Map{}
			for k, v := range md {
				if !slices.Contains(spec4, k) {
					extra[k] = v
				}
			}
			if diff := cmp.Diff(tc.want, extra); diff != "" {
				t.Errorf("extra keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// spec4 are the four keys the SPEC defines.
var spec4 = []string{
	sessionstats.KeyLastLogoutAt, sessionstats.KeyLastSessionDuration,
	sessionstats.KeySessionCount, sessionstats.KeyTotalSessionSeconds,
}

func TestCountKey(t *testing.T) {
	for tr, want := range map[action.Trigger]string{
		"":            "session_count_by_logout",
		action.Logout: "session_count_by_logout",
		action.Expire: "session_count_by_expire",
		action.Revoke: "session_count_by_revoke",
	} {
		if got := sessionstats.CountKey(tr); got != want {
			t.Errorf("CountKey(%q) = %q, want %q", tr, got, want)
		}
	}
}
