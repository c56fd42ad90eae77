package action

import (
	"errors"
	"time"

	"github.com/logoutflow/logoutflow/metadata"
)

// Event is what an action receives: the user whose session ends and the
// session itself. Its JSON form uses snake_case names:
//
//	{"trigger": "logout",
//	 "user": {"user_id": "u1", "email": "a@example.com",
//	          "last_login_at": "2026-05-20T08:00:00.000Z",
//	          "app_metadata": {"session_count": 3}},
//	 "session": {"session_id": "s1", "created_at": "..."}}
type Event struct {
	// Trigger is the trigger of the flow that runs; empty means Logout.
	Trigger Trigger `json:"trigger,omitempty"`
	User    User    `json:"user"`
	Session Session `json:"session"`
}

// User is the user part of an [Event].
type User struct {
	ID    string `json:"user_id"`
	Email string `json:"email,omitempty"`

	// LastLoginAt is when the ending session began, as the auth server
	// sent it: it may be absent or unparseable.
	LastLoginAt Timestamp `json:"last_login_at"`

	// AppMetadata is a snapshot taken when the event was built. Actions
	// that accumulate must not trust it: they read the stored value in an
	// atomic update (see [UserAPI.UpdateAppMetadata]).
	AppMetadata metadata.Map `json:"app_metadata,omitempty"`
}

// Session is the session part of an [Event].
type Session struct {
	ID        string    `json:"session_id"`
	CreatedAt Timestamp `json:"created_at"`
}

// Errors from [Timestamp.Time] and [ParseTime].
var (
	ErrMissingTime = errors.New("action: time missing")
	ErrBadTime     = errors.New("action: time unparseable")
)

// Timestamp is a point in time as an event carries it. Unlike time.Time it
// keeps what it was given when that was not a time, so that decoding an
// event never fails on a bad timestamp: the action that reads it decides
// what to do (track-logout-stats warns and records a duration of 0).
//
// The zero Timestamp is absent.
type Timestamp struct {
	t     time.Time
	valid bool   // t holds the time
	raw   string // the JSON text received, when not from a time.Time
}

// At returns the Timestamp of t.
func At(t time.Time) Timestamp { return Timestamp{t: t, valid: true} }

// IsZero reports whether the timestamp is absent.
func (ts Timestamp) IsZero() bool { return !ts.valid && ts.raw == "" }

// Raw returns the JSON text the timestamp was decoded from, or "".
func (ts Timestamp) Raw() string { return ts.raw }

// Time returns the time the timestamp holds. It returns an error wrapping
// [ErrMissingTime] when the timestamp is absent or JSON null, and one
// wrapping [ErrBadTime] when it is not a string that [ParseTime] accepts.
func (ts Timestamp) Time() (time.Time, error) {
	panic("TODO")
}

// ParseTime parses a timestamp as the SPEC accepts it: RFC 3339 with 'Z' or
// a numeric offset and any number of fractional digits; no offset meaning
// UTC whatever the host's zone; a space in place of the 'T'; PostgreSQL's
// text form with an hour-only offset ("2026-05-20 08:00:00.123+00").
// Anything else, dates alone and impossible dates included, is an error
// wrapping [ErrBadTime].
func ParseTime(s string) (time.Time, error) {
	panic("TODO")
}
