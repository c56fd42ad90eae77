package sessionstats_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // TestNoOffsetUnderTZ's zones, on any host

	"github.com/benbjohnson/clock"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/action/actiontest"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// login is when most sessions below began; now, two hours later, when
// they end.
var (
	login = time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	now   = login.Add(2 * time.Hour)
)

// Messages the action logs, as the tests expect them word for word.
const (
	msgMissing   = "last_login_at missing: session recorded as 0 s"
	msgBadLogin  = "last_login_at unparseable: session recorded as 0 s"
	msgTooShort  = "session too short to record: written as 0 s"
	msgWrongType = "stored figure was a string: read as a number"
	msgInvalid   = "stored figure invalid: counted from 0"
	msgRecorded  = "session recorded"
)

// callOpts compares action.Call values: slog values by Equal, errors by
// errors.Is.
var callOpts = cmp.Options{
	cmp.Comparer(func(a, b slog.Value) bool { return a.Equal(b) }),
	cmpopts.EquateErrors(),
}

// at returns a mock clock set to t.
func at(t time.Time) *clock.Mock {
	c := clock.NewMock()
	c.Set(t)
	return c
}

// runAt runs track-logout-stats at time t on ev with a new recorder and
// fails the test on an error.
func runAt(tb testing.TB, t time.Time, ev *action.Event,
	opts sessionstats.Options) *actiontest.Recorder {

	tb.Helper()
	opts.Clock = at(t)
	r, err := actiontest.Run(context.Background(), sessionstats.New(opts), ev,
		actiontest.Options{})
	if err != nil {
		tb.Fatalf("track-logout-stats error: %v", err)
	}
	return r
}

// runNow runs track-logout-stats at now on ev with a new recorder of
// opts and fails the test on an error.
func runNow(tb testing.TB, ev *action.Event,
	opts actiontest.Options) *actiontest.Recorder {

	tb.Helper()
	a := sessionstats.New(sessionstats.Options{Clock: at(now)})
	r, err := actiontest.Run(context.Background(), a, ev, opts)
	if err != nil {
		tb.Fatalf("Run error: %v", err)
	}
	return r
}

// decodeEvent decodes the event JSON text, failing the test on an error.
func decodeEvent(tb testing.TB, text string) *action.Event {
	tb.Helper()
	ev, err := action.DecodeEvent([]byte(text))
	if err != nil {
		tb.Fatalf("DecodeEvent error: %v", err)
	}
	return ev
}

