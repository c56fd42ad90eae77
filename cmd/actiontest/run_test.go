package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
)

// wall is the fake wall clock's time in every test: the run uses it when
// -now is not given.
var wall = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// tls is the usual flag for the action.
const tls = "-action=track-logout-stats"

// specEvent is the event of the SPEC's first worked example.
const specEvent = `{"trigger": "logout",
 "user": {"user_id": "u1", "email": "a@example.com",
          "last_login_at": "2026-05-20T08:00:00.000Z",
          "app_metadata": {"session_count": 3,
                           "total_session_seconds": 9000}},
 "session": {"session_id": "s1"}}`

// specOutput is the command's output on it, byte for byte, as the README
// shows it.
const specOutput = `{
  "calls": [
    {
      "api": "user.setAppMetadata",
      "patch": {
        "last_logout_at": "2026-05-20T10:00:00.000Z",
        "last_session_duration_sec": 7200,
        "session_count": 4,
        "total_session_seconds": 16200
      }
    },
    {
      "api": "log",
      "level": "info",
      "message": "session recorded",
      "attrs": {
        "last_session_duration_sec": 7200,
        "session_count": 4,
        "total_session_seconds": 16200
      }
    }
  ],
  "app_metadata": {
    "last_logout_at": "2026-05-20T10:00:00.000Z",
    "last_session_duration_sec": 7200,
    "session_count": 4,
    "total_session_seconds": 16200
  }
}
`

// big, as a stored string, leaves app_metadata 88 bytes under the
// limit, too few for the figures.
var big = strings.Repeat("x", 16<<10-100)

// result is what one run of the command gave.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs the command with args on stdin at the fake wall clock.
func runCmd(tb testing.TB, stdin string, args ...string) result {
	tb.Helper()
	clk := clock.NewMock()
	clk.Set(wall)
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr, clk)
	return result{code, stdout.String(), stderr.String()}
}

// decodeJSON decodes text with numbers kept as their text, failing the
// test when it is not one JSON value.
func decodeJSON(tb testing.TB, text string) any {
	tb.Helper()
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("not JSON: %v\n%s", err, text)
	}
	if d.More() {
		tb.Fatalf("more than one JSON value:\n%s", text)
	}
	return v
}

// event builds an event whose user has the given last_login_at and
// app_metadata, as JSON texts.
func event(lastLoginAt, appMetadata string) string {
	return `{"user": {"user_id": "u1", "last_login_at": ` + lastLoginAt +
		`, "app_metadata": ` + appMetadata + `},
		"session": {"session_id": "s1"}}`
}

// withMetadata builds an event with IDs whose user has the given
// app_metadata, as JSON text.
func withMetadata(appMetadata string) string {
	return `{"user": {"user_id": "u1", "app_metadata": ` + appMetadata +
		`}, "session": {"session_id": "s1"}}`
}

// checkResult compares a run's result with want.
func checkResult(tb testing.TB, want, got result) {
	tb.Helper()
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(result{})); diff != "" {
		tb.Errorf("run mismatch (-want +got):\n%s", diff)
	}
}

// figures is the JSON members of the three figures a run writes, all but
// last_logout_at.
func figures(duration, count, total int) string {
	return fmt.Sprintf(`"last_session_duration_sec": %d, "session_count": %d,
		"total_session_seconds": %d`, duration, count, total)
}

// written is the JSON members of what a run at the wall clock writes.
func written(duration, count, total int) string {
	return `"last_logout_at": "2026-06-01T12:00:00.000Z", ` +
		figures(duration, count, total)
}

// patchCall is the JSON of the call writing the figures.
func patchCall(duration, count, total int) string {
	return `{"api": "user.setAppMetadata", "patch": {` +
		written(duration, count, total) + `}}`
}

// recordedLog is the JSON of the info log that ends a recorded run.
func recordedLog(duration, count, total int) string {
	return `{"api": "log", "level": "info", "message": "session recorded",
		"attrs": {` + figures(duration, count, total) + `}}`
}

