package pgstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// Every logout of these tests ends a session of this length.
const sessionLength = 120 * time.Second

// now is the fake clock's time in every flow test.
var now = time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)

// tables names the tables that replicas share, in a fresh schema.
func tables(tb testing.TB, pool *pgxpool.Pool) pgstore.Options {
	tb.Helper()
	schema := newSchema(tb, pool)
	return pgstore.Options{
		Table:         pgx.Identifier{schema, "users"},
		ReceiptsTable: pgx.Identifier{schema, "receipts"},
	}
}

// replica is one auth-server process: a pool of its own, a store on the
// shared tables, and a runner of [track-logout-stats, RevokeSession].
type replica struct {
	pool   *pgxpool.Pool
	store  *pgstore.Store
	runner *flow.Runner

	// revokeErr, when set, is what the revoker returns.
	revokeErr atomic.Pointer[error]
	revoked   atomic.Int64
}

// newReplica returns a replica on the tables of opts whose connections
// carry the application name app. wrap, when not nil, stands between the
// runner and the store.
func newReplica(tb testing.TB, opts pgstore.Options, app string,
	wrap func(*pgstore.Store) metadata.Store) *replica {

	tb.Helper()
	return newReplicaFlow(tb, opts, app, wrap, flow.Options{})
}

// newReplicaFlow is newReplica with the runner's options fopts (its
// Store, Revoker and Timeout are the replica's).
func newReplicaFlow(tb testing.TB, opts pgstore.Options, app string,
	wrap func(*pgstore.Store) metadata.Store, fopts flow.Options) *replica {

	tb.Helper()
	r := &replica{pool: connect(tb, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = app
	})}
	r.store = newStore(tb, r.pool, opts)

	// The store the runner uses, and a revoker that counts.
	var store metadata.Store = r.store
	if wrap != nil {
		store = wrap(r.store)
	}
	rev := flow.RevokerFunc(func(context.Context, string, string) error {
		if err := r.revokeErr.Load(); err != nil {
			return *err
		}
		r.revoked.Add(1)
		return nil
	})
	fopts.Store, fopts.Revoker, fopts.Timeout = store, rev, time.Minute
	runner, err := flow.NewRunner(fopts)
	if err != nil {
		tb.Fatalf("flow.NewRunner = %v", err)
	}

	// The flow under test, on a clock that never moves.
	clk := clock.NewMock()
	clk.Set(now)
	reg, err := action.NewRegistry(sessionstats.New(
		sessionstats.Options{Clock: clk}))
	if err != nil {
		tb.Fatalf("action.NewRegistry = %v", err)
	}
	f, err := flow.New(action.Logout, reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{})
	if err != nil {
		tb.Fatalf("flow.New = %v", err)
	}
	if _, err := runner.Publish(f); err != nil {
		tb.Fatalf("Publish = %v", err)
	}
	r.runner = runner
	return r
}

// logout runs the logout of the user's session, a session of
// sessionLength.
func (r *replica) logout(ctx context.Context, userID, sessionID string) (*flow.Result, error) {
	return r.runner.Run(ctx, &action.Event{
		Trigger: action.Logout,
		User: action.User{ID: userID,
			LastLoginAt: action.At(now.Add(-sessionLength))},
		Session: action.Session{ID: sessionID},
	})
}

// checkRun fails the test unless the run went through whole.
func checkRun(tb testing.TB, res *flow.Result, err error) {
	tb.Helper()
	if err != nil {
		tb.Errorf("Run = %v", err)
		return
	}
	if res.Repeat {
		tb.Errorf("Run: Repeat = true for a new session")
	}
	for _, st := range res.Failed() {
		tb.Errorf("Run: block %d (%s %s) failed: %v",
			st.Block, st.Kind, st.Action, st.Err)
	}
}

// figures reads the user's session figures.
func figures(tb testing.TB, s *pgstore.Store, userID string) sessionstats.Figures {
	tb.Helper()
	m, err := s.Get(context.Background(), userID)
	if err != nil {
		tb.Fatalf("Get(%q) = %v", userID, err)
	}
	return sessionstats.Read(m)
}

// wantFigures are the figures after n logouts of sessionLength.
func wantFigures(n int64) sessionstats.Figures {
	if n == 0 {
		return sessionstats.Figures{}
	}
	secs := int64(sessionLength / time.Second)
	return sessionstats.Figures{
		SessionCount:        n,
		TotalSessionSeconds: n * secs,
		LastSessionDuration: secs,
		LastLogoutAt:        now,
	}
}

