// Package sessionstats is the track-logout-stats action: at every end of a
// session it keeps the user's session figures in app_metadata.
//
// It runs on every session-end trigger ([action.SessionEnds]): a sign-out
// ([action.Logout]), an expiry ([action.Expire]) and a revocation
// ([action.Revoke]), through the same code. For each it measures the
// session from the user's last_login_at to the end of its use, rounded to
// the nearest second, and writes four keys in one atomic update:
// [KeyLastLogoutAt], [KeyLastSessionDuration], [KeySessionCount] and
// [KeyTotalSessionSeconds]. A session shorter than [Options.MinDuration],
// or whose start is missing or unparseable, is counted with a duration of
// 0. Figures are integers that saturate at [MaxInt]. Read them back with
// [Read].
//
// The end of a session's use depends on what ended it:
//
//   - a logout ends it at the clock's now: the user was there to click;
//   - an expiry ends it at its last activity, the event's
//     [action.Session.LastActiveAt], never later than now: the idle time
//     before the expiry was noticed is not use. An expired session with
//     no last activity, or an unparseable one, is counted as 0 s, with a
//     warning: nothing is guessed;
//   - a revocation ends it at its last activity when the event carries
//     one, since the session revoked by "sign out everywhere" may have
//     been idle for days, and at now otherwise.
//
// Each session counts once, whichever end comes first: the flow runner
// runs nothing for a session that has already ended (see package flow).
//
// With [Options.CountByTrigger] the action also says how sessions ended:
// [KeyLastSessionEnd] and one count per trigger ([CountKey]). These keys
// are off by default; the four keys above mean the same either way.
package sessionstats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// Name is the action's registered name.
const Name = "track-logout-stats"

// Keys the action writes to app_metadata; without
// [Options.CountByTrigger] it writes no others.
//
// KeyLastLogoutAt holds the clock's now when the last session ended,
// whatever ended it: for an expiry, the moment the expiry flow ran (not
// the last activity, which the duration already reflects); for a
// revocation, the moment it was revoked. Its name predates the other
// triggers; it means "last session end recorded".
const (
	KeyLastLogoutAt        = "last_logout_at"
	KeyLastSessionDuration = "last_session_duration_sec"
	KeySessionCount        = "session_count"
	KeyTotalSessionSeconds = "total_session_seconds"
)

// Keys written only with [Options.CountByTrigger].
const (
	// KeyLastSessionEnd holds the trigger that ended the last session:
	// "logout", "expire" or "revoke".
	KeyLastSessionEnd = "last_session_end"

	// KeyCountPrefix starts the key of each trigger's count of ended
	// sessions; see [CountKey].
	KeyCountPrefix = "session_count_by_"
)

// CountKey returns the app_metadata key that counts the sessions ended
// by t with [Options.CountByTrigger]: "session_count_by_expire" for
// [action.Expire]. An empty t counts as [action.Logout]. Together the
// counts hold every session counted since the option was turned on.
func CountKey(t action.Trigger) string {
	if t == "" {
		t = action.Logout
	}
	return KeyCountPrefix + string(t)
}

// MaxInt is where every figure saturates: 2^53 - 1, the largest integer a
// JavaScript reader holds exactly.
const MaxInt = 1<<53 - 1

// DefaultMinDuration is the shortest session recorded when
// [Options.MinDuration] is zero.
const DefaultMinDuration = 60 * time.Second

// ErrNoEvent is returned when the action is run without an event.
var ErrNoEvent = errors.New("sessionstats: no event")

// Clock tells the time. Both clocks of github.com/benbjohnson/clock fit.
type Clock interface {
	Now() time.Time
}

// Options configures the action. The zero value means the defaults.
type Options struct {
	// Clock gives now; nil means the real clock.
	Clock Clock

	// MinDuration: a shorter session is recorded as 0 s (but counted);
	// zero means DefaultMinDuration, and a negative value records every
	// session, however short.
	MinDuration time.Duration

	// CountByTrigger also writes how sessions end: [KeyLastSessionEnd]
	// and the count of the trigger ([CountKey]). Off by default.
	CountByTrigger bool
}