// checkCalls compares the recorded calls with want.
func checkCalls(tb testing.TB, want []action.Call, r *actiontest.Recorder) {
	tb.Helper()
	if diff := cmp.Diff(want, r.Calls(), callOpts); diff != "" {
		tb.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

// checkMeta compares the stored app_metadata with want.
func checkMeta(tb testing.TB, want metadata.Map, r *actiontest.Recorder) {
	tb.Helper()
	if diff := cmp.Diff(want, r.AppMetadata()); diff != "" {
		tb.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
	}
}

// written is the call that writes the figures.
func written(logoutAt string, duration, count, total int64) action.Call {
	return action.Call{
		API: action.CallSetAppMetadata,
		Patch: metadata.Map{
			sessionstats.KeyLastLogoutAt:        logoutAt,
			sessionstats.KeyLastSessionDuration: duration,
			sessionstats.KeySessionCount:        count,
			sessionstats.KeyTotalSessionSeconds: total,
		},
	}
}

// stored is the app_metadata the figures leave when nothing else is
// stored.
func stored(logoutAt string, duration, count, total int64) metadata.Map {
	return written(logoutAt, duration, count, total).Patch
}

// summary is the info log that ends every run.
func summary(duration, count, total int64) action.Call {
	return logCall(slog.LevelInfo, msgRecorded,
		slog.Int64(sessionstats.KeyLastSessionDuration, duration),
		slog.Int64(sessionstats.KeySessionCount, count),
		slog.Int64(sessionstats.KeyTotalSessionSeconds, total))
}

// tooShort is the info log of a session under the threshold.
func tooShort(measured, minSec int64) action.Call {
	return logCall(slog.LevelInfo, msgTooShort,
		slog.Int64("measured_sec", measured), slog.Int64("min_sec", minSec))
}

func logCall(level slog.Level, msg string, attrs ...slog.Attr) action.Call {
	return action.Call{
		API: action.CallLog, Level: level, Message: msg, Attrs: attrs,
	}
}

// TestWorkedExamples runs each row of the SPEC's worked examples table.
func TestWorkedExamples(t *testing.T) {
	const (
		tenAM   = "2026-05-20T10:00:00.000Z"
		at0859  = "2026-05-20T08:00:59.000Z"
		at0900  = "2026-05-20T08:01:00.000Z"
		at07555 = "2026-05-20T07:55:00.000Z"
	)
	before := metadata.Map{
		sessionstats.KeySessionCount:        3,
		sessionstats.KeyTotalSessionSeconds: 9000,
	}
	tests := []struct {
		name   string
		now    time.Time
		login  time.Time // zero: absent
		stored metadata.Map
		// The logs before the write, and the figures written and stored.
		wantLogs                           []action.Call
		wantLogoutAt                       string
		wantDuration, wantCount, wantTotal int64
	}{
		{"two-hour session", now, login, before,
			nil, tenAM, 7200, 4, 16200},
		{"last_login_at absent", now, time.Time{}, before,
			[]action.Call{logCall(slog.LevelWarn, msgMissing)},
			tenAM, 0, 4, 9000},
		{"59 s is too short", login.Add(59 * time.Second), login, nil,
			[]action.Call{tooShort(59, 60)}, at0859, 0, 1, 0},
		{"60 s is recorded", login.Add(60 * time.Second), login, nil,
			nil, at0900, 60, 1, 60},
		{"login in the future", login.Add(-5 * time.Minute), login, nil,
			[]action.Call{tooShort(-300, 60)}, at07555, 0, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := actiontest.LogoutEvent("u1", tc.login, tc.stored)
			r := runAt(t, tc.now, ev, sessionstats.Options{})
			d, n, total := tc.wantDuration, tc.wantCount, tc.wantTotal
			checkCalls(t, append(tc.wantLogs,
				written(tc.wantLogoutAt, d, n, total), summary(d, n, total)), r)
			checkMeta(t, stored(tc.wantLogoutAt, d, n, total), r)
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name    string
		min     time.Duration
		session time.Duration
		want    int64 // seconds written
		short   bool  // logged as too short
	}{
		{"59.5 s rounds up to 60", 0, 59500 * time.Millisecond, 60, false},
		{"59.4 s rounds down to 59: too short", 0,
			59400 * time.Millisecond, 0, true},
		{"59.999999999 s", 0, 60*time.Second - 1, 60, false},
		{"60.499999999 s", 0, 60500*time.Millisecond - 1, 60, false},
		{"90.5 s halves up", 0, 90500 * time.Millisecond, 91, false},
		{"zero", 0, 0, 0, true},
		{"negative half", 0, -500 * time.Millisecond, 0, true},
		{"threshold 10 s, 9.5 s", 10 * time.Second,
			9500 * time.Millisecond, 10, false},
		{"threshold 10 s, 9.4 s", 10 * time.Second,
			9400 * time.Millisecond, 0, true},
		{"threshold 1.5 s needs 2 s", 1500 * time.Millisecond,
			1400 * time.Millisecond, 0, true},
		{"threshold 1.5 s, 1.5 s rounds to 2", 1500 * time.Millisecond,
			1500 * time.Millisecond, 2, false},
		{"negative threshold records 0 s", -1, 200 * time.Millisecond,
			0, false},
		{"negative threshold, 1 s", -1, time.Second, 1, false},
		{"negative threshold, clock skew", -1, -time.Minute, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := actiontest.LogoutEvent("u1", login, nil)
			r := runAt(t, login.Add(tc.session), ev,
				sessionstats.Options{MinDuration: tc.min})
			f := sessionstats.Read(r.AppMetadata())
			if f.LastSessionDuration != tc.want || f.SessionCount != 1 {
				t.Errorf("duration, count = %d, %d; want %d, 1",
					f.LastSessionDuration, f.SessionCount, tc.want)
			}
			if got := hasLog(r.Calls(), msgTooShort); got != tc.short {
				t.Errorf("too-short log = %t, want %t", got, tc.short)
			}
		})
	}
}

// hasLog reports whether calls hold a log with message msg.
func hasLog(calls []action.Call, msg string) bool {
	for _, c := range calls {
		if c.API == action.CallLog && c.Message == msg {
			return true
		}
	}
	return false
}

// eventWithLogin returns a logout event whose last_login_at is decoded
// from the JSON text raw, or absent when raw is empty.
func eventWithLogin(tb testing.TB, raw string, md metadata.Map) *action.Event {
	tb.Helper()
	ev := actiontest.LogoutEvent("u1", time.Time{}, md)
	if raw != "" {
		err := json.Unmarshal([]byte(raw), &ev.User.LastLoginAt)
		if err != nil {
			tb.Fatalf("json.Unmarshal(%s) error: %v", raw, err)
		}
	}
	return ev
}

func TestLastLoginAt(t *testing.T) {
	tests := []struct {
		name string
		json string
		want int64 // seconds recorded
	}{
		{"Z", `"2026-05-20T08:00:00Z"`, 7200},
		{"+05:30", `"2026-05-20T13:30:00+05:30"`, 7200},
		{"-08:00", `"2026-05-20T00:00:00-08:00"`, 7200},
		{"0 fractional digits", `"2026-05-20T08:00:00Z"`, 7200},
		{"3 fractional digits", `"2026-05-20T08:00:00.123Z"`, 7200},
		{"6 fractional digits, half up", `"2026-05-20T08:00:00.500000Z"`,
			7200},
		{"9 fractional digits, just under half",
			`"2026-05-20T08:00:00.500000001Z"`, 7199},
		{"no offset is UTC", `"2026-05-20T08:00:00"`, 7200},
		{"space for T", `"2026-05-20 08:00:00Z"`, 7200},
		{"postgres text form", `"2026-05-20 08:00:00.123+00"`, 7200},
		{"postgres hour offset", `"2026-05-20 09:00:00+01"`, 7200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runAt(t, now, eventWithLogin(t, tc.json, nil),
				sessionstats.Options{})
			checkCalls(t, []action.Call{
				written("2026-05-20T10:00:00.000Z", tc.want, 1, tc.want),
				summary(tc.want, 1, tc.want),
			}, r)
		})
	}
}

func TestLastLoginAtUnparseable(t *testing.T) {
	long := `"` + strings.Repeat("x", 100) + `"`
	tests := []struct {
		name      string
		json      string
		wantValue string // quoted in the warning; "" for missing
	}{
		{"empty string", `""`, `""`},
		{"garbage", `"garbage"`, `"aaaaaaa"`},
		{"impossible date", `"2026-02-30T08:00:00Z"`,
			`"9999-99-99A99:99:99A"`},
		{"date alone", `"2026-05-20"`, `"9999-99-99"`},
		{"zero string", `"0"`, `"9"`},
		{"number 0", `0`, `9`},
		{"unix millis", `1779264000000`, `9999999999999`},
		{"true", `true`, `aaaa`},
		{"object", `{}`, `{}`},
		{"array", `[]`, `[]`},
		{"newline", `"2026-05-20T08:00:00Z\n"`, `"9999-99-99A99:99:99A\a"`},
		{"long value clipped", long, `"` + strings.Repeat("a", 63) + "..."},
		{"personal data hidden", `"Zoë <zoe@example.com>"`,
			`"Aaa <aaa@aaaaaaa.aaa>"`},
		{"null is missing", `null`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runAt(t, now, eventWithLogin(t, tc.json, nil),
				sessionstats.Options{})
			warning := logCall(slog.LevelWarn, msgMissing)
			if tc.wantValue != "" {
				warning = logCall(slog.LevelWarn, msgBadLogin,
					slog.String("last_login_at_shape", tc.wantValue))
			}
			checkCalls(t, []action.Call{
				warning,
				written("2026-05-20T10:00:00.000Z", 0, 1, 0),
				summary(0, 1, 0),
			}, r)
		})
	}
}