// appName returns an application name no other test run uses.
func appName(what string) string {
	return "pgstore-test-" + what + "-" + strings.ToLower(rand.Text())[:8]
}

// logoutAll runs workers goroutines on every replica of rs at once, each
// ending each sessions of user u, all distinct, and checks every run.
func logoutAll(t *testing.T, rs []*replica, workers, each int) {
	t.Helper()
	var wg sync.WaitGroup
	for i, r := range rs {
		for w := range workers {
			wg.Go(func() {
				for k := range each {
					sid := fmt.Sprintf("r%d-w%d-%d", i, w, k)
					res, err := r.logout(context.Background(), "u", sid)
					checkRun(t, res, err)
				}
			})
		}
	}
	wg.Wait()
}

// checkCounted checks that user u's figures, read through the last of
// rs, count n sessions, and that the replicas revoked n sessions in all.
func checkCounted(t *testing.T, rs []*replica, n int64) {
	t.Helper()
	last := rs[len(rs)-1].store
	if d := cmp.Diff(wantFigures(n), figures(t, last, "u")); d != "" {
		t.Errorf("figures, mismatch (-want +got):\n%s", d)
	}
	var got int64
	for _, r := range rs {
		got += r.revoked.Load()
	}
	if got != n {
		t.Errorf("sessions revoked = %d, want %d", got, n)
	}
}

// TestFlowReplicasOneUser signs one user out 6,400 times at once, from
// two replicas of 16 workers each: every session counts, exactly once.
func TestFlowReplicasOneUser(t *testing.T) {
	const replicas, workers, each = 2, 16, 200
	opts := tables(t, connect(t, nil))
	var rs []*replica
	for i := range replicas {
		rs = append(rs, newReplica(t, opts, appName(fmt.Sprint(i)), nil))
	}
	put(t, rs[0].store, "u", nil)

	logoutAll(t, rs, workers, each)

	const n = replicas * workers * each
	checkCounted(t, rs, n)
}

// TestFlowManyUsers signs 1,000 users out three times each, every user's
// sessions spread over both replicas at once.
func TestFlowManyUsers(t *testing.T) {
	const users, sessions, workers = 1000, 3, 8
	opts := tables(t, connect(t, nil))
	rs := []*replica{
		newReplica(t, opts, appName("a"), nil),
		newReplica(t, opts, appName("b"), nil),
	}
	for u := range users {
		put(t, rs[0].store, fmt.Sprint("u", u), nil)
	}

	// Job k is session k/users of user k%users: a user's sessions are
	// users jobs apart, so they run at the same time on both replicas.
	jobs := make(chan int)
	go func() {
		for k := range users * sessions {
			jobs <- k
		}
		close(jobs)
	}()
	var wg sync.WaitGroup
	for w := range 2 * workers {
		r := rs[w%2]
		wg.Go(func() {
			for k := range jobs {
				uid := fmt.Sprint("u", k%users)
				sid := fmt.Sprint("s", k/users)
				res, err := r.logout(context.Background(), uid, sid)
				checkRun(t, res, err)
			}
		})
	}
	wg.Wait()

	for u := range users {
		uid := fmt.Sprint("u", u)
		got := figures(t, rs[0].store, uid)
		if d := cmp.Diff(wantFigures(sessions), got); d != "" {
			t.Fatalf("%s: figures, mismatch (-want +got):\n%s", uid, d)
		}
	}
}

// killer is a store whose updates by track-logout-stats lose their
// backend, terminated by an administrator. On the locked path the victim
// holds the user's row, between the receipt insert and the commit; on a
// hint, it is the connection that the one statement is about to use.
type killer struct {
	*pgstore.Store
	admin *pgxpool.Pool
	app   string // the application name of the victim's connections

	// hinted kills the idle connections, before the statement of an
	// update on a hint, instead of the backend inside a transaction.
	hinted bool

	// table, when set, is the users table, which the killer writes to
	// before each armed update, as another replica would, so that the
	// store's hint is stale and the update takes the locked path.
	table pgx.Identifier

	mu     sync.Mutex
	left   int                 // attempts still to kill; < 0 means all
	choose func(r string) bool // when set, tells which attempts to kill
	killed int
	err    error // the first failure to kill
}

