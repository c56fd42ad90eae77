package flow_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// statsNow is the fake now of the tests that run track-logout-stats.
var statsNow = time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)

// statsFlow is a runner of [track-logout-stats, RevokeSession] on a
// memory store holding users, with nothing stored yet, and a revoker
// that counts what it ends.
type statsFlow struct {
	store  *memstore.Store
	runner *flow.Runner
	rev    *countingRevoker
}

func newStatsFlow(tb testing.TB, users []string) *statsFlow {
	tb.Helper()
	clk := clock.NewMock()
	clk.Set(statsNow)
	sf := &statsFlow{
		store: memstore.New(memstore.Options{Clock: clk}),
		rev:   &countingRevoker{ended: map[string]int{}},
	}
	putUsers(tb, sf.store, users)
	sf.runner = statsRunner(tb, flow.Options{Store: sf.store, Revoker: sf.rev}, clk)
	return sf
}

// putUsers stores each of users in store, with nothing in it.
func putUsers(tb testing.TB, store *memstore.Store, users []string) {
	tb.Helper()
	for _, u := range users {
		if err := store.Put(context.Background(), u, nil); err != nil {
			tb.Fatalf("Put: %v", err)
		}
	}
}

// statsRunner returns a runner of opts with [track-logout-stats,
// RevokeSession] published, clk being the stats action's clock.
func statsRunner(tb testing.TB, opts flow.Options, clk sessionstats.Clock) *flow.Runner {
	tb.Helper()
	reg, err := action.NewRegistry(
		sessionstats.New(sessionstats.Options{Clock: clk}))
	if err != nil {
		tb.Fatalf("NewRegistry: %v", err)
	}
	r, err := flow.NewRunner(opts)
	if err != nil {
		tb.Fatalf("NewRunner: %v", err)
	}
	_, err = r.Publish(flow.Must(action.Logout, reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{}))
	if err != nil {
		tb.Fatalf("Publish: %v", err)
	}
	return r
}

// countingRevoker counts the revocations of each "user/session".
type countingRevoker struct {
	mu    sync.Mutex
	ended map[string]int
}

func (r *countingRevoker) Revoke(_ context.Context, user, session string) error {
	r.mu.Lock()
	r.ended[user+"/"+session]++
	r.mu.Unlock()
	return nil
}

// signout is one sign-out of a test: the session and how long it lasted.
type signout struct {
	user, session string
	length        time.Duration
}

// event returns the logout's event: its session began length before
// statsNow.
func (l signout) event() *action.Event {
	return &action.Event{
		Trigger: action.Logout,
		User: action.User{ID: l.user,
			LastLoginAt: action.At(statsNow.Add(-l.length))},
		Session: action.Session{ID: l.session},
	}
}

