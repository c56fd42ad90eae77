package action

import "github.com/logoutflow/logoutflow/metadata"

// Event is what an action receives: the user whose session ends and the
// session itself. Its JSON form uses snake_case names:
//
//	{"trigger": "logout",
//	 "user": {"user_id": "u1", "email": "a@example.com",
//	          "last_login_at": "2026-05-20T08:00:00.000Z",
//	          "app_metadata": {"session_count": 3}},
//	 "session": {"session_id": "s1", "created_at": "...",
//	             "last_active_at": "..."}}
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
	// atomic update (see [UserAPI.UpdateAppMetadata]). The flow runner
	// passes it to the store as a guess of the stored value
	// (metadata.GuardedUpdate.Expect): an auth server that reads the
	// user's record at logout anyway, for LastLoginAt, and puts the
	// record's app_metadata here saves a store across a network a round
	// trip; a stale or missing snapshot costs that round trip back,
	// never a wrong count.
	AppMetadata metadata.Map `json:"app_metadata,omitempty"`
}

// Session is the session part of an [Event].
type Session struct {
	ID        string    `json:"session_id"`
	CreatedAt Timestamp `json:"created_at"`

	// LastActiveAt is the session's last reported activity, as the auth
	// server (or package session's tracker) sent it; it may be absent.
	// An [Expire] event measures the session up to it.
	LastActiveAt Timestamp `json:"last_active_at"`
}