func (k *killer) Update(ctx context.Context, userID, receipt string, fn metadata.UpdateFunc) error {
	if !strings.Contains(receipt, sessionstats.Name) {
		return k.Store.Update(ctx, userID, receipt, fn)
	}
	if k.table != nil && k.armed() {
		_, err := k.admin.Exec(ctx, `UPDATE `+k.table.Sanitize()+`
			SET app_metadata = app_metadata || '{"elsewhere": true}'
			WHERE user_id = $1`, userID)
		if err != nil {
			k.fail(err)
		}
	}
	return k.Store.Update(ctx, userID, receipt,
		func(cur metadata.Map) (metadata.Map, error) {
			k.kill(receipt)
			return fn(cur)
		})
}

// unguarded is a store that shows the runner no UpdateGuarded: the
// runner asks HasReceipt at the start of each logout, and the action's
// write goes through Update, which the killer overrides.
type unguarded struct {
	metadata.Store
	metadata.ReceiptRecorder
	metadata.BatchRecorder
}

// arm makes the next n attempts lose their backend; n < 0 means every
// attempt until arm(0).
func (k *killer) arm(n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.left = n
}

func (k *killer) armed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.left != 0
}

// fail notes the first failure of the killer itself.
func (k *killer) fail(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err == nil {
		k.err = err
	}
}