// Messages of the action's logs.
const (
	msgMissing   = "last_login_at missing: session recorded as 0 s"
	msgBadLogin  = "last_login_at unparseable: session recorded as 0 s"
	msgNoActive  = "last_active_at missing: expired session recorded as 0 s"
	msgBadActive = "last_active_at unparseable: expired session " +
		"recorded as 0 s"
	msgBadRevoke = "last_active_at unparseable: revoked session " +
		"measured to now"
	msgTooShort  = "session too short to record: written as 0 s"
	msgWrongType = "stored figure was a string: read as a number"
	msgInvalid   = "stored figure invalid: counted from 0"
	msgRecorded  = "session recorded"
	msgAlready   = "session recorded by an earlier run"
)

// Attribute keys of the action's logs, besides the app_metadata keys the
// summary uses for its figures.
const (
	attrValue    = "last_login_at_shape" // the unparseable JSON's shape
	attrActive   = "last_active_at_shape"
	attrMeasured = "measured_sec" // the session before it was cut to 0
	attrMin      = "min_sec"
	attrKey      = "key"  // the app_metadata key of a bad figure
	attrKind     = "kind" // its JSON kind
)

// logoutLayout is how [KeyLastLogoutAt] is written: UTC, milliseconds, 'Z'.
const logoutLayout = "2006-01-02T15:04:05.000Z"

// maxLoggedValue is how many characters of an unparseable timestamp's
// shape a warning shows.
const maxLoggedValue = 64

// New returns the track-logout-stats action, for every session-end
// trigger ([action.SessionEnds]).
func New(opts Options) action.Action {
	s := &stats{
		clock:     opts.Clock,
		minSec:    minSeconds(opts.MinDuration),
		byTrigger: opts.CountByTrigger,
	}
	if s.clock == nil {
		s.clock = clock.New()
	}
	return action.Action{
		Name:     Name,
		Triggers: action.SessionEnds(),
		Run:      s.run,

		// Every wait of the action is a store call under its context,
		// and all it does goes through its API.
		Inline: true,
		Pure:   true,
		Once:   true,
	}
}

type stats struct {
	clock     Clock
	minSec    int64 // shortest duration recorded, in whole seconds, >= 0
	byTrigger bool
}