func TestStoredFigures(t *testing.T) {
	type outcome int
	const (
		fine outcome = iota
		wrongType
		invalid
	)
	tests := []struct {
		name   string
		value  any
		want   int64 // the previous figure as read
		result outcome
		kind   string // for invalid
	}{
		{"int", 3, 3, fine, ""},
		{"float", 3.0, 3, fine, ""},
		{"fraction floored", 3.7, 3, fine, ""},
		{"json.Number", json.Number("3"), 3, fine, ""},
		{"json.Number fraction", json.Number("3.9"), 3, fine, ""},
		{"zero", 0, 0, fine, ""},
		{"2^53-1", json.Number("9007199254740991"), sessionstats.MaxInt,
			fine, ""},
		{"decimal string", "3", 3, wrongType, ""},
		{"decimal string with fraction", "3.5", 3, wrongType, ""},
		{"leading space", " 3", 0, invalid, "string"},
		{"negative string", "-2", 0, invalid, "string"},
		{"plus sign", "+3", 0, invalid, "string"},
		{"exponent", "3e2", 0, invalid, "string"},
		{"dot alone", "3.", 0, invalid, "string"},
		{"letters", "abc", 0, invalid, "string"},
		{"empty string", "", 0, invalid, "string"},
		{"string past 2^53-1", "9007199254740992", 0, invalid, "string"},
		{"negative", -1, 0, invalid, "number"},
		{"negative fraction", -0.5, 0, invalid, "number"},
		{"1e308", 1e308, 0, invalid, "number"},
		{"NaN", math.NaN(), 0, invalid, "number"},
		{"infinity", math.Inf(1), 0, invalid, "number"},
		{"2^53+1", json.Number("9007199254740993"), 0, invalid, "number"},
		{"2^63", json.Number("9223372036854775808"), 0, invalid, "number"},
		{"2^53 as float", float64(1 << 53), 0, invalid, "number"},
		{"uint64 max", uint64(math.MaxUint64), 0, invalid, "number"},
		{"true", true, 0, invalid, "boolean"},
		{"null", nil, 0, invalid, "null"},
		{"object", map[string]any{}, 0, invalid, "object"},
		{"metadata.Map", metadata.Map{"n": 3}, 0, invalid, "object"},
		{"array", []any{}, 0, invalid, "array"},
	}
	warnings := map[outcome]string{wrongType: msgWrongType, invalid: msgInvalid}
	for _, tc := range tests {
		for _, key := range figureKeys {
			t.Run(tc.name+"/"+key, func(t *testing.T) {
				md := metadata.Map{key: tc.value}
				r := runAt(t, now, actiontest.LogoutEvent("u1", login, md),
					sessionstats.Options{})
				checkCalls(t,
					figureCalls(key, tc.want, warnings[tc.result], tc.kind), r)
			})
		}
	}
}

// figureKeys are the stored figures the action reads.
var figureKeys = []string{
	sessionstats.KeySessionCount,
	sessionstats.KeyTotalSessionSeconds,
}

// figureCalls are the calls of a two-hour session whose stored figure key
// alone was there and read as prev, with the warning warn ("" for none,
// else msgWrongType or msgInvalid of the value's kind).
func figureCalls(key string, prev int64, warn, kind string) []action.Call {
	// The figure read counts; the other starts from 0.
	count, total := int64(1), int64(7200)
	if key == sessionstats.KeySessionCount {
		count = min(prev+1, sessionstats.MaxInt)
	} else {
		total = min(prev+7200, sessionstats.MaxInt)
	}
	calls := []action.Call{
		written("2026-05-20T10:00:00.000Z", 7200, count, total),
	}
	switch warn {
	case msgWrongType:
		calls = append(calls, logCall(slog.LevelWarn, msgWrongType,
			slog.String("key", key)))
	case msgInvalid:
		calls = append(calls, logCall(slog.LevelWarn, msgInvalid,
			slog.String("key", key), slog.String("kind", kind)))
	}
	return append(calls, summary(7200, count, total))
}

func TestSaturates(t *testing.T) {
	tests := []struct {
		name      string
		count     any
		total     any
		wantCount int64
		wantTotal int64
	}{
		{"total near the top", 5, sessionstats.MaxInt - 10,
			6, sessionstats.MaxInt},
		{"total at the top", 5, sessionstats.MaxInt, 6, sessionstats.MaxInt},
		{"count at the top", sessionstats.MaxInt, 0,
			sessionstats.MaxInt, 7200},
		{"count as float at the top", float64(sessionstats.MaxInt), 0,
			sessionstats.MaxInt, 7200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := metadata.Map{
				sessionstats.KeySessionCount:        tc.count,
				sessionstats.KeyTotalSessionSeconds: tc.total,
			}
			r := runAt(t, now, actiontest.LogoutEvent("u1", login, md),
				sessionstats.Options{})
			f := sessionstats.Read(r.AppMetadata())
			if f.SessionCount != tc.wantCount ||
				f.TotalSessionSeconds != tc.wantTotal {
				t.Errorf("count, total = %d, %d; want %d, %d",
					f.SessionCount, f.TotalSessionSeconds,
					tc.wantCount, tc.wantTotal)
			}
			if hasLog(r.Calls(), msgInvalid) {
				t.Errorf("calls hold %q, want none", msgInvalid)
			}
		})
	}
}

func TestFarDates(t *testing.T) {
	// Not midnight: LogoutEvent takes the zero time.Time as absent.
	year1 := time.Date(1, 1, 1, 12, 0, 0, 0, time.UTC)
	year9999 := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		name       string
		login, now time.Time
		want       int64
	}{
		{"year 1 to 9999", year1, year9999,
			year9999.Unix() - year1.Unix()},
		{"year 9999 to 1", year9999, year1, 0},
		{"year 1 to 1 plus a day", year1, year1.Add(24 * time.Hour), 86400},
		{"beyond 2^53-1 seconds saturates",
			time.Date(-200_000_000_000, 1, 1, 0, 0, 0, 0, time.UTC), now,
			sessionstats.MaxInt},
		{"far past to far future", time.Unix(math.MinInt64/2, 0),
			time.Unix(math.MaxInt64/2, 999999999), sessionstats.MaxInt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runAt(t, tc.now, actiontest.LogoutEvent("u1", tc.login, nil),
				sessionstats.Options{})
			checkFirstSession(t, r, tc.want)
		})
	}
}

// checkFirstSession checks that r holds one session of want seconds.
func checkFirstSession(tb testing.TB, r *actiontest.Recorder, want int64) {
	tb.Helper()
	f := sessionstats.Read(r.AppMetadata())
	if f.LastSessionDuration != want ||
		f.TotalSessionSeconds != want || f.SessionCount != 1 {
		tb.Errorf("duration, total, count = %d, %d, %d; want %d, %d, 1",
			f.LastSessionDuration, f.TotalSessionSeconds, f.SessionCount,
			want, want)
	}
}