// kill terminates the victim, waiting until it has gone, if the attempt
// of the update with receipt is one to kill. On the locked path the
// victim is the one backend idle in a transaction after locking the row;
// an attempt without one (an update on a hint, whose function runs
// before its statement) is let through.
func (k *killer) kill(receipt string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.left == 0 && k.choose == nil {
		return
	}
	state := "idle in transaction"
	if k.hinted {
		state = "idle"
	}

	// Find the victim, then terminate it if it is one to kill.
	ctx := context.Background()
	var pids []int32
	err := k.admin.QueryRow(ctx, `
		SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity
		WHERE application_name = $1 AND state = $2`,
		k.app, state).Scan(&pids)
	switch {
	case err != nil:
	case len(pids) == 0 && !k.hinted:
		return // not on the locked path
	case len(pids) == 0, len(pids) > 1 && !k.hinted:
		err = fmt.Errorf("found %d backends to kill, want 1", len(pids))
	}
	if err == nil && k.choose != nil && !k.choose(receipt) {
		return
	}
	var n int
	if err == nil {
		err = k.admin.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
			FROM unnest($1::int[]) AS pid`, pids).Scan(&n)
	}
	if err == nil && n != len(pids) {
		err = fmt.Errorf("terminated %d of %d backends", n, len(pids))
	}
	if err != nil {
		if k.err == nil {
			k.err = err
		}
		return
	}
	k.killed++
	if k.left > 0 {
		k.left--
	}
}

// TestFlowBackendKilled terminates the backend of the action's write while
// it holds the user's row, then retries the logout: the session is
// revoked, and counts once.
func TestFlowBackendKilled(t *testing.T) {
	const before = 3 // sessions counted before the one under test
	errDown := errors.New("revoker down")
	tests := []struct {
		name       string
		hinted     bool  // kill the hinted statement's connection
		kills      int   // attempts killed; < 0 means all
		revokeErr  error // the first run's revoker error
		wantKilled int
		// what the first run did
		wantActionOK, wantErr bool
		// figures after the first run, and after the retry
		wantFirst, wantRetry int64
		// the retry ran nothing
		wantRepeat bool
	}{{
		// The store runs the transaction again: the logout succeeds
		// and the retry finds the session ended.
		name: "in the transaction", kills: 1, wantKilled: 1,
		wantActionOK: true,
		wantFirst:    before + 1, wantRetry: before + 1, wantRepeat: true,
	}, {
		// The store gives up; the revoker, in the same outage, fails
		// too: the logout fails, and its retry counts the session.
		name: "every attempt, revoke fails", kills: -1,
		revokeErr: errDown, wantKilled: 5, wantErr: true,
		wantFirst: before, wantRetry: before + 1,
	}, {
		// The one statement fails; the store runs the update again,
		// on the locked path.
		name: "before the hinted statement", hinted: true, kills: 1,
		wantKilled: 1, wantActionOK: true,
		wantFirst: before + 1, wantRetry: before + 1, wantRepeat: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			admin := connect(t, nil)
			opts := tables(t, admin)
			k := &killer{admin: admin, app: appName("victim"),
				hinted: tc.hinted}
			if !tc.hinted {
				k.table = opts.Table
			}
			r := newReplica(t, opts, k.app,
				func(s *pgstore.Store) metadata.Store {
					k.Store = s
					return unguarded{k, k, k}
				})
			put(t, r.store, "u", nil)
			for i := range before {
				res, err := r.logout(ctx, "u", fmt.Sprint("s", i))
				checkRun(t, res, err)
			}

			// The logout under test loses its backend.
			k.arm(tc.kills)
			if tc.revokeErr != nil {
				r.revokeErr.Store(&tc.revokeErr)
			}
			res, err := r.logout(ctx, "u", "victim")
			k.arm(0)
			r.revokeErr.Store(nil)
			if k.err != nil || k.killed != tc.wantKilled {
				t.Fatalf("backends killed = %d, %v; want %d, nil",
					k.killed, k.err, tc.wantKilled)
			}
			if tc.wantErr != (err != nil) {
				t.Errorf("first Run = %v, want error %t", err, tc.wantErr)
			}
			if res == nil || len(res.Steps) != 2 {
				t.Fatalf("first Run result = %+v, want 2 steps", res)
			}
			if ok := res.Steps[0].Status == flow.StatusOK; ok != tc.wantActionOK {
				t.Errorf("first Run: action %s (%v), want ok %t",
					res.Steps[0].Status, res.Steps[0].Err, tc.wantActionOK)
			}
			got := figures(t, r.store, "u")
			if d := cmp.Diff(wantFigures(tc.wantFirst), got); d != "" {
				t.Errorf("after the first run, mismatch (-want +got):\n%s",
					d)
			}

			// The client retries the logout, and the store is fine.
			res, err = r.logout(ctx, "u", "victim")
			if err != nil || len(res.Failed()) > 0 {
				t.Fatalf("retry = %+v, %v; want no failure", res, err)
			}
			if res.Repeat != tc.wantRepeat {
				t.Errorf("retry: Repeat = %t, want %t", res.Repeat,
					tc.wantRepeat)
			}
			got = figures(t, r.store, "u")
			if d := cmp.Diff(wantFigures(tc.wantRetry), got); d != "" {
				t.Errorf("after the retry, mismatch (-want +got):\n%s", d)
			}
			if n := r.revoked.Load(); n != before+1 {
				t.Errorf("sessions revoked = %d, want %d", n, before+1)
			}
		})
	}
}

// TestKilledWithoutReceipt loses the backend of an update that has no
// receipt, after fn ran: the outcome of a commit sent on a dying
// connection is unknown, so the store runs it again only if nothing was
// sent. Either way the write is stored at most once.
func TestKilledWithoutReceipt(t *testing.T) {
	ctx := context.Background()
	admin := connect(t, nil)
	k := &killer{admin: admin, app: appName("victim"), left: 1}
	pool := connect(t, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = k.app
	})
	s := newStore(t, pool, pgstore.Options{})
	put(t, s, "u", nil)

	err := s.Update(ctx, "u", "", func(cur metadata.Map) (metadata.Map, error) {
		k.kill("")
		return increment(cur)
	})
	if k.err != nil || k.killed != 1 {
		t.Fatalf("backends killed = %d, %v; want 1, nil", k.killed, k.err)
	}
	var want int64
	if err == nil {
		want = 1
	}
	if n := counter(t, s, "u"); n != want {
		t.Errorf("Update = %v, then n = %d; want %d", err, n, want)
	}

	// The store goes on on another connection.
	if err := s.Update(ctx, "u", "", increment); err != nil {
		t.Errorf("next Update = %v", err)
	}
}

// TestFlowReplicasKilled signs one user out from two replicas at once
// while the backends of one replica's writes are terminated inside
// their transactions, one attempt in four: every logout revokes its
// session, and every session counts exactly once.
func TestFlowReplicasKilled(t *testing.T) {
	const workers, each = 8, 25
	admin := connect(t, nil)
	opts := tables(t, admin)

	// Each write is killed at most once, so that its retry goes through.
	k := &killer{admin: admin, app: appName("victim")}
	attempts, hit := 0, make(map[string]bool)
	k.choose = func(receipt string) bool {
		attempts++
		if attempts%4 != 0 || hit[receipt] {
			return false
		}
		hit[receipt] = true
		return true
	}
	rs := []*replica{
		newReplica(t, opts, k.app, func(s *pgstore.Store) metadata.Store {
			k.Store = s
			return unguarded{k, k, k}
		}),
		newReplica(t, opts, appName("1"), nil),
	}
	put(t, rs[0].store, "u", nil)

	logoutAll(t, rs, workers, each)

	if k.err != nil || k.killed == 0 {
		t.Errorf("backends killed = %d, %v; want some, nil", k.killed, k.err)
	}
	const n = 2 * workers * each
	checkCounted(t, rs, n)
	t.Logf("%d backends killed in %d locked attempts", k.killed, attempts)
}
