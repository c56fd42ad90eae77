package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/action/actiontest"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// Exit statuses.
const (
	exitOK       = 0 // the action ran
	exitFailed   = 1 // the action returned an error or panicked
	exitBadInput = 2 // nothing ran: bad flags, bad event
)

// maxInput bounds the event read from standard input. It is far above any
// real event and keeps a runaway pipe from filling the memory.
const maxInput = 64 << 20

// config is what the flags set for the action.
type config struct {
	clock       clock.Clock
	minDuration time.Duration
}

// actions builds each known action by name.
var actions = map[string]func(config) action.Action{
	sessionstats.Name: func(c config) action.Action {
		return sessionstats.New(sessionstats.Options{
			Clock:       c.clock,
			MinDuration: c.minDuration,
		})
	},
}

// output is what the command prints.
type output struct {
	Calls       []action.Call `json:"calls"`
	AppMetadata metadata.Map  `json:"app_metadata"`
}

// run is the whole command: it parses args, reads the event from stdin,
// runs the action and writes the result to stdout and any problem, as
// one line, to stderr. It returns the exit status. wall is the clock used
// when -now is not given.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, wall clock.Clock) int {
	// Parse the flags; flag's own messages are replaced by one line.
	fs := flag.NewFlagSet("actiontest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("action", "", "")
	nowText := fs.String("now", "", "")
	minDuration := fs.Duration("min-duration",
		sessionstats.DefaultMinDuration, "")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		io.WriteString(stdout, usage)
		return exitOK
	case err != nil:
		return fail(stderr, exitBadInput, "%s (see -h)", err)
	case fs.NArg() > 0:
		return fail(stderr, exitBadInput,
			"unexpected argument %q: the event is read from standard "+
				"input (see -h)", fs.Arg(0))
	}

	// Pick the action and its clock.
	build, ok := actions[*name]
	if !ok {
		return fail(stderr, exitBadInput, "%s; known actions: %s",
			unknownAction(*name), strings.Join(knownActions(), ", "))
	}
	if *minDuration < 0 {
		return fail(stderr, exitBadInput, "bad -min-duration %v: want 0 "+
			"or more", *minDuration)
	}
	cfg := config{clock: wall, minDuration: *minDuration}
	if *minDuration == 0 {
		cfg.minDuration = -1 // sessionstats: record every session
	}
	if *nowText != "" {
		now, err := action.ParseTime(*nowText)
		if err != nil {
			return fail(stderr, exitBadInput, "bad -now %q: want a time "+
				"such as 2026-05-20T10:00:00.000Z", *nowText)
		}
		mock := clock.NewMock()
		mock.Set(now)
		cfg.clock = mock
	}

	// Read and decode the event, refusing what is not one.
	data, err := io.ReadAll(io.LimitReader(stdin, maxInput+1))
	if err != nil {
		return fail(stderr, exitBadInput, "reading standard input: %v", err)
	}
	if len(data) > maxInput {
		return fail(stderr, exitBadInput, "the event is over %d MiB",
			maxInput>>20)
	}
	ev, err := action.DecodeEvent(data)
	if err != nil {
		return fail(stderr, exitBadInput, "%s", unprefixed(err, "action: "))
	}
	if problem := checkEvent(ev); problem != "" {
		return fail(stderr, exitBadInput, "bad event: %s", problem)
	}

	// Run the action; an event it cannot run on is bad input, and any
	// other error still shows the calls made before it.
	a := build(cfg)
	rec, runErr := actiontest.Run(context.Background(), a, ev,
		actiontest.Options{})
	if errors.Is(runErr, actiontest.ErrTrigger) {
		return fail(stderr, exitBadInput, "%s", unprefixed(runErr))
	}
	out := output{Calls: rec.Calls(), AppMetadata: rec.AppMetadata()}
	if out.Calls == nil {
		out.Calls = []action.Call{}
	}
	if out.AppMetadata == nil {
		out.AppMetadata = metadata.Map{}
	}
	if err := encode(stdout, out); err != nil {
		return fail(stderr, exitFailed, "writing the result: %v", err)
	}
	switch {
	case errors.Is(runErr, actiontest.ErrPanic):
		// The error names the action already.
		return fail(stderr, exitFailed, "%s", unprefixed(runErr))
	case runErr != nil:
		return fail(stderr, exitFailed, "action %s failed: %s", a.Name,
			unprefixed(runErr))
	}
	return exitOK
}