// runAll runs the logouts from workers goroutines at once, each taking
// the next logout not yet taken, and fails the test for any run that did
// not count and revoke.
func (sf *statsFlow) runAll(t *testing.T, workers int, logouts []signout) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
	)
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(logouts) {
					return
				}
				res, err := sf.runner.Run(context.Background(),
					logouts[i].event())
				if err != nil || res.Repeat || len(res.Failed()) > 0 {
					t.Errorf("Run(%v) = %+v, %v; want a full run",
						logouts[i], res, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
}

// figures returns the figures stored for user, as track-logout-stats
// wrote them.
func (sf *statsFlow) figures(t *testing.T, user string) metadata.Map {
	t.Helper()
	m, err := sf.store.Get(context.Background(), user)
	if err != nil {
		t.Fatalf("Get(%s): %v", user, err)
	}
	return m
}

// wantFigures is what track-logout-stats leaves after count sessions
// of sec seconds each, the last one ending at statsNow.
func wantFigures(count, sec int64) metadata.Map {
	return metadata.Map{
		sessionstats.KeyLastLogoutAt:        "2026-05-20T10:00:00.000Z",
		sessionstats.KeyLastSessionDuration: sec,
		sessionstats.KeySessionCount:        count,
		sessionstats.KeyTotalSessionSeconds: count * sec,
	}
}

// TestConcurrentLogoutsAllCount runs many logouts at once through the
// whole flow: every one must count, with no update lost, and each
// session must be revoked once.
func TestConcurrentLogoutsAllCount(t *testing.T) {
	tests := []struct {
		name     string
		users    int
		sessions int // per user
		workers  int
		// length is how long each session of user u lasted.
		length func(u int) time.Duration
	}{
		{
			// 64 x 500 = 32,000 sessions of 120 s: the figures are
			// 32,000 and 3,840,000 exactly.
			name:     "one user on many devices",
			users:    1,
			sessions: 64 * 500,
			workers:  64,
			length:   func(int) time.Duration { return 120 * time.Second },
		},
		{
			// Each user's sessions last a time of their own, so that
			// one user's figures landing on another would show.
			name:     "10,000 users at once",
			users:    10_000,
			sessions: 3,
			workers:  64,
			length: func(u int) time.Duration {
				return time.Duration(60+u) * time.Second
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users := make([]string, tc.users)
			for u := range users {
				users[u] = "u" + strconv.Itoa(u)
			}
			sf := newStatsFlow(t, users)

			// The sessions of all users, interleaved, so that the
			// goroutines work on different users at any moment.
			var logouts []signout
			for s := range tc.sessions {
				for u, id := range users {
					logouts = append(logouts, signout{user: id,
						session: fmt.Sprintf("s%d-%d", u, s),
						length:  tc.length(u)})
				}
			}
			sf.runAll(t, tc.workers, logouts)

			// Every figure of every user is exact.
			for u, id := range users {
				sec := int64(tc.length(u) / time.Second)
				want := wantFigures(int64(tc.sessions), sec)
				if diff := cmp.Diff(want, sf.figures(t, id)); diff != "" {
					t.Fatalf("%s: figures mismatch (-want +got):\n%s",
						id, diff)
				}
			}

			// Every session was revoked, once.
			if got := len(sf.rev.ended); got != len(logouts) {
				t.Errorf("sessions revoked = %d, want %d", got,
					len(logouts))
			}
			for s, n := range sf.rev.ended {
				if n != 1 {
					t.Fatalf("session %s revoked %d times, want 1", s, n)
				}
			}
		})
	}
}

// TestMillionLogoutsMemoryFlat signs out 1,000 users a thousand times
// each through the whole flow, on a memory store that keeps receipts for
// ten seconds of a fake clock, which moves a second every thousand
// logouts. The heap must not grow from the 100,000th logout on: each
// logout leaves two receipts, which would take well over a hundred
// megabytes if none were forgotten.
// It takes about 10 s of CPU time, 45 s under the race detector.
func TestMillionLogoutsMemoryFlat(t *testing.T) {
	const (
		users   = 1000
		logouts = 1_000_000
		mark    = 100_000
		perTick = 1000 // logouts per second of the fake clock

		// The heap may grow by this much. About 60,000 receipts live at
		// any time, a few megabytes; all would be over a hundred.
		slack = 16 << 20
	)
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(statsNow)
	store := memstore.New(memstore.Options{
		Clock: clk, Retention: 10 * time.Second})
	ids := make([]string, users)
	for u := range ids {
		ids[u] = "u" + strconv.Itoa(u)
		if err := store.Put(ctx, ids[u], nil); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	reg, err := action.NewRegistry(
		sessionstats.New(sessionstats.Options{Clock: clk}))
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	runner, err := flow.NewRunner(flow.Options{Store: store,
		Revoker: flow.RevokerFunc(func(context.Context, string,
			string) error {
			return nil
		})})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	_, err = runner.Publish(flow.Must(action.Logout, reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{}))
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}

	// run runs logouts from..to-1 on every core: logout i is of user
	// i % users, session i.
	login := action.At(statsNow.Add(-2 * time.Hour))
	run := func(from, to int) {
		var wg sync.WaitGroup
		var next atomic.Int64
		next.Store(int64(from))
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				ev := action.Event{User: action.User{LastLoginAt: login}}
				for {
					i := int(next.Add(1) - 1)
					if i >= to {
						return
					}
					if i%perTick == 0 {
						clk.Add(time.Second)
					}
					ev.User.ID = ids[i%users]
					ev.Session.ID = "s" + strconv.Itoa(i)
					res, err := runner.Run(ctx, &ev)
					if err != nil || res.Repeat || len(res.Failed()) > 0 {
						t.Errorf("Run(%d) = %+v, %v; want a full run",
							i, res, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}

	run(0, mark)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	run(mark, logouts)
	runtime.GC()
	runtime.ReadMemStats(&after)

	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > slack {
		t.Errorf("heap grew by %d bytes from logout %d to %d, want at "+
			"most %d", grew, mark, logouts, slack)
	}
	t.Logf("heap at logout %d: %d bytes; at %d: %d bytes", mark,
		before.HeapAlloc, logouts, after.HeapAlloc)

	// Every logout counted.
	for _, id := range ids {
		m, err := store.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if got := sessionstats.Read(m).SessionCount; got != logouts/users {
			t.Fatalf("%s: session_count = %d, want %d", id, got,
				logouts/users)
		}
	}
}

// TestRepeatLogoutCountsOnce sends the logout of one session eight
// times, one after the other and all at once: the session counts once
// and is revoked once, every caller is told it succeeded, and all but
// one result say it was a repeat.
func TestRepeatLogoutCountsOnce(t *testing.T) {
	const times = 8
	tests := []struct {
		name     string
		parallel bool
	}{
		{"in sequence", false},
		{"at once", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sf := newStatsFlow(t, []string{"u1"})
			l := signout{user: "u1", session: "s1",
				length: 120 * time.Second}

			// Run it, all at once or in turn.
			results := make([]*flow.Result, times)
			run := func(i int) {
				res, err := sf.runner.Run(context.Background(), l.event())
				if err != nil {
					t.Errorf("Run() error: %v", err)
				}
				results[i] = res
			}
			if tc.parallel {
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range times {
					wg.Go(func() {
						<-start
						run(i)
					})
				}
				close(start)
				wg.Wait()
			} else {
				for i := range times {
					run(i)
				}
			}

			// One did the work; the others say they were repeats.
			var repeats int
			for _, res := range results {
				if res != nil && res.Repeat {
					repeats++
				}
			}
			if repeats != times-1 {
				t.Errorf("repeats = %d, want %d", repeats, times-1)
			}
			if !tc.parallel && results[0].Repeat {
				t.Errorf("the first Run() says it was a repeat")
			}
			if diff := cmp.Diff(wantFigures(1, 120),
				sf.figures(t, "u1")); diff != "" {
				t.Errorf("figures mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"u1/s1": 1},
				sf.rev.ended); diff != "" {
				t.Errorf("revoked mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