// logCall is the JSON of a log call.
func logCall(level, message, attrs string) string {
	return `{"api": "log", "level": "` + level + `", "message": "` +
		message + `", "attrs": ` + attrs + `}`
}

// wantOutput is the JSON the command prints: the calls and the app_metadata
// left, as JSON texts.
func wantOutput(appMetadata string, calls ...string) string {
	return `{"calls": [` + strings.Join(calls, ", ") +
		`], "app_metadata": ` + appMetadata + `}`
}

// recorded is the output of a run that records a session and logs only
// the summary, leaving the app_metadata members other and the figures.
func recorded(other string, duration, count, total int) string {
	return wantOutput(`{`+other+written(duration, count, total)+`}`,
		patchCall(duration, count, total),
		recordedLog(duration, count, total))
}

func TestSpecFirstExample(t *testing.T) {
	got := runCmd(t, specEvent, tls, "-now", "2026-05-20T10:00:00.000Z")
	checkResult(t, result{code: 0, stdout: specOutput}, got)
}

// TestRuns covers runs of the action, whose output is compared as JSON.
func TestRuns(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  string // JSON
	}{
		{
			name:    "now defaults to the wall clock",
			args:    []string{tls},
			stdin:   event(`"2026-06-01T11:00:00Z"`, `null`),
			wantOut: recorded(``, 3600, 1, 3600),
		},
		{
			name: "now with an offset is written in UTC",
			args: []string{tls, "-now", "2026-06-01T14:00:00+02:00"},
			stdin: event(`"2026-06-01T11:00:00Z"`,
				`{"plan": "pro"}`),
			wantOut: recorded(`"plan": "pro", `, 3600, 1, 3600),
		},
		{
			name:  "min-duration raises the threshold",
			args:  []string{tls, "-min-duration", "2m"},
			stdin: event(`"2026-06-01T11:58:30Z"`, `{}`),
			wantOut: wantOutput(`{`+written(0, 1, 0)+`}`,
				logCall("info", "session too short to record: written as 0 s",
					`{"measured_sec": 90, "min_sec": 120}`),
				patchCall(0, 1, 0), recordedLog(0, 1, 0)),
		},
		{
			name:    "min-duration 0 records every session",
			args:    []string{tls, "-min-duration", "0"},
			stdin:   event(`"2026-06-01T11:59:55Z"`, `{}`),
			wantOut: recorded(``, 5, 1, 5),
		},
		{
			name: "a warning still exits 0",
			args: []string{tls},
			stdin: `{"user": {"user_id": "u1",
				"app_metadata": {"session_count": 3,
					"total_session_seconds": 9000}},
				"session": {"session_id": "s1"}}`,
			wantOut: wantOutput(`{`+written(0, 4, 9000)+`}`,
				logCall("warn", "last_login_at missing: session recorded as 0 s",
					`{}`),
				patchCall(0, 4, 9000), recordedLog(0, 4, 9000)),
		},
		{
			name: "integers above 2^53 are copied exactly",
			args: []string{tls},
			stdin: event(`"2026-06-01T11:00:00Z"`,
				`{"big": 9007199254740993, "huge": 123456789012345678901234567890,
				  "exp": 1e400, "neg": -9007199254740995,
				  "nested": {"id": 18446744073709551617},
				  "session_count": 9007199254740993}`),
			wantOut: wantOutput(`{"big": 9007199254740993,
					"huge": 123456789012345678901234567890,
					"exp": 1e400, "neg": -9007199254740995,
					"nested": {"id": 18446744073709551617}, `+
				written(3600, 1, 3600)+`}`,
				patchCall(3600, 1, 3600),
				logCall("warn", "stored figure invalid: counted from 0",
					`{"key": "session_count", "kind": "number"}`),
				recordedLog(3600, 1, 3600)),
		},
		{
			name: "an unparseable last_login_at's shape is in the warning",
			args: []string{tls},
			stdin: event(`"2026-05-20T08:00:00Z\nlevel=ERROR msg=forged"`,
				`{}`),
			wantOut: wantOutput(`{`+written(0, 1, 0)+`}`,
				logCall("warn",
					"last_login_at unparseable: session recorded as 0 s",
					`{"last_login_at_shape":
						"\"9999-99-99A99:99:99A\\aaaaaa=AAAAA aaa=aaaaaa\""}`),
				patchCall(0, 1, 0), recordedLog(0, 1, 0)),
		},
		{
			name: "a 1 MiB string is carried through",
			args: []string{tls, "-now", "2026-06-01T12:00:00Z"},
			stdin: `{"user": {"user_id": "u1", "email": "` +
				strings.Repeat("e", 1<<20) + `",
				"last_login_at": "2026-06-01T11:00:00Z"},
				"session": {"session_id": "s1"}}`,
			wantOut: recorded(``, 3600, 1, 3600),
		},
		{
			name: "a refused write exits 1 and still prints the calls",
			args: []string{tls},
			stdin: event(`"2026-06-01T11:00:00Z"`,
				`{"notes": "`+big+`"}`),
			wantCode: 1,
			wantOut: wantOutput(`{"notes": "`+big+`"}`,
				`{"api": "user.setAppMetadata", "patch": {`+
					written(3600, 1, 3600)+`}, "error": "metadata: `+
					`app_metadata too large: 16420 bytes, over the limit `+
					`of 16384 at key \"session_count\""}`),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runCmd(t, tc.stdin, tc.args...)
			if got.code != tc.wantCode {
				t.Errorf("exit status = %d, want %d; stderr: %s",
					got.code, tc.wantCode, got.stderr)
			}
			if diff := cmp.Diff(decodeJSON(t, tc.wantOut),
				decodeJSON(t, got.stdout)); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
			checkStderr(t, got)
		})
	}
}