// checkEvent returns why ev, decoded, is not an event an auth server
// would run a flow on, or "". A flow refuses an event without a user ID
// or a session ID, or with one that action.CheckID refuses, and a store
// never holds app_metadata that a patch could not write, so the
// recorder is not seeded with such.
func checkEvent(ev *action.Event) string {
	switch {
	case ev.User.ID == "":
		return "user.user_id is required (a flow refuses an event " +
			"without it)"
	case ev.Session.ID == "":
		return "session.session_id is required (a flow refuses an " +
			"event without it)"
	}
	if err := action.CheckID(ev.User.ID); err != nil {
		return "user.user_id is one a flow refuses: " +
			unprefixed(err, action.ErrBadID.Error()+": ")
	}
	if err := action.CheckID(ev.Session.ID); err != nil {
		return "session.session_id is one a flow refuses: " +
			unprefixed(err, action.ErrBadID.Error()+": ")
	}
	if err := metadata.Validate(ev.User.AppMetadata); err != nil {
		return "user.app_metadata cannot be stored: " +
			unprefixed(err, metadata.ErrInvalidPatch.Error()+": ")
	}
	return ""
}

// unprefixed returns the text of err without the first of prefixes it
// starts with, "actiontest: " when none is given, so that the line fail
// writes names the command once.
func unprefixed(err error, prefixes ...string) string {
	if len(prefixes) == 0 {
		prefixes = []string{"actiontest: "}
	}
	text := err.Error()
	for _, p := range prefixes {
		if t, ok := strings.CutPrefix(text, p); ok {
			return t
		}
	}
	return text
}

// encode writes out as indented JSON, numbers as their text and '<', '>'
// and '&' as they are.
func encode(w io.Writer, out output) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// fail writes one line to stderr and returns status.
func fail(stderr io.Writer, status int, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(stderr, "actiontest: %s\n", oneLine(msg))
	return status
}

// oneLine escapes line breaks, so that a message stays one line whatever
// text it quotes.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`,
		"\u2028", `\u2028`, "\u2029", `\u2029`).Replace(s)
}

// unknownAction says what is wrong with the action's name.
func unknownAction(name string) string {
	if name == "" {
		return "no -action given"
	}
	return fmt.Sprintf("unknown action %q", name)
}

// knownActions returns the names of the known actions, sorted.
func knownActions() []string {
	names := make([]string, 0, len(actions))
	for n := range actions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// usage is what -h prints.
const usage = `Usage: actiontest -action NAME [-now TIME] [-min-duration DURATION] < event.json

Runs one action on one event, as a console's Test tab does, and prints
every API call the action made and the app_metadata it left.

The event is read from standard input, in the action package's JSON form:

  {"trigger": "logout",
   "user": {"user_id": "u1", "email": "a@example.com",
            "last_login_at": "2026-05-20T08:00:00.000Z",
            "app_metadata": {"session_count": 3}},
   "session": {"session_id": "s1"}}

The action runs against a recorder whose stored app_metadata starts as the
event's. The output is one JSON object:

  {"calls": [...], "app_metadata": {...}}

app_metadata is the stored value after the run ({} when nothing is
stored); each call, in the order made, is one of

  {"api": "log", "level": "debug|info|warn|error", "message": "...", "attrs": {...}}
  {"api": "user.setAppMetadata", "patch": {...}}
  {"api": "session.setCustomClaim", "key": "...", "value": ...}

with "error": "..." last when the call was refused. An atomic update shows
as the patch it applied. Numbers are printed exactly as read: an integer
above 2^53 is never rounded.

Flags:

  -action NAME
        the action to run: track-logout-stats
  -now TIME
        the clock's time during the run, as RFC 3339
        (2026-05-20T10:00:00.000Z) or any form last_login_at accepts;
        the wall clock by default, or when TIME is empty
  -min-duration DURATION
        track-logout-stats: a shorter session is counted but recorded
        as 0 s; a Go duration (90s, 2m), not negative; 1m by default;
        0 records every session
  -h
        print this help

Exit status:

  0  the action ran (warnings included)
  1  the action returned an error or panicked; the calls are printed
     all the same
  2  unusable input: a bad flag, an unknown action, a bad -now, input
     that is not an event (invalid JSON, with its byte offset; not an
     object; a field of the wrong type), an event a flow would not run
     (no user.user_id or no session.session_id, or one over 1 KiB, not
     UTF-8, or holding a control character), app_metadata no store
     could hold (at any depth, a key that is empty, too long, holds a
     control character or is reserved, such as "__proto__"; at the top,
     a key starting with '$'), or an event whose trigger ("logout" when
     empty) the action does not run on; nothing is printed on standard
     output

Whenever the status is not 0, one line on standard error names the
problem.
`