func TestKeepsOtherKeys(t *testing.T) {
	md := metadata.Map{
		"plan":                       "pro",
		"prefs":                      map[string]any{"theme": "dark"},
		sessionstats.KeySessionCount: 3,
	}
	r := runAt(t, now, actiontest.LogoutEvent("u1", login, md),
		sessionstats.Options{})
	want := stored("2026-05-20T10:00:00.000Z", 7200, 4, 7200)
	want["plan"] = "pro"
	want["prefs"] = map[string]any{"theme": "dark"}
	checkMeta(t, want, r)
}

// TestReadsStoredValue checks that the figures grow from the value stored
// at the moment of the write, not from the event's snapshot.
func TestReadsStoredValue(t *testing.T) {
	ctx := context.Background()
	snapshot := metadata.Map{sessionstats.KeySessionCount: 3}
	ev := actiontest.LogoutEvent("u1", login, snapshot)
	r := actiontest.NewRecorder(ev, actiontest.Options{})
	err := r.SetAppMetadata(ctx, metadata.Map{
		sessionstats.KeySessionCount:        10,
		sessionstats.KeyTotalSessionSeconds: 100,
	})
	if err != nil {
		t.Fatalf("SetAppMetadata error: %v", err)
	}

	a := sessionstats.New(sessionstats.Options{Clock: at(now)})
	if err := a.Run(ctx, ev, r); err != nil {
		t.Fatalf("Run error: %v", err)
	}
	f := sessionstats.Read(r.AppMetadata())
	if f.SessionCount != 11 || f.TotalSessionSeconds != 7300 {
		t.Errorf("count, total = %d, %d; want 11, 7300",
			f.SessionCount, f.TotalSessionSeconds)
	}
}

// TestUpdateRetried checks that a store running the update more than once
// leaves one count and one warning per bad figure.
func TestUpdateRetried(t *testing.T) {
	md := metadata.Map{
		sessionstats.KeySessionCount:        "3",
		sessionstats.KeyTotalSessionSeconds: true,
	}
	r := runNow(t, actiontest.LogoutEvent("u1", login, md),
		actiontest.Options{Retries: 3})
	checkCalls(t, []action.Call{
		written("2026-05-20T10:00:00.000Z", 7200, 4, 7200),
		logCall(slog.LevelWarn, msgWrongType,
			slog.String("key", sessionstats.KeySessionCount)),
		logCall(slog.LevelWarn, msgInvalid,
			slog.String("key", sessionstats.KeyTotalSessionSeconds),
			slog.String("kind", "boolean")),
		summary(7200, 4, 7200),
	}, r)
}

func TestUpdateFails(t *testing.T) {
	ev := actiontest.LogoutEvent("u1", login, nil)
	a := sessionstats.New(sessionstats.Options{Clock: at(now)})
	r, err := actiontest.Run(context.Background(), a, ev, actiontest.Options{
		Limits: metadata.Limits{MaxBytes: 20},
	})
	if !errors.Is(err, metadata.ErrTooLarge) {
		t.Fatalf("Run error = %v, want metadata.ErrTooLarge", err)
	}
	if md := r.AppMetadata(); md != nil {
		t.Errorf("AppMetadata() = %v, want nil", md)
	}
	if hasLog(r.Calls(), msgRecorded) {
		t.Errorf("calls hold %q after a failed write", msgRecorded)
	}
}

func TestNoEvent(t *testing.T) {
	a := sessionstats.New(sessionstats.Options{})
	_, err := actiontest.Run(context.Background(), a, nil,
		actiontest.Options{})
	if !errors.Is(err, sessionstats.ErrNoEvent) {
		t.Errorf("Run(nil event) error = %v, want ErrNoEvent", err)
	}
}

func TestRealClock(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Millisecond)
	a := sessionstats.New(sessionstats.Options{})
	ev := actiontest.LogoutEvent("u1", before.Add(-time.Hour), nil)
	r, err := actiontest.Run(context.Background(), a, ev,
		actiontest.Options{})
	if err != nil {
		t.Fatalf("Run error: %v", err)
	}
	got := sessionstats.Read(r.AppMetadata()).LastLogoutAt
	if got.Before(before) {
		t.Errorf("LastLogoutAt = %v, want at or after %v", got, before)
	}
}

// TestLogsHoldNoPersonalData runs every path that logs for a user with an
// email, and looks for the email in every record.
func TestLogsHoldNoPersonalData(t *testing.T) {
	const email = "alice@example.com"
	events := map[string]*action.Event{
		"recorded": actiontest.LogoutEvent("u1", login, nil),
		"missing":  actiontest.LogoutEvent("u1", time.Time{}, nil),
		"bad":      eventWithLogin(t, `"garbage"`, nil),
		"short":    actiontest.LogoutEvent("u1", now, nil),
		"bad figures": actiontest.LogoutEvent("u1", login, metadata.Map{
			sessionstats.KeySessionCount:        "3",
			sessionstats.KeyTotalSessionSeconds: map[string]any{},
			"email":                             email,
		}),
	}
	events["decoded"] = decodeEvent(t, `{"user": {"user_id": "u1",
		"email": "`+email+`", "last_login_at": "2026-05-20T08:00:00Z",
		"app_metadata": {"session_count": "x", "email": "`+email+`"}},
		"session": {"session_id": "s1"}}`)
	for name, ev := range events {
		ev.User.Email = email
		for hname, newHandler := range handlers {
			t.Run(name+"/"+hname, func(t *testing.T) {
				checkNoEmail(t, ev, email, newHandler)
			})
		}
	}
}

// handlers make the logger's handler of each kind, writing to a buffer.
var handlers = map[string]func(*bytes.Buffer) slog.Handler{
	"text": func(b *bytes.Buffer) slog.Handler {
		return slog.NewTextHandler(b, nil)
	},
	"json": func(b *bytes.Buffer) slog.Handler {
		return slog.NewJSONHandler(b, nil)
	},
}