// minSeconds returns the whole seconds a session needs to be recorded.
func minSeconds(d time.Duration) int64 {
	switch {
	case d == 0:
		d = DefaultMinDuration
	case d < 0:
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func (s *stats) run(ctx context.Context, ev *action.Event, api action.API) error {
	if ev == nil {
		return ErrNoEvent
	}
	now := s.clock.Now()
	trigger := ev.Trigger
	if trigger == "" {
		trigger = action.Logout
	}

	// Measure the session up to the end of its use; without a start or
	// an end it counts as 0 s.
	var duration int64
	start, err := ev.User.LastLoginAt.Time()
	switch {
	case errors.Is(err, action.ErrMissingTime):
		api.Log(slog.LevelWarn, msgMissing)
	case err != nil:
		api.Log(slog.LevelWarn, msgBadLogin,
			slog.String(attrValue, shape(ev.User.LastLoginAt.Raw())))
	}
	end, known := useEnded(ev, trigger, now, api)
	measured := err == nil && known
	if measured {
		duration = seconds(start, end)
	}

	// A reload or a probe is not use; clock skew is not negative use.
	if measured && duration < s.minSec {
		api.Log(slog.LevelInfo, msgTooShort,
			slog.Int64(attrMeasured, duration), slog.Int64(attrMin, s.minSec))
		duration = 0
	}

	// Add to the figures stored at the moment of the write, not to the
	// event's snapshot, so that concurrent logouts all count.
	var stamp [len(logoutLayout)]byte
	u := &update{
		lastLogout: string(appendStamp(stamp[:0], now)),
		duration:   duration,
	}
	if s.byTrigger {
		u.trigger = trigger
	}
	if err := api.User().UpdateAppMetadataView(ctx, u.patch); err != nil {
		return fmt.Errorf("sessionstats: recording the session: %w", err)
	}

	// Warn about bad stored figures once, whatever times the store ran
	// the update.
	for _, bad := range u.bad {
		switch {
		case bad.key == "":
		case bad.read:
			api.Log(slog.LevelWarn, msgWrongType,
				slog.String(attrKey, bad.key))
		default:
			api.Log(slog.LevelWarn, msgInvalid,
				slog.String(attrKey, bad.key), slog.String(attrKind, bad.kind))
		}
	}

	// Sum it up, unless the store found the write applied by an earlier
	// run of the session and never called patch: there is nothing new.
	if !u.called {
		api.Log(slog.LevelDebug, msgAlready)
		return nil
	}
	api.Log(slog.LevelInfo, msgRecorded,
		slog.Int64(KeyLastSessionDuration, duration),
		slog.Int64(KeySessionCount, u.count),
		slog.Int64(KeyTotalSessionSeconds, u.total))
	return nil
}

// useEnded returns when the session's use ended, by trigger (see the
// package comment), and false when that cannot be known. It logs why.
func useEnded(ev *action.Event, trigger action.Trigger, now time.Time,
	api action.API) (time.Time, bool) {

	if trigger != action.Expire && trigger != action.Revoke {
		return now, true
	}

	// Use ends at the last activity, never after now.
	active, err := ev.Session.LastActiveAt.Time()
	switch {
	case err == nil && active.After(now):
		return now, true
	case err == nil:
		return active, true
	case trigger == action.Revoke && errors.Is(err, action.ErrMissingTime):
		return now, true
	case trigger == action.Revoke:
		api.Log(slog.LevelWarn, msgBadRevoke,
			slog.String(attrActive, shape(ev.Session.LastActiveAt.Raw())))
		return now, true
	case errors.Is(err, action.ErrMissingTime):
		api.Log(slog.LevelWarn, msgNoActive)
	default:
		api.Log(slog.LevelWarn, msgBadActive,
			slog.String(attrActive, shape(ev.Session.LastActiveAt.Raw())))
	}
	return time.Time{}, false
}

// update computes the patch of one session end from the stored figures.
// The store may call patch more than once; the last call's results stand.
type update struct {
	lastLogout string
	duration   int64
	trigger    action.Trigger // set when counting by trigger

	// Results of the last call; called says there was one.
	called       bool
	count, total int64
	bad          [3]badFigure
}

func (u *update) patch(cur metadata.View) (metadata.Map, error) {
	u.called = true

	// Read the stored figures, noting the bad ones for later warnings.
	var count, total int64
	count, u.bad[0] = readFigure(cur, KeySessionCount)
	total, u.bad[1] = readFigure(cur, KeyTotalSessionSeconds)

	// Count the session and its duration, stopping at MaxInt.
	u.count = addSat(count, 1)
	u.total = addSat(total, u.duration)
	p := make(metadata.Map, 6)
	p[KeyLastLogoutAt] = u.lastLogout
	p[KeyLastSessionDuration] = u.duration
	p[KeySessionCount] = u.count
	p[KeyTotalSessionSeconds] = u.total

	// Say how it ended, when asked to.
	if u.trigger != "" {
		key := CountKey(u.trigger)
		var ended int64
		ended, u.bad[2] = readFigure(cur, key)
		p[key] = addSat(ended, 1)
		p[KeyLastSessionEnd] = string(u.trigger)
	}
	return p, nil
}

// badFigure describes a stored figure that was not a valid number: its
// key, its JSON kind, and whether it was read all the same (a decimal
// string). The zero badFigure means the figure was fine or absent.
type badFigure struct {
	key, kind string
	read      bool
}

// readFigure reads a figure from stored app_metadata, absent being 0.
// A finite number in [0, MaxInt] is used, rounded down; so is a decimal
// string, reported as bad but read; any other value counts as 0.
func readFigure(m metadata.View, key string) (int64, badFigure) {
	v, ok := m.Get(key)
	if !ok {
		return 0, badFigure{}
	}
	if s, ok := v.(string); ok {
		n, ok := parseDecimal(s)
		return n, badFigure{key: key, kind: "string", read: ok}
	}
	n, ok := metadata.Int(v)
	if !ok || n < 0 || n > MaxInt {
		return 0, badFigure{key: key, kind: jsonKind(v)}
	}
	return n, badFigure{}
}

// jsonKind names the JSON kind of a value of app_metadata.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case metadata.Map, map[string]any:
		return "object"
	case []any:
		return "array"
	case float64, float32, json.Number, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, uintptr:
		return "number"
	default:
		return "unsupported"
	}
}

