// Command actiontest runs one action on one event from the command line,
// the way a hosted console's Test tab does, and prints every API call the
// action made and the app_metadata it left.
//
// Usage:
//
//	actiontest -action NAME [-now TIME] [-min-duration DURATION] < event.json
//
// It reads one event from standard input, in the JSON form of
// [github.com/logoutflow/logoutflow/action.Event] as
// [github.com/logoutflow/logoutflow/action.DecodeEvent] decodes it, runs
// the named action on a recorder
// ([github.com/logoutflow/logoutflow/action/actiontest.Recorder]) whose
// stored app_metadata starts as the event's, and prints one JSON object:
//
//	{"calls": [...], "app_metadata": {...}}
//
// app_metadata is the recorder's stored value after the run ({} when
// nothing is stored), and each call, in the order made, is one of
//
//	{"api": "log", "level": "info", "message": "...", "attrs": {...}}
//	{"api": "user.setAppMetadata", "patch": {...}}
//	{"api": "session.setCustomClaim", "key": "...", "value": ...}
//
// with "error": "..." last when the call was refused. An atomic update
// shows as the patch it applied. Numbers are copied as their text, so an
// integer above 2^53 is printed exactly as it was read.
//
// The flags are:
//
//	-action NAME
//		the action to run; track-logout-stats is the one known.
//	-now TIME
//		the clock's time during the run, in any form last_login_at
//		accepts (2026-05-20T10:00:00.000Z); the wall clock by default,
//		or when TIME is empty.
//	-min-duration DURATION
//		track-logout-stats's short-session threshold, as a Go
//		duration (90s, 2m), not negative; 1m by default, 0 records
//		every session.
//
// The exit status is 0 when the action ran, warnings included; 1 when it
// returned an error or panicked (the calls are printed all the same); and
// 2 for unusable input, with nothing on standard output: a bad flag, an
// unknown action, a bad -now, a negative -min-duration, input that is
// not an event, an event a flow would refuse (no user.user_id or no
// session.session_id, or one that
// [github.com/logoutflow/logoutflow/action.CheckID] refuses), app_metadata
// that [github.com/logoutflow/logoutflow/metadata.Validate] refuses (no
// store could hold it: an empty or reserved key such as "__proto__", at
// any depth), an event whose trigger the action does not run on. Whenever
// it is not 0, one line on standard error, starting "actiontest: ", names
// the problem, for invalid JSON with the byte offset at fault.
//
// An example, the first worked example of the SPEC:
//
//	echo '{"user": {"user_id": "u1",
//	  "last_login_at": "2026-05-20T08:00:00.000Z",
//	  "app_metadata": {"session_count": 3, "total_session_seconds": 9000}},
//	  "session": {"session_id": "s1"}}' |
//	go run ./cmd/actiontest -action track-logout-stats \
//	  -now 2026-05-20T10:00:00.000Z
package main

import (
	"os"

	"github.com/benbjohnson/clock"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, clock.New()))
}