// checkStderr checks that stderr is empty on success and one line
// otherwise.
func checkStderr(t *testing.T, got result) {
	t.Helper()
	switch {
	case got.code == 0 && got.stderr != "":
		t.Errorf("stderr = %q, want nothing", got.stderr)
	case got.code != 0 && (strings.Count(got.stderr, "\n") != 1 ||
		!strings.HasSuffix(got.stderr, "\n")):
		t.Errorf("stderr = %q, want one line", got.stderr)
	}
}

// TestBadInput covers input the command refuses with status 2 and one
// line on stderr, printing nothing.
func TestBadInput(t *testing.T) {
	const (
		noUserID    = "user.user_id is required (a flow refuses an event without it)"
		noSessionID = "session.session_id is required (a flow refuses an event " +
			"without it)"
		notStored = "user.app_metadata cannot be stored: "
	)
	// Events refused as bad with the -action flag alone: stderr is
	// "actiontest: bad event: " and why, on one line.
	badEvents := []struct {
		name, stdin, why string
	}{
		{"invalid JSON names the byte offset",
			`{"user": {"user_id": "u1",, "email": "a"}}`,
			"invalid JSON at byte offset 26: invalid character ',' looking " +
				"for beginning of object key string"},
		{"truncated JSON names the end", `{"user": {"user_id": "u1"`,
			"invalid JSON at byte offset 25: unexpected end of input"},
		{"trailing garbage", `{"user": {}} x`,
			"invalid JSON at byte offset 13: invalid character 'x' after " +
				"top-level value"},
		{"a second value after the event", `{"user": {}} {}`,
			"invalid JSON at byte offset 13: data after the event"},
		{"empty input", "", "empty input, want a JSON object"},
		{"white space only", " \n\t", "empty input, want a JSON object"},
		{"an array, not an object", `[{"user": {}}]`,
			"the event must be a JSON object, not an array"},
		{"a string, not an object", `"event"`,
			"the event must be a JSON object, not a string"},
		{"user as a string", `{"user": "u1"}`,
			"user must be an object, not a string"},
		{"app_metadata as an array",
			`{"user": {"user_id": "u1", "app_metadata": [1]}}`,
			"user.app_metadata must be an object or null, not an array"},
		{"app_metadata as a number",
			`{"user": {"user_id": "u1", "app_metadata": 3}}`,
			"user.app_metadata must be an object or null, not a number"},
		{"a duplicated key", `{"user": {"user_id": "u1", "app_metadata":
				{"session_count": 1, "session_count": 2}}}`,
			`duplicate key "session_count" in user.app_metadata at byte ` +
				"offset 68"},
		{"no user", `{"session": {"session_id": "s1"}}`, noUserID},
		{"no user_id",
			`{"user": {"email": "a@example.com"}, "session": {"session_id": "s1"}}`,
			noUserID},
		{"an empty user_id",
			`{"user": {"user_id": ""}, "session": {"session_id": "s1"}}`,
			noUserID},
		{"no session", `{"user": {"user_id": "u1"}}`, noSessionID},
		{"an empty session_id",
			`{"user": {"user_id": "u1"}, "session": {"session_id": ""}}`,
			noSessionID},
		{"a user_id holding a tab",
			`{"user": {"user_id": "u\t1"}, "session": {"session_id": "s1"}}`,
			"user.user_id is one a flow refuses: control character U+0009 " +
				"at byte 1"},
		{"a session_id holding NUL",
			`{"user": {"user_id": "u1"}, "session": {"session_id": "s\u0000"}}`,
			"session.session_id is one a flow refuses: control character " +
				"U+0000 at byte 1"},
		{"a user_id over 1 KiB",
			`{"user": {"user_id": "` + strings.Repeat("u", 2000) +
				`"}, "session": {"session_id": "s1"}}`,
			"user.user_id is one a flow refuses: 2000 bytes, over the " +
				"limit of 1024"},
		{"no IDs and bad app_metadata: the user ID first",
			`{"trigger": "login",
				"user": {"app_metadata": {"__proto__": 1}}}`,
			noUserID},
		{"app_metadata with __proto__", withMetadata(`{"__proto__": 1}`),
			notStored + `key "__proto__": reserved key (it pollutes ` +
				"JavaScript objects)"},
		{"app_metadata with an empty key", withMetadata(`{"": 1}`),
			notStored + `key "": empty key`},
		{"app_metadata with a '$' key",
			withMetadata(`{"session_count": 1, "$set": 1}`),
			notStored + `key "$set": reserved key (keys starting with '$' ` +
				"are the library's)"},
		{"app_metadata with a key holding a line break",
			withMetadata(`{"a\nactiontest: ok": 1}`),
			notStored + `key "a\nactiontest: ok": key holds a control ` +
				"character"},
		{"app_metadata with a nested __proto__",
			withMetadata(`{"x": {"__proto__": {"isAdmin": true}}}`),
			notStored + `key "x": nested key at ["__proto__"]: reserved key ` +
				"(it pollutes JavaScript objects)"},
		{"app_metadata with a nested empty key",
			withMetadata(`{"x": [{"": 1}]}`),
			notStored + `key "x": nested key at [0][""]: empty key`},
		{"app_metadata nested too deep",
			withMetadata(`{"x": ` + strings.Repeat("[", 65) +
				strings.Repeat("]", 65) + `}`),
			notStored + `key "x": value at ` + strings.Repeat("[0]", 64) +
				": maps and slices nested deeper than 64 levels"},
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantStderr string
	}{
		{
			name: "a trigger the action does not handle",
			args: []string{tls},
			stdin: `{"trigger": "login", "user": {"user_id": "u1"},
				"session": {"session_id": "s1"}}`,
			wantStderr: "actiontest: action cannot run on the event: " +
				`action "track-logout-stats", trigger "login"` + "\n",
		},
		{
			name:  "an unknown action lists the known ones",
			args:  []string{"-action", "track-login-stats"},
			stdin: specEvent,
			wantStderr: `actiontest: unknown action "track-login-stats"; ` +
				"known actions: track-logout-stats\n",
		},
		{
			name:  "no action",
			stdin: specEvent,
			wantStderr: "actiontest: no -action given; known actions: " +
				"track-logout-stats\n",
		},
		{
			name:  "a bad -now",
			args:  []string{tls, "-now", "yesterday"},
			stdin: specEvent,
			wantStderr: `actiontest: bad -now "yesterday": want a time ` +
				"such as 2026-05-20T10:00:00.000Z\n",
		},
		{
			name:  "an impossible -now",
			args:  []string{tls, "-now", "2026-02-30T10:00:00Z"},
			stdin: specEvent,
			wantStderr: `actiontest: bad -now "2026-02-30T10:00:00Z": ` +
				"want a time such as 2026-05-20T10:00:00.000Z\n",
		},
		{
			name:  "a -now holding a line break stays one line",
			args:  []string{tls, "-now", "2026\nactiontest: ok"},
			stdin: specEvent,
			wantStderr: `actiontest: bad -now "2026\nactiontest: ok": ` +
				"want a time such as 2026-05-20T10:00:00.000Z\n",
		},
		{
			name:  "a bad -min-duration",
			args:  []string{tls, "-min-duration", "60"},
			stdin: specEvent,
			wantStderr: `actiontest: invalid value "60" for flag ` +
				"-min-duration: parse error (see -h)\n",
		},
		{
			name:  "a negative -min-duration",
			args:  []string{tls, "-min-duration", "-5s"},
			stdin: specEvent,
			wantStderr: "actiontest: bad -min-duration -5s: want 0 or " +
				"more\n",
		},
		{
			name:  "an unknown flag",
			args:  []string{tls, "-verbose"},
			stdin: specEvent,
			wantStderr: "actiontest: flag provided but not defined: " +
				"-verbose (see -h)\n",
		},
		{
			name:  "an argument",
			args:  []string{tls, "event.json"},
			stdin: specEvent,
			wantStderr: `actiontest: unexpected argument "event.json": ` +
				"the event is read from standard input (see -h)\n",
		},
	}
	for _, tc := range badEvents {
		t.Run(tc.name, func(t *testing.T) {
			got := runCmd(t, tc.stdin, tls)
			checkResult(t, result{code: 2,
				stderr: "actiontest: bad event: " + tc.why + "\n"}, got)
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runCmd(t, tc.stdin, tc.args...)
			checkResult(t, result{code: 2, stderr: tc.wantStderr}, got)
		})
	}
}

