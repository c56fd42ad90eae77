package session_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/session"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// newRunner returns a runner on a memory store holding user u1, with a
// [track-logout-stats, RevokeSession] flow for every session end.
func newRunner(clk clock.Clock) (*flow.Runner, *memstore.Store) {
	store := memstore.New(memstore.Options{Clock: clk})
	_ = store.Put(context.Background(), "u1", nil)
	reg, _ := action.NewRegistry(
		sessionstats.New(sessionstats.Options{Clock: clk}))
	r, _ := flow.NewRunner(flow.Options{
		Store: store,
		Revoker: flow.RevokerFunc(func(context.Context, string,
			string) error {
			return nil // the auth server drops the session here
		}),
	})
	for _, tr := range action.SessionEnds() {
		_, _ = r.Publish(flow.Must(tr, reg,
			flow.RunCustomAction{Action: sessionstats.Name},
			flow.RevokeSession{}))
	}
	return r, store
}

// example is the setting of each example: a mock clock at 08:00, a
// runner and store from newRunner on it, and a tracker using them.
type example struct {
	clk    *clock.Mock
	runner *flow.Runner
	store  *memstore.Store
	tr     *session.Tracker
}

// newExample returns a new example setting, and the error of NewTracker.
func newExample() (*example, error) {
	ex := &example{clk: clock.NewMock()}
	ex.clk.Set(time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC))
	ex.runner, ex.store = newRunner(ex.clk)
	var err error
	ex.tr, err = session.NewTracker(session.Options{Runner: ex.runner,
		Clock: ex.clk})
	return ex, err
}

// figures returns the session figures stored for u1.
func (ex *example) figures(ctx context.Context) sessionstats.Figures {
	md, _ := ex.store.Get(ctx, "u1")
	return sessionstats.Read(md)
}

// A session starts at 08:00, is active on each request until 08:45, and
// signs out at 09:00. A request that arrives after the sign-out does not
// bring the session back.
func ExampleTracker() {
	ctx := context.Background()
	ex, err := newExample()
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	clk, tr := ex.clk, ex.tr

	_ = tr.Start(ctx, "u1", "s1")
	for range 9 {
		clk.Add(5 * time.Minute)
		_ = tr.Touch(ctx, "s1") // on every request
	}
	clk.Add(15 * time.Minute)
	if _, err := tr.End(ctx, "s1", action.Logout); err != nil {
		fmt.Println("error:", err)
		return
	}

	err = tr.Touch(ctx, "s1")
	fmt.Println("touch after the end:", errors.Is(err, session.ErrUnknown))
	f := ex.figures(ctx)
	fmt.Println(f.SessionCount, "session of", f.LastSessionDuration, "s")
	// Output:
	// touch after the end: true
	// 1 session of 3600 s
}

// A session last active at 08:10 expires after 30 minutes idle. The
// sweeper finds it and counts it up to 08:10, not to the sweep; the
// logout that the user clicks later counts nothing more.
func ExampleSweeper() {
	ctx := context.Background()
	ex, _ := newExample()
	clk, tr := ex.clk, ex.tr
	sw, err := session.NewSweeper(tr, session.SweeperOptions{
		IdleTimeout: 30 * time.Minute,
		BatchSize:   500,
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}

	_ = tr.Start(ctx, "u1", "s1")
	clk.Add(10 * time.Minute)
	_ = tr.Touch(ctx, "s1")
	clk.Add(31 * time.Minute)

	// A server runs sw.Run(ctx) in a goroutine; one sweep shows it.
	rep, err := sw.Sweep(ctx)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("expired %d in %d batch\n", rep.Expired, rep.Batches)

	res, _ := ex.runner.Run(ctx, &action.Event{
		Trigger: action.Logout,
		User:    action.User{ID: "u1"},
		Session: action.Session{ID: "s1"},
	})
	fmt.Println("later logout is a repeat:", res.Repeat)
	f := ex.figures(ctx)
	fmt.Println(f.SessionCount, "session of", f.LastSessionDuration, "s")
	// Output:
	// expired 1 in 1 batch
	// later logout is a repeat: true
	// 1 session of 600 s
}

// "Sign out everywhere" ends each of the user's sessions by Revoke; each
// counts up to its own last activity.
func ExampleTracker_EndAll() {
	ctx := context.Background()
	ex, _ := newExample()
	clk, tr := ex.clk, ex.tr

	_ = tr.Start(ctx, "u1", "laptop")
	_ = tr.Start(ctx, "u1", "phone")
	clk.Add(20 * time.Minute)
	_ = tr.Touch(ctx, "phone")
	clk.Add(40 * time.Minute)
	_ = tr.Touch(ctx, "laptop")

	n, err := tr.EndAll(ctx, "u1", action.Revoke)
	fmt.Println("ended", n, err)
	f := ex.figures(ctx)
	fmt.Println(f.SessionCount, "sessions,", f.TotalSessionSeconds, "s")
	// Output:
	// ended 2 <nil>
	// 2 sessions, 4800 s
}