// checkNoEmail runs the action on ev with a logger of newHandler and
// fails when a log record or a recorded call's log holds email.
func checkNoEmail(t *testing.T, ev *action.Event, email string,
	newHandler func(*bytes.Buffer) slog.Handler) {

	t.Helper()
	var buf bytes.Buffer
	r := runNow(t, ev, actiontest.Options{Logger: slog.New(newHandler(&buf))})

	// Look in what the handler wrote and in what the recorder kept.
	if buf.Len() == 0 {
		t.Fatal("nothing logged")
	}
	if bytes.Contains(buf.Bytes(), []byte(email)) {
		t.Errorf("logs hold the email:\n%s", buf.Bytes())
	}
	for _, c := range r.Calls() {
		if strings.Contains(c.Message, email) {
			t.Errorf("message %q holds the email", c.Message)
		}
		for _, a := range c.Attrs {
			if strings.Contains(a.Value.String(), email) {
				t.Errorf("attr %v holds the email", a)
			}
		}
	}
}

// TestLogsCannotBeForged feeds last_login_at values that try to start a
// log line of their own, and counts the lines each handler writes.
func TestLogsCannotBeForged(t *testing.T) {
	values := map[string]string{
		"escaped newlines": `"x\nlevel=ERROR msg=\"forged\"\r\n"`,
		"raw newlines":     "{\"x\": 1,\r\n\"level\": \"ERROR\"}\n",
		"line separators":  `"x\u2028level=ERROR\u2029msg=forged"`,
		"terminal escapes": `"\u001b[1A\u001b[2Klevel=ERROR msg=forged"`,
		"as the last key":  `"\" level=ERROR msg=\"forged"`,
	}
	for vname, value := range values {
		for hname, newHandler := range handlers {
			t.Run(vname+"/"+hname, func(t *testing.T) {
				var buf bytes.Buffer
				runNow(t, eventWithLogin(t, value, nil),
					actiontest.Options{Logger: slog.New(newHandler(&buf))})

				// A warning and the summary: two records, two lines.
				out := buf.String()
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != 2 || strings.ContainsAny(out,
					"\r\u2028\u2029\x1b") {
					t.Fatalf("%d lines, want 2 and no other line "+
						"breaks or escapes:\n%q", len(lines), out)
				}
				if !strings.Contains(lines[0], "WARN") {
					t.Errorf("line 1 = %s, want the warning", lines[0])
				}
			})
		}
	}
}