// TestOnePrefix checks that every line on stderr names the command once,
// even when the error comes from the recorder, whose errors name its
// package.
func TestOnePrefix(t *testing.T) {
	// Actions that fail in each way, known for this test only.
	test := map[string]action.Func{
		"panics": func(context.Context, *action.Event, action.API) error {
			panic("boom")
		},
		"fails": func(context.Context, *action.Event, action.API) error {
			return errors.New("boom")
		},
		"returns-a-recorder-error": func(_ context.Context,
			_ *action.Event, api action.API) error {
			return api.Session().SetCustomClaim("", 1)
		},
	}
	for name, run := range test {
		actions[name] = func(config) action.Action {
			return action.Action{Name: name,
				Triggers: []action.Trigger{action.Logout}, Run: run}
		}
	}
	t.Cleanup(func() {
		for name := range test {
			delete(actions, name)
		}
	})

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStderr string
	}{
		{
			name:       "a panic",
			args:       []string{"-action", "panics"},
			stdin:      specEvent,
			wantCode:   1,
			wantStderr: "actiontest: action panicked: panics: boom\n",
		},
		{
			name:       "an error of the action",
			args:       []string{"-action", "fails"},
			stdin:      specEvent,
			wantCode:   1,
			wantStderr: "actiontest: action fails failed: boom\n",
		},
		{
			name:     "an error of the recorder",
			args:     []string{"-action", "returns-a-recorder-error"},
			stdin:    specEvent,
			wantCode: 1,
			wantStderr: "actiontest: action returns-a-recorder-error " +
				`failed: custom claim: metadata: invalid patch: key "": ` +
				"empty key\n",
		},
		{
			name:     "a refused write",
			args:     []string{tls},
			stdin:    event(`"2026-06-01T11:00:00Z"`, `{"notes": "`+big+`"}`),
			wantCode: 1,
			wantStderr: "actiontest: action track-logout-stats failed: " +
				"sessionstats: recording the session: metadata: " +
				"app_metadata too large: 16420 bytes, over the limit of " +
				`16384 at key "session_count"` + "\n",
		},
		{
			name: "a trigger the action does not handle",
			args: []string{"-action", "fails"},
			stdin: `{"trigger": "login", "user": {"user_id": "u1"},
				"session": {"session_id": "s1"}}`,
			wantCode: 2,
			wantStderr: "actiontest: action cannot run on the event: " +
				`action "fails", trigger "login"` + "\n",
		},
		{
			name:     "a bad event",
			args:     []string{tls},
			stdin:    `[]`,
			wantCode: 2,
			wantStderr: "actiontest: bad event: the event must be a " +
				"JSON object, not an array\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runCmd(t, tc.stdin, tc.args...)
			got.stdout = "" // TestRuns checks the calls
			checkResult(t, result{code: tc.wantCode, stderr: tc.wantStderr},
				got)
			if n := strings.Count(got.stderr, "actiontest:"); n != 1 {
				t.Errorf("stderr %q names the command %d times, want 1",
					got.stderr, n)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		t.Run(arg, func(t *testing.T) {
			checkResult(t, result{code: 0, stdout: usage}, runCmd(t, "", arg))
		})
	}

	// The help documents every flag and every exit status.
	for _, s := range []string{"-action", "-now", "-min-duration", "-h",
		"track-logout-stats", "\n  0 ", "\n  1 ", "\n  2 ", "byte offset"} {
		if !strings.Contains(usage, s) {
			t.Errorf("usage does not mention %q", s)
		}
	}
}

// FuzzRun runs the command on any standard input and checks its contract:
// no panic; status 0 or 1 with one JSON object holding "calls" and
// "app_metadata" on standard output, or status 2 with nothing there; one
// line on standard error exactly when the status is not 0.
func FuzzRun(f *testing.F) {
	f.Add([]byte(specEvent))
	for _, in := range []string{
		``, `{}`, `[]`, `{"user": "u1"}`, `{"user": {"app_metadata": []}}`,
		`{"a": 1, "a": 2}`, `{} x`, `{"trigger": "login"}`,
		event(`"2026-06-01 11:00:00.5+00"`, `{"session_count": "3"}`),
		event(`1779264000000`, `{"total_session_seconds": 1e308}`),
		event(`"2026-02-30T08:00:00Z"`,
			`{"session_count": 9007199254740993, "big": 1e400}`),
		event(`"0001-01-01T00:00:00Z"`, `{"session_count": null}`),
	} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, stdin []byte) {
		got := runCmd(t, string(stdin), tls, "-now",
			"2026-06-01T12:00:00.000Z")
		checkStderr(t, got)
		switch got.code {
		case 0, 1:
			var out struct {
				Calls       []json.RawMessage          `json:"calls"`
				AppMetadata map[string]json.RawMessage `json:"app_metadata"`
			}
			d := json.NewDecoder(strings.NewReader(got.stdout))
			d.DisallowUnknownFields()
			if err := d.Decode(&out); err != nil || d.More() ||
				out.Calls == nil || out.AppMetadata == nil {
				t.Fatalf("status %d, output not the result object: %v\n%s",
					got.code, err, got.stdout)
			}
		case 2:
			if got.stdout != "" {
				t.Errorf("status 2 with output:\n%s", got.stdout)
			}
		default:
			t.Fatalf("status %d, want 0, 1 or 2", got.code)
		}
	})
}

// TestREADME checks that the project README's "Testing an action"
// section shows the command's real output on the SPEC's first worked
// example.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "```json\n"+specOutput+"```\n") {
		t.Errorf("README.md does not show the output:\n%s", specOutput)
	}
	if !strings.Contains(string(b), specEvent) {
		t.Errorf("README.md does not show the event:\n%s", specEvent)
	}
}
