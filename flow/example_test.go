package flow_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// Example wires a Logout flow into an auth server: track-logout-stats,
// then RevokeSession, on the in-memory store.
func Example() {
	ctx := context.Background()
	login := time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	clk := clock.NewMock()
	clk.Set(login.Add(2 * time.Hour))

	// The auth server's users live in the store; its sessions elsewhere.
	store := memstore.New(memstore.Options{Clock: clk})
	err := store.Put(ctx, "alice", metadata.Map{
		sessionstats.KeySessionCount:        3,
		sessionstats.KeyTotalSessionSeconds: 9000,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	revoke := flow.RevokerFunc(func(_ context.Context, user, sess string) error {
		fmt.Println("revoked", user, sess)
		return nil
	})

	// Register the action, build the flow, publish it.
	reg, err := action.NewRegistry(sessionstats.New(sessionstats.Options{
		Clock: clk,
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	runner, err := flow.NewRunner(flow.Options{Store: store, Revoker: revoke})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = runner.Publish(flow.Must(action.Logout, reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{},
	))
	if err != nil {
		fmt.Println(err)
		return
	}

	// Alice signs out after two hours.
	res, err := runner.Run(ctx, &action.Event{
		Trigger: action.Logout,
		User:    action.User{ID: "alice", LastLoginAt: action.At(login)},
		Session: action.Session{ID: "s1"},
	})
	if err != nil {
		fmt.Println("still signed in:", err)
		return
	}
	for _, s := range res.Steps {
		fmt.Println(s.Block, s.Kind, s.Action, s.Status)
	}
	md, _ := store.Get(ctx, "alice")
	f := sessionstats.Read(md)
	fmt.Println(f.SessionCount, f.TotalSessionSeconds, f.LastSessionDuration)

	// The same sign-out arriving again counts nothing more.
	res, _ = runner.Run(ctx, &action.Event{
		User:    action.User{ID: "alice", LastLoginAt: action.At(login)},
		Session: action.Session{ID: "s1"},
	})
	fmt.Println("repeat:", res.Repeat)
	// Output:
	// revoked alice s1
	// 1 RunCustomAction track-logout-stats ok
	// 2 RevokeSession  ok
	// 4 16200 7200
	// repeat: true
}

// ExampleNew shows the error of an invalid flow: it names the block and
// the action.
func ExampleNew() {
	reg, _ := action.NewRegistry(sessionstats.New(sessionstats.Options{}))
	_, err := flow.New(action.Logout, reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RunCustomAction{Action: "send-survey"},
		flow.RevokeSession{},
	)
	fmt.Println(err)
	// Output:
	// flow: invalid flow: block 2 (RunCustomAction "send-survey"): action not registered
}