func TestRead(t *testing.T) {
	logout := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		md   metadata.Map
		want sessionstats.Figures
	}{
		{"nil", nil, sessionstats.Figures{}},
		{"empty", metadata.Map{}, sessionstats.Figures{}},
		{
			name: "as written",
			md:   stored("2026-05-20T10:00:00.000Z", 7200, 4, 16200),
			want: sessionstats.Figures{
				SessionCount:        4,
				TotalSessionSeconds: 16200,
				LastSessionDuration: 7200,
				LastLogoutAt:        logout,
			},
		},
		{
			name: "as decoded from JSON",
			md: metadata.Map{
				sessionstats.KeyLastLogoutAt:        "2026-05-20T10:00:00Z",
				sessionstats.KeyLastSessionDuration: json.Number("60"),
				sessionstats.KeySessionCount:        float64(2),
				sessionstats.KeyTotalSessionSeconds: json.Number("60.9"),
			},
			want: sessionstats.Figures{
				SessionCount:        2,
				TotalSessionSeconds: 60,
				LastSessionDuration: 60,
				LastLogoutAt:        logout,
			},
		},
		{
			name: "decimal strings read",
			md: metadata.Map{
				sessionstats.KeySessionCount:        "5",
				sessionstats.KeyTotalSessionSeconds: "300.5",
			},
			want: sessionstats.Figures{
				SessionCount: 5, TotalSessionSeconds: 300,
			},
		},
		{
			name: "invalid values are 0",
			md: metadata.Map{
				sessionstats.KeyLastLogoutAt:        "yesterday",
				sessionstats.KeyLastSessionDuration: -5,
				sessionstats.KeySessionCount:        true,
				sessionstats.KeyTotalSessionSeconds: math.Inf(1),
			},
			want: sessionstats.Figures{},
		},
		{
			name: "last_logout_at not a string",
			md:   metadata.Map{sessionstats.KeyLastLogoutAt: 1779271200},
			want: sessionstats.Figures{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sessionstats.Read(tc.md)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAverageSessionSeconds(t *testing.T) {
	tests := []struct {
		name string
		f    sessionstats.Figures
		want float64
	}{
		{"none", sessionstats.Figures{}, 0},
		{"total without count", sessionstats.Figures{
			TotalSessionSeconds: 10}, 0},
		{"even", sessionstats.Figures{
			SessionCount: 4, TotalSessionSeconds: 16200}, 4050},
		{"fraction", sessionstats.Figures{
			SessionCount: 3, TotalSessionSeconds: 10}, 10.0 / 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.AverageSessionSeconds(); got != tc.want {
				t.Errorf("AverageSessionSeconds() = %v, want %v",
					got, tc.want)
			}
		})
	}
}

// nopAPI is the cheapest API: it stores nothing and logs nowhere, so that
// a benchmark on it measures the action alone.
type nopAPI struct{ current metadata.Map }

func (nopAPI) Log(slog.Level, string, ...slog.Attr) {}
func (a nopAPI) User() action.UserAPI               { return a }
func (a nopAPI) Session() action.SessionAPI         { return a }
func (nopAPI) SetCustomClaim(string, any) error     { return nil }

func (nopAPI) SetAppMetadata(context.Context, metadata.Map) error {
	return nil
}

func (a nopAPI) UpdateAppMetadata(_ context.Context, fn metadata.UpdateFunc) error {
	_, err := fn(a.current)
	return err
}

func (a nopAPI) UpdateAppMetadataView(_ context.Context, fn metadata.ViewFunc) error {
	_, err := fn(metadata.ViewOf(a.current))
	return err
}

func BenchmarkTrackLogoutStats(b *testing.B) {
	ctx := context.Background()
	md := metadata.Map{
		sessionstats.KeySessionCount:        json.Number("41"),
		sessionstats.KeyTotalSessionSeconds: json.Number("123456"),
		"plan":                              "pro",
	}
	ev := eventWithLogin(b, `"2026-05-20T08:00:00.000Z"`, md)
	a := sessionstats.New(sessionstats.Options{Clock: at(now)})

	b.Run("recorder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := actiontest.NewRecorder(ev, actiontest.Options{})
			if err := a.Run(ctx, ev, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("action alone", func(b *testing.B) {
		api := nopAPI{current: md}
		b.ReportAllocs()
		for b.Loop() {
			if err := a.Run(ctx, ev, api); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzTrackLogoutStats runs the action on any last_login_at and any stored
// figures, as JSON texts, and checks what must always hold.
func FuzzTrackLogoutStats(f *testing.F) {
	for _, seed := range [][3]string{
		{`"2026-05-20T08:00:00.000Z"`, `3`, `9000`},
		{``, `3`, `9000`},
		{`"2026-05-20 08:00:00.123+00"`, `"3"`, `"3.5"`},
		{`"2026-05-20T13:30:00+05:30"`, `3.7`, `-1`},
		{`"2026-02-30T08:00:00Z"`, `1e308`, `9007199254740993`},
		{`1779264000000`, `9223372036854775808`, `" 3"`},
		{`null`, `true`, `null`},
		{`{}`, `{}`, `[]`},
		{`"0001-01-01T00:00:00Z"`, `9007199254740991`, `9007199254740991`},
		{`"x\ny"`, `"abc"`, `""`},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	a := sessionstats.New(sessionstats.Options{Clock: at(now)})
	f.Fuzz(func(t *testing.T, loginJSON, countJSON, totalJSON string) {
		// Build the event as a decoder would; skip texts that are not
		// JSON, which never reach an action.
		ev := actiontest.LogoutEvent("u1", time.Time{}, nil)
		if loginJSON != "" &&
			json.Unmarshal([]byte(loginJSON), &ev.User.LastLoginAt) != nil {
			return
		}
		md := metadata.Map{}
		for key, text := range map[string]string{
			sessionstats.KeySessionCount:        countJSON,
			sessionstats.KeyTotalSessionSeconds: totalJSON,
		} {
			if text == "" {
				continue
			}
			v, ok := decode(text)
			if !ok {
				return
			}
			md[key] = v
		}
		ev.User.AppMetadata = md
		before := sessionstats.Read(md)

		// Run it: no panic, no error, and a record JSON can hold.
		r, err := actiontest.Run(context.Background(), a, ev,
			actiontest.Options{Limits: metadata.Limits{MaxBytes: 1 << 30}})
		if err != nil {
			t.Fatalf("Run error: %v", err)
		}
		after := r.AppMetadata()
		if _, err := json.Marshal(after); err != nil {
			t.Fatalf("json.Marshal(app_metadata) error: %v", err)
		}

		// The session counts once, from the previous valid figures.
		got := sessionstats.Read(after)
		checkCounted(t, before, got)
		if got.LastSessionDuration < 0 ||
			got.TotalSessionSeconds > sessionstats.MaxInt {
			t.Errorf("figures out of range: %+v", got)
		}
		if n, ok := exactFigure(md[sessionstats.KeySessionCount]); ok &&
			before.SessionCount != n {
			t.Errorf("previous session_count read as %d, want %d",
				before.SessionCount, n)
		}
	})
}

// checkCounted checks the figures after a run that began with prev: the
// session counts once, and the total only grows.
func checkCounted(tb testing.TB, prev, got sessionstats.Figures) {
	tb.Helper()
	if want := min(prev.SessionCount+1, sessionstats.MaxInt); got.SessionCount != want {
		tb.Errorf("session_count = %d, want %d", got.SessionCount, want)
	}
	if got.TotalSessionSeconds < prev.TotalSessionSeconds {
		tb.Errorf("total_session_seconds = %d, was %d",
			got.TotalSessionSeconds, prev.TotalSessionSeconds)
	}
}

// decode reads one JSON value keeping numbers as json.Number, as events
// are decoded.
func decode(text string) (any, bool) {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v, extra any
	if d.Decode(&v) != nil || d.Decode(&extra) != io.EOF {
		return nil, false
	}
	return v, true
}

// exactFigure reads a plain JSON integer in [0, MaxInt] independently of
// the package, as an oracle for the fuzz target.
func exactFigure(v any) (int64, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	n, err := num.Int64()
	if err != nil || n < 0 || n > sessionstats.MaxInt {
		return 0, false
	}
	return n, true
}

// TestStoredFiguresFromJSON reads each stored figure as an auth server
// sends it, in the event's JSON, through action.DecodeEvent, so that
// numbers arrive as json.Number: the SPEC's outcome for each.
func TestStoredFiguresFromJSON(t *testing.T) {
	tests := []struct {
		name   string
		json   string // the stored value
		want   int64  // the previous figure as read
		warn   string // "" for none, else the warning's message
		kind   string // for msgInvalid
		reason string // why, when not obvious
	}{
		{name: "3", json: `3`, want: 3},
		{name: "3.0", json: `3.0`, want: 3},
		{name: "3.7 rounded down", json: `3.7`, want: 3},
		{name: "0", json: `0`, want: 0},
		{name: "-0", json: `-0`, want: 0, reason: "zero is not negative"},
		{name: "exponent", json: `1e2`, want: 100},
		{name: "2^53-1", json: `9007199254740991`, want: sessionstats.MaxInt},
		{name: "2^53-1 and a fraction", json: `9007199254740991.9`,
			want: sessionstats.MaxInt},
		{name: "-1", json: `-1`, warn: msgInvalid, kind: "number"},
		{name: "-0.5", json: `-0.5`, warn: msgInvalid, kind: "number"},
		{name: "1e308", json: `1e308`, warn: msgInvalid, kind: "number"},
		{name: "1e400", json: `1e400`, warn: msgInvalid, kind: "number",
			reason: "beyond float64: still a number, too large"},
		{name: "2^53+1", json: `9007199254740993`, warn: msgInvalid,
			kind: "number"},
		{name: "2^63", json: `9223372036854775808`, warn: msgInvalid,
			kind: "number"},
		{name: `"3"`, json: `"3"`, want: 3, warn: msgWrongType},
		{name: `"3.5"`, json: `"3.5"`, want: 3, warn: msgWrongType},
		{name: `" 3"`, json: `" 3"`, warn: msgInvalid, kind: "string"},
		{name: `"-2"`, json: `"-2"`, warn: msgInvalid, kind: "string"},
		{name: `"abc"`, json: `"abc"`, warn: msgInvalid, kind: "string"},
		{name: `"1e3"`, json: `"1e3"`, warn: msgInvalid, kind: "string",
			reason: "a plain decimal has no exponent"},
		{name: "true", json: `true`, warn: msgInvalid, kind: "boolean"},
		{name: "null", json: `null`, warn: msgInvalid, kind: "null",
			reason: "a stored null is a value, unlike an absent key"},
		{name: "{}", json: `{}`, warn: msgInvalid, kind: "object"},
		{name: "[]", json: `[]`, warn: msgInvalid, kind: "array"},
	}
	for _, tc := range tests {
		for _, key := range figureKeys {
			t.Run(tc.name+"/"+key, func(t *testing.T) {
				ev := decodeEvent(t, `{"user": {
					"user_id": "u1",
					"last_login_at": "2026-05-20T08:00:00.000Z",
					"app_metadata": {"`+key+`": `+tc.json+`}}}`)
				r := runAt(t, now, ev, sessionstats.Options{})
				checkCalls(t, figureCalls(key, tc.want, tc.warn, tc.kind), r)
			})
		}
	}
}

// TestFarDatesFromJSON measures sessions whose last_login_at, as an auth
// server sends it, lies at the ends of what RFC 3339 can write. The zero
// time.Time itself, which encoding/json writes for an unset time, is a
// missing login, not one two thousand years ago.
func TestFarDatesFromJSON(t *testing.T) {
	year1 := time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)
	tests := []struct {
		name        string
		login       string
		now         time.Time
		want        int64 // seconds written
		wantShort   bool  // logged as too short
		wantMissing bool  // logged as missing
	}{
		{"the zero time", `"0001-01-01T00:00:00Z"`, now, 0, false, true},
		{"the zero time with an offset", `"0001-01-01T05:30:00+05:30"`,
			now, 0, false, true},
		{"year 1 to now", `"0001-01-01T00:00:01Z"`, now,
			now.Unix() - year1.Unix(), false, false},
		{"year 1 with an offset", `"0001-01-01T05:30:01+05:30"`, now,
			now.Unix() - year1.Unix(), false, false},
		{"year 9999 is in the future", `"9999-12-31T23:59:59.999999999Z"`,
			now, 0, true, false},
		{"year 9999 to its last second",
			`"9999-12-31T00:00:00Z"`,
			time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			86400, false, false},
		{"year 1 to year 9999", `"0001-01-01 00:00:01+00"`,
			time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix() -
				year1.Unix(), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runAt(t, tc.now, eventWithLogin(t, tc.login, nil),
				sessionstats.Options{})
			checkFirstSession(t, r, tc.want)
			if got := hasLog(r.Calls(), msgTooShort); got != tc.wantShort {
				t.Errorf("too-short log = %t, want %t", got, tc.wantShort)
			}
			if got := hasLog(r.Calls(), msgMissing); got != tc.wantMissing {
				t.Errorf("missing log = %t, want %t", got, tc.wantMissing)
			}
			if hasLog(r.Calls(), msgBadLogin) {
				t.Errorf("last_login_at %s reported unparseable", tc.login)
			}
		})
	}
}

// tzChildEnv marks the process that TestNoOffsetUnderTZ starts under
// another zone.
const tzChildEnv = "SESSIONSTATS_TZ_CHILD"

// TestNoOffsetUnderTZ runs a last_login_at without an offset through the
// event decoder and the action with the host's zone set by TZ, as an
// operator sets it, in two zones either side of UTC: the time is UTC and
// the session lasts two hours in both.
func TestNoOffsetUnderTZ(t *testing.T) {
	if zone := os.Getenv(tzChildEnv); zone != "" {
		checkNoOffset(t, zone)
		return
	}
	for _, zone := range []string{"Asia/Kolkata", "America/Los_Angeles"} {
		t.Run(zone, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNoOffsetUnderTZ$",
				"-test.count=1")
			cmd.Env = append(os.Environ(), "TZ="+zone, tzChildEnv+"="+zone)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("under TZ=%s: %v\n%s", zone, err, out)
			}
		})
	}
}

// checkNoOffset is TestNoOffsetUnderTZ in the process started with TZ set.
func checkNoOffset(t *testing.T, zone string) {
	// The zone must have taken: else the test proves nothing.
	if _, offset := login.In(time.Local).Zone(); offset == 0 {
		t.Fatalf("TZ=%s: the local zone %v is UTC; is the zone database "+
			"missing?", zone, time.Local)
	}
	for _, text := range []string{
		`"2026-05-20T08:00:00"`,
		`"2026-05-20 08:00:00.000"`,
	} {
		ev := decodeEvent(t, `{"user": {"user_id": "u1",
			"last_login_at": `+text+`}}`)
		r := runAt(t, now, ev, sessionstats.Options{})
		got := sessionstats.Read(r.AppMetadata()).LastSessionDuration
		if got != 7200 {
			t.Errorf("TZ=%s: last_login_at %s: duration = %d, want 7200",
				zone, text, got)
		}
	}
}

// FuzzEventTrackLogoutStats decodes any event JSON as an auth server
// would send it, runs the action on it with the recorder, and checks the
// invariants: no panic; the stored app_metadata encodes as valid JSON;
// session_count grows by exactly 1 (until it saturates); the total never
// decreases, and grows by the duration when the stored total was a valid
// number; every key the action does not own is left as it was.
func FuzzEventTrackLogoutStats(f *testing.F) {
	// Seed with the input tables: last_login_at forms, stored figures,
	// and event shapes the decoder refuses.
	logins := []string{
		`"2026-05-20T08:00:00.000Z"`, `"2026-05-20T13:30:00+05:30"`,
		`"2026-05-20T00:00:00-08:00"`, `"2026-05-20T08:00:00.123456789Z"`,
		`"2026-05-20T08:00:00"`, `"2026-05-20 08:00:00.123+00"`, `""`,
		`"garbage"`, `"2026-02-30T08:00:00Z"`, `"2026-05-20"`, `"0"`, `0`,
		`1779264000000`, `true`, `{}`, `[]`, `null`, `"a\nb"`,
		`"0001-01-01T00:00:00Z"`, `"9999-12-31T23:59:59Z"`,
	}
	figures := []string{
		`3`, `3.0`, `3.7`, `-1`, `1e308`, `9007199254740993`,
		`9223372036854775808`, `"3"`, `"3.5"`, `" 3"`, `"-2"`, `"abc"`,
		`true`, `null`, `{}`, `[]`, `9007199254740991`,
	}
	for i, login := range logins {
		count, total := figures[i%len(figures)], figures[(i+5)%len(figures)]
		f.Add([]byte(`{"trigger": "logout", "user": {"user_id": "u1",
			"email": "a@example.com", "last_login_at": ` + login + `,
			"app_metadata": {"session_count": ` + count + `,
			"total_session_seconds": ` + total + `, "plan": "pro"}},
			"session": {"session_id": "s1"}}`))
	}
	for _, bad := range []string{
		``, `[]`, `{"user": "u1"}`, `{"user": {"app_metadata": []}}`,
		`{"user": {"app_metadata": 3}}`, `{"a": 1, "a": 2}`, `{} x`,
		`{"user": {"user_id": "u1", "app_metadata": {"n": "` +
			strings.Repeat("x", 1<<10) + `"}}}`,
	} {
		f.Add([]byte(bad))
	}

	a := sessionstats.New(sessionstats.Options{Clock: at(now)})
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := action.DecodeEvent(data)
		if err != nil {
			return // refused with an error: DecodeEvent's own fuzz target
		}
		before := metadata.Clone(ev.User.AppMetadata)
		prev := sessionstats.Read(before)

		// Run it: an event of another trigger does not run; anything
		// else runs without error, panic included.
		r, err := actiontest.Run(context.Background(), a, ev,
			actiontest.Options{Limits: metadata.Limits{MaxBytes: 1 << 30}})
		if errors.Is(err, actiontest.ErrTrigger) {
			return
		}
		if err != nil {
			t.Fatalf("Run error: %v", err)
		}

		// The record and the calls encode as valid JSON.
		after := r.AppMetadata()
		b, err := json.Marshal(after)
		if err != nil || !json.Valid(b) {
			t.Fatalf("json.Marshal(app_metadata) = %s, %v", b, err)
		}
		if b, err := json.Marshal(r.Calls()); err != nil || !json.Valid(b) {
			t.Fatalf("json.Marshal(calls) = %s, %v", b, err)
		}

		// The session counts once; the total only grows.
		got := sessionstats.Read(after)
		checkCounted(t, prev, got)
		_, validTotal := exactFigure(before[sessionstats.KeyTotalSessionSeconds])
		if want := min(prev.TotalSessionSeconds+got.LastSessionDuration,
			sessionstats.MaxInt); validTotal && got.TotalSessionSeconds != want {
			t.Errorf("total_session_seconds = %d, want %d + %d",
				got.TotalSessionSeconds, prev.TotalSessionSeconds,
				got.LastSessionDuration)
		}

		// Keys the action does not write are untouched.
		for k, v := range before {
			switch k {
			case sessionstats.KeyLastLogoutAt,
				sessionstats.KeyLastSessionDuration,
				sessionstats.KeySessionCount,
				sessionstats.KeyTotalSessionSeconds:
				continue
			}
			if diff := cmp.Diff(v, after[k]); diff != "" {
				t.Errorf("key %q mismatch (-want +got):\n%s", k, diff)
			}
		}
		if len(after) > len(before)+4 {
			t.Errorf("app_metadata has %d keys, want at most %d",
				len(after), len(before)+4)
		}
	})
}

// TestBadInputNeverFailsLogout plays events carrying bad last_login_at
// values and bad stored figures, decoded from JSON, through a whole flow
// on the in-memory store: the logout never fails, the session is revoked
// and counted, the stored record encodes as JSON, and the flow's logs
// hold neither the email nor a forged line.
func TestBadInputNeverFailsLogout(t *testing.T) {
	const email = "alice@example.com"
	logins := []string{
		`""`, `"garbage"`, `"2026-02-30T08:00:00Z"`, `"2026-05-20"`, `"0"`,
		`0`, `1779264000000`, `true`, `{"t": 1}`, `[1]`, `null`,
		`"2026-05-20T08:00:00Z\nlevel=ERROR msg=forged"`,
		`"0001-01-01T00:00:00Z"`, `"9999-12-31T23:59:59Z"`,
	}
	figures := []string{
		`3.7`, `-1`, `1e308`, `9007199254740993`, `9223372036854775808`,
		`"3"`, `"3.5"`, `" 3"`, `"-2"`, `"abc"`, `true`, `{}`, `[]`,
	}
	for i, login := range logins {
		count := figures[i%len(figures)]
		total := figures[(i+7)%len(figures)]
		name := login + "/" + count + "/" + total
		t.Run(name, func(t *testing.T) {
			ev := decodeEvent(t, `{"trigger": "logout",
				"user": {"user_id": "u1", "email": "`+email+`",
				"last_login_at": `+login+`,
				"app_metadata": {"session_count": `+count+`,
				"total_session_seconds": `+total+`}},
				"session": {"session_id": "s1"}}`)
			checkLogoutSucceeds(t, ev, email)
		})
	}
}

// checkLogoutSucceeds runs ev through the flow [track-logout-stats,
// RevokeSession] with the event's app_metadata stored, and checks that
// nothing fails.
func checkLogoutSucceeds(t *testing.T, ev *action.Event, email string) {
	t.Helper()
	ctx := context.Background()
	clk := at(now)
	store := memstore.New(memstore.Options{Clock: clk})
	if err := store.Put(ctx, ev.User.ID, ev.User.AppMetadata); err != nil {
		t.Fatalf("Put error: %v", err)
	}
	prev := sessionstats.Read(ev.User.AppMetadata)

	// Build the flow, logging as JSON lines and noting the revocation.
	var logs bytes.Buffer
	revoked := false
	runner := statsRunner(t, flow.Options{
		Store: store,
		Revoker: flow.RevokerFunc(func(context.Context, string, string) error {
			revoked = true
			return nil
		}),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	}, clk)

	// The logout succeeds whatever the input held.
	res, err := runner.Run(ctx, ev)
	if err != nil {
		t.Fatalf("Run error: %v", err)
	}
	if f := res.Failed(); len(f) != 0 {
		t.Errorf("failed steps: %+v", f)
	}
	if !revoked {
		t.Error("the session was not revoked")
	}

	// The session is counted, in a record JSON can hold.
	got, err := store.Get(ctx, ev.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := json.Marshal(got); err != nil || !json.Valid(b) {
		t.Errorf("stored app_metadata = %s, %v", b, err)
	}
	checkCounted(t, prev, sessionstats.Read(got))

	// Each log record is one JSON line, without the email.
	for line := range strings.Lines(logs.String()) {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not one JSON record: %q", line)
		}
	}
	if strings.Contains(logs.String(), email) {
		t.Errorf("logs hold the email:\n%s", logs.String())
	}
}
