package sessionstats_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action/actiontest"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// A user who signed in at 08:00 with three sessions behind them signs out
// at 10:00: the action records a fourth session of two hours.
func Example() {
	login := time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	clk := clock.NewMock()
	clk.Set(login.Add(2 * time.Hour))
	a := sessionstats.New(sessionstats.Options{Clock: clk})

	ev := actiontest.LogoutEvent("u1", login, metadata.Map{
		sessionstats.KeySessionCount:        3,
		sessionstats.KeyTotalSessionSeconds: 9000,
	})
	r, err := actiontest.Run(context.Background(), a, ev,
		actiontest.Options{})
	if err != nil {
		fmt.Println("error:", err)
		return
	}

	// Each call, with the keys it writes or the attributes it logs below.
	for _, c := range r.Calls() {
		if c.Patch != nil {
			fmt.Println(c.API)
			for _, k := range slices.Sorted(maps.Keys(c.Patch)) {
				fmt.Printf("  %s: %v\n", k, c.Patch[k])
			}
		} else {
			fmt.Println(c.API, c.Level, c.Message)
			for _, a := range c.Attrs {
				fmt.Printf("  %s\n", a)
			}
		}
	}
	f := sessionstats.Read(r.AppMetadata())
	fmt.Printf("%d sessions, %.0f s on average, last signed out at %s\n",
		f.SessionCount, f.AverageSessionSeconds(),
		f.LastLogoutAt.Format(time.Kitchen))
	// Output:
	// user.setAppMetadata
	//   last_logout_at: 2026-05-20T10:00:00.000Z
	//   last_session_duration_sec: 7200
	//   session_count: 4
	//   total_session_seconds: 16200
	// log INFO session recorded
	//   last_session_duration_sec=7200
	//   session_count=4
	//   total_session_seconds=16200
	// 4 sessions, 4050 s on average, last signed out at 10:00AM
}
