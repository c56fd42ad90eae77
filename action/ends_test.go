package action_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
)

func TestSessionEnds(t *testing.T) {
	want := []action.Trigger{action.Logout, action.Expire, action.Revoke}
	got := action.SessionEnds()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SessionEnds() mismatch (-want +got):\n%s", diff)
	}
	got[0] = "changed"
	if again := action.SessionEnds(); again[0] != action.Logout {
		t.Errorf("SessionEnds()[0] = %q after the caller changed its "+
			"copy, want %q", again[0], action.Logout)
	}

	for _, tc := range []struct {
		trigger action.Trigger
		want    bool
	}{
		{action.Logout, true},
		{action.Expire, true},
		{action.Revoke, true},
		{"", false},
		{"login", false},
		{"Expire", false},
	} {
		if got := tc.trigger.EndsSession(); got != tc.want {
			t.Errorf("Trigger(%q).EndsSession() = %t, want %t",
				tc.trigger, got, tc.want)
		}
	}
}

func TestDecodeLastActiveAt(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the timestamp's JSON form after decoding
	}{
		{"a time", `{"trigger": "expire", "session": {"session_id": "s1",
			"last_active_at": "2026-05-20T08:10:00Z"}}`,
			`"2026-05-20T08:10:00Z"`},
		{"absent", `{"session": {"session_id": "s1"}}`, `null`},
		{"a number is kept for the action to refuse",
			`{"session": {"last_active_at": 1779264600}}`, `1779264600`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := action.DecodeEvent([]byte(tc.in))
			if err != nil {
				t.Fatalf("DecodeEvent() error: %v", err)
			}
			got, err := json.Marshal(ev.Session.LastActiveAt)
			if err != nil || string(got) != tc.want {
				t.Errorf("last_active_at = %s, %v; want %s", got, err,
					tc.want)
			}
		})
	}
}
