// Command logoutflow wires a Logout flow, [RunCustomAction
// (track-logout-stats), RevokeSession], on the in-memory store with a fake
// clock, and plays the SPEC's worked examples as sign-ins and sign-outs of
// two users. After each sign-out it prints the user's app_metadata as
// indented JSON; the flow's logs go to the same output.
//
//	go run ./examples/logoutflow
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "logoutflow:", err)
		os.Exit(1)
	}
}

// signOut is one step of the story: a user who signed in at login (or
// sent no last_login_at when login is zero) signs out at the clock's now.
type signOut struct {
	user    string
	session string
	login   time.Duration // before now; negative means in the future
	absent  bool          // no last_login_at at all
	advance time.Duration // how far the clock moves before the sign-out
	say     string
}

func run(ctx context.Context, out io.Writer) error {
	// A fake clock makes the story repeatable; an auth server passes
	// nothing and gets the real one.
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC))

	// The flow's logs, without timestamps so the output is stable.
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))

	// The store holds two users: alice has history, bob has none.
	store := memstore.New(memstore.Options{Clock: clk})
	err := store.Put(ctx, "alice", metadata.Map{
		sessionstats.KeySessionCount:        3,
		sessionstats.KeyTotalSessionSeconds: 9000,
	})
	if err != nil {
		return err
	}
	if err := store.Put(ctx, "bob", nil); err != nil {
		return err
	}

	// Register the action, build the flow and publish it.
	reg, err := action.NewRegistry(sessionstats.New(sessionstats.Options{
		Clock: clk,
	}))
	if err != nil {
		return err
	}
	runner, err := flow.NewRunner(flow.Options{
		Store:   store,
		Revoker: flow.RevokerFunc(revoke),
		Logger:  logger,
	})
	if err != nil {
		return err
	}
	logout, err := flow.New(action.Logout, reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{},
	)
	if err != nil {
		return err
	}
	if _, err := runner.Publish(logout); err != nil {
		return err
	}

	// Play the worked examples, one sign-out after another.
	story := []signOut{
		{user: "alice", session: "a1", login: 2 * time.Hour,
			say: "alice (3 sessions, 9000 s so far) signs out after 2 h"},
		{user: "alice", session: "a2", absent: true, advance: time.Hour,
			say: "alice signs out of a session whose start was not sent"},
		{user: "bob", session: "b1", login: 59 * time.Second,
			advance: time.Hour, say: "bob signs out after 59 s"},
		{user: "bob", session: "b2", login: 60 * time.Second,
			advance: time.Hour, say: "bob signs out after 60 s"},
		{user: "bob", session: "b3", login: -5 * time.Minute,
			advance: time.Hour,
			say:     "bob signs out of a session that began 5 min in the future"},
		{user: "bob", session: "b3", login: -5 * time.Minute,
			say: "bob's sign-out of the same session arrives again"},
	}
	for _, s := range story {
		clk.Add(s.advance)
		fmt.Fprintf(out, "\n# %s\n", s.say)

		ev := &action.Event{
			Trigger: action.Logout,
			User:    action.User{ID: s.user},
			Session: action.Session{ID: s.session},
		}
		if !s.absent {
			ev.User.LastLoginAt = action.At(clk.Now().Add(-s.login))
		}
		res, err := runner.Run(ctx, ev)
		if err != nil {
			return err
		}
		if res.Repeat {
			fmt.Fprintln(out, "(a repeat: counted once already)")
		}

		md, err := store.Get(ctx, s.user)
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(md, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s app_metadata:\n%s\n", s.user, b)
	}
	return nil
}

// revoke stands for the auth server's own session revocation.
func revoke(ctx context.Context, userID, sessionID string) error {
	return nil
}
