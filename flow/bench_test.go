package flow_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// benchNow is the fake now of the benchmarks; every session began two
// hours earlier, so that its duration is recorded.
var (
	benchNow   = time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	benchLogin = action.At(benchNow.Add(-2 * time.Hour))
)

// benchRunner returns a runner of [track-logout-stats, RevokeSession] on
// a memory store holding users, a no-op revoker and a discarding logger.
func benchRunner(b *testing.B, users []string) *flow.Runner {
	b.Helper()
	clk := clock.NewMock()
	clk.Set(benchNow)
	store := memstore.New(memstore.Options{Clock: clk})
	for _, u := range users {
		if err := store.Put(context.Background(), u, nil); err != nil {
			b.Fatalf("Put: %v", err)
		}
	}
	reg, err := action.NewRegistry(
		sessionstats.New(sessionstats.Options{Clock: clk}))
	if err != nil {
		b.Fatalf("NewRegistry: %v", err)
	}
	r, err := flow.NewRunner(flow.Options{
		Store: store,
		Revoker: flow.RevokerFunc(func(context.Context, string,
			string) error {
			return nil
		}),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatalf("NewRunner: %v", err)
	}
	_, err = r.Publish(flow.Must(action.Logout, reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{}))
	if err != nil {
		b.Fatalf("Publish: %v", err)
	}
	return r
}

// sessionIDs returns n distinct session IDs, built before the clock runs.
func sessionIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "s" + strconv.Itoa(i)
	}
	return ids
}

// BenchmarkFlowLogout measures one logout of one user, each of a new
// session.
func BenchmarkFlowLogout(b *testing.B) {
	r := benchRunner(b, []string{"u1"})
	ids := sessionIDs(b.N)
	ev := action.Event{User: action.User{ID: "u1", LastLoginAt: benchLogin}}
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The runner does not keep the event: it can be reused.
		ev.Session.ID = ids[i]
		res, err := r.Run(ctx, &ev)
		if err != nil || len(res.Failed()) > 0 || res.Repeat {
			b.Fatalf("Run() = %+v, %v", res, err)
		}
	}
}

// BenchmarkFlowLogoutParallel measures logouts of 10,000 users in
// parallel, each of a new session.
func BenchmarkFlowLogoutParallel(b *testing.B) {
	users := make([]string, 10_000)
	for i := range users {
		users[i] = "u" + strconv.Itoa(i)
	}
	r := benchRunner(b, users)
	ids := sessionIDs(b.N)
	var next atomic.Int64
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ev := action.Event{User: action.User{LastLoginAt: benchLogin}}
		for pb.Next() {
			i := next.Add(1) - 1
			ev.User.ID = users[i%int64(len(users))]
			ev.Session.ID = ids[i]
			res, err := r.Run(ctx, &ev)
			if err != nil || len(res.Failed()) > 0 || res.Repeat {
				b.Errorf("Run() = %+v, %v", res, err)
				return
			}
		}
	})
}
