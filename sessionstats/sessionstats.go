// Package sessionstats is the track-logout-stats action: at every sign-out
// it keeps the user's session figures in app_metadata.
package sessionstats

import (
	"time"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// Name is the action's registered name.
const Name = "track-logout-stats"

// Keys the action writes to app_metadata; it writes no others.
const (
	KeyLastLogoutAt        = "last_logout_at"
	KeyLastSessionDuration = "last_session_duration_sec"
	KeySessionCount        = "session_count"
	KeyTotalSessionSeconds = "total_session_seconds"
)

// MaxInt is where every figure saturates: 2^53 - 1, the largest integer a
// JavaScript reader holds exactly.
const MaxInt = 1<<53 - 1

// DefaultMinDuration is the shortest session recorded when
// [Options.MinDuration] is zero.
const DefaultMinDuration = 60 * time.Second

// Clock tells the time. Both clocks of github.com/benbjohnson/clock fit.
type Clock interface {
	Now() time.Time
}

// Options configures the action. The zero value means the defaults.
type Options struct {
	// Clock gives now; nil means the real clock.
	Clock Clock

	// MinDuration: a shorter session is recorded as 0 s (but counted);
	// zero means DefaultMinDuration.
	MinDuration time.Duration
}

// New returns the track-logout-stats action.
func New(opts Options) action.Action {
	panic("TODO")
}

// Figures are a user's session figures as read back from app_metadata.
type Figures struct {
	SessionCount        int64
	TotalSessionSeconds int64
	LastSessionDuration int64     // seconds
	LastLogoutAt        time.Time // zero when never signed out
}

// Read returns the figures stored in m, reading each key as the action
// does (an invalid value counts as 0).
func Read(m metadata.Map) Figures {
	panic("TODO")
}