// parseDecimal reads a plain non-negative decimal number, digits with an
// optional fraction ("5", "3.5"), rounded down. Signs, blanks, exponents
// and figures beyond MaxInt are refused.
func parseDecimal(s string) (int64, bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if !allDigits(whole) || (dot && !allDigits(frac)) {
		return 0, false
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || n > MaxInt {
		return 0, false
	}
	return n, true
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// seconds returns now - start in whole seconds, rounded to the nearest,
// halves up, and held within ±MaxInt. It works from Unix seconds, not
// time.Time.Sub, which saturates near 292 years.
func seconds(start, now time.Time) int64 {
	// Whole seconds first, stopping far past what can be written.
	a, b := now.Unix(), start.Unix()
	var d int64
	switch {
	case a >= b && uint64(a)-uint64(b) > MaxInt+1:
		return MaxInt
	case a < b && uint64(b)-uint64(a) > MaxInt+1:
		return -MaxInt
	default:
		d = a - b
	}

	// Then the nanoseconds, which tip the rounding.
	ns := now.Nanosecond() - start.Nanosecond()
	if ns < 0 {
		d--
		ns += 1e9
	}
	if ns >= 5e8 {
		d++
	}
	return min(max(d, -MaxInt), MaxInt)
}

// addSat returns a + b for figures in [0, MaxInt], stopping at MaxInt.
func addSat(a, b int64) int64 {
	if b > MaxInt-a {
		return MaxInt
	}
	return a + b
}

// shape describes an unparseable timestamp's JSON text without its
// content, which may be anything, personal data included: each digit
// becomes '9', each letter 'a' or 'A' by its case, any other non-ASCII
// character '?', and the rest (punctuation, quotes, spaces) stays, cut
// to maxLoggedValue characters. "2026-05-20" shows as "9999-99-99" and
// "alice@example.com" as "aaaaa@aaaaaaa.aaa": enough to tell a format
// slip, nothing to tell who.
func shape(raw string) string {
	var b strings.Builder
	n := 0
	for _, c := range raw {
		if n == maxLoggedValue {
			b.WriteString("...")
			break
		}
		n++
		switch {
		case unicode.IsDigit(c):
			c = '9'
		case unicode.IsUpper(c):
			c = 'A'
		case unicode.IsLetter(c):
			c = 'a'
		case c > unicode.MaxASCII:
			c = '?'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Figures are a user's session figures as read back from app_metadata.
type Figures struct {
	SessionCount        int64
	TotalSessionSeconds int64
	LastSessionDuration int64     // seconds
	LastLogoutAt        time.Time // zero when never signed out
}

// Read returns the figures stored in m, reading each key as the action
// does (an invalid value counts as 0). LastLogoutAt is zero when the key
// is missing or not a time [action.ParseTime] accepts.
func Read(m metadata.Map) Figures {
	var f Figures
	v := metadata.ViewOf(m)
	f.SessionCount, _ = readFigure(v, KeySessionCount)
	f.TotalSessionSeconds, _ = readFigure(v, KeyTotalSessionSeconds)
	f.LastSessionDuration, _ = readFigure(v, KeyLastSessionDuration)
	if s, ok := m[KeyLastLogoutAt].(string); ok {
		f.LastLogoutAt, _ = action.ParseTime(s)
	}
	return f
}

// AverageSessionSeconds returns the mean length of the counted sessions,
// those recorded as 0 s included, or 0 when none was counted.
func (f Figures) AverageSessionSeconds() float64 {
	if f.SessionCount <= 0 {
		return 0
	}
	return float64(f.TotalSessionSeconds) / float64(f.SessionCount)
}
