package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// These tests show, against a real server, what only PostgreSQL can: how
// many statements a logout through [pgstore.Store.UpdateGuarded] costs,
// what jsonb equality takes for the same value, and what a backend lost
// in the middle, or many replicas at once, do to the figures. The
// interface's semantics are storetest's.

// Kinds of the statements a store sends, as stmtLog names them.
const (
	sentGuarded    = "guarded"     // guardedSQL, the one-statement write
	sentHasReceipt = "has-receipt" // HasReceipt's read
	sentHinted     = "hinted"      // casSQL, the write on its hint
	sentRecord     = "record"      // the end of a session, recorded
	sentLock       = "lock"        // the locked path's first round trip
	sentCommit     = "commit"      // the locked path's second
	sentOther      = "other"
)

// stmtLog is a pgx tracer that notes the kind of each statement and each
// batch that its pool's connections send, in order: one entry is one
// round trip. Statements that pgx prepares, on a connection's first use
// of them, cost a round trip more, which it counts apart.
type stmtLog struct {
	mu       sync.Mutex
	sent     []string
	prepared int
}

var (
	_ pgx.QueryTracer   = (*stmtLog)(nil)
	_ pgx.BatchTracer   = (*stmtLog)(nil)
	_ pgx.PrepareTracer = (*stmtLog)(nil)
)

func (l *stmtLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn,
	d pgx.TraceQueryStartData) context.Context {

	l.note(sentKind(d.SQL))
	return ctx
}

func (l *stmtLog) TraceQueryEnd(context.Context, *pgx.Conn,
	pgx.TraceQueryEndData) {
}

func (l *stmtLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn,
	d pgx.TraceBatchStartData) context.Context {

	// A batch is named after the statement that tells what it is for:
	// the lock, the commit, or the end records it holds alone.
	kind, records := sentOther, 0
	for _, q := range d.Batch.QueuedQueries {
		switch k := sentKind(q.SQL); {
		case k == sentLock:
			kind = sentLock
		case q.SQL == "commit" && kind == sentOther:
			kind = sentCommit
		case k == sentRecord:
			records++
		}
	}
	if records > 0 && records == len(d.Batch.QueuedQueries) {
		kind = sentRecord
	}
	l.note(kind)
	return ctx
}

func (l *stmtLog) TraceBatchQuery(context.Context, *pgx.Conn,
	pgx.TraceBatchQueryData) {
}

func (l *stmtLog) TraceBatchEnd(context.Context, *pgx.Conn,
	pgx.TraceBatchEndData) {
}

func (l *stmtLog) TracePrepareStart(ctx context.Context, _ *pgx.Conn,
	_ pgx.TracePrepareStartData) context.Context {

	l.mu.Lock()
	defer l.mu.Unlock()
	l.prepared++
	return ctx
}

func (l *stmtLog) TracePrepareEnd(context.Context, *pgx.Conn,
	pgx.TracePrepareEndData) {
}

func (l *stmtLog) note(kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, kind)
}

// mark returns where the log is now, for since.
func (l *stmtLog) mark() (sent, prepared int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent), l.prepared
}

// since returns the statements sent after mark returned sent, and how
// many were prepared after it returned prepared.
func (l *stmtLog) since(sent, prepared int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.sent[sent:]...), l.prepared - prepared
}

// count returns how many of the statements logged are of kind.
func (l *stmtLog) count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, k := range l.sent {
		if k == kind {
			n++
		}
	}
	return n
}

// sentKind tells a statement of the store by a fragment of its SQL.
func sentKind(sql string) string {
	switch {
	case strings.Contains(sql, "AS ended"):
		return sentGuarded
	case strings.Contains(sql, "starts_with("):
		return sentHasReceipt
	case strings.Contains(sql, "WITH u AS ("):
		return sentHinted
	case strings.Contains(sql, "usr AS"):
		return sentRecord
	case strings.Contains(sql, "FOR NO KEY UPDATE"):
		return sentLock
	}
	return sentOther
}

// logoutSent is what a logout sends whose write took n guarded
// statements, its end recorded before Run returns.
func logoutSent(n int) []string {
	sent := make([]string, 0, n+1)
	for range n {
		sent = append(sent, sentGuarded)
	}
	return append(sent, sentRecord)
}

// tracedReplica is a replica whose runner's store sends its statements
// on a pool of its own, whose connections carry the application name app
// and are logged in log. The replica's own store, on another pool, seeds
// and reads users without showing in the log.
type tracedReplica struct {
	*replica
	table pgx.Identifier // the users table
	log   *stmtLog
	app   string
}

// newTraced returns a traced replica on the tables of opts whose runner
// has the options fopts (Store, Revoker and Timeout are the replica's).
// edit, when not nil, changes the traced pool's configuration; wrap,
// when not nil, stands between the runner and the traced store.
func newTraced(tb testing.TB, opts pgstore.Options, app string,
	fopts flow.Options, edit func(*pgxpool.Config),
	wrap func(*pgstore.Store) metadata.Store) *tracedReplica {

	tb.Helper()
	tr := &tracedReplica{table: opts.Table, log: new(stmtLog), app: app}
	pool := connect(tb, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = app
		c.ConnConfig.Tracer = tr.log
		if edit != nil {
			edit(c)
		}
	})
	traced := newStore(tb, pool, opts)
	var store metadata.Store = traced
	if wrap != nil {
		store = wrap(traced)
	}
	tr.replica = newReplicaFlow(tb, opts, appName("seed"),
		func(*pgstore.Store) metadata.Store { return store }, fopts)
	return tr
}

// oneConn gives a pool a single connection, so that a test knows which
// backend is the store's and every statement is prepared once.
func oneConn(c *pgxpool.Config) { c.MaxConns = 1 }

// logoutAs runs the logout of the user's session, a session of
// sessionLength, whose event carries snap as the user's app_metadata.
func logoutAs(ctx context.Context, r *replica, userID, sessionID string,
	snap metadata.Map) (*flow.Result, error) {

	return r.runner.Run(ctx, &action.Event{
		Trigger: action.Logout,
		User: action.User{ID: userID,
			LastLoginAt: action.At(now.Add(-sessionLength)),
			AppMetadata: snap},
		Session: action.Session{ID: sessionID},
	})
}

// snapshot returns the user's app_metadata as s stores it: the snapshot
// of an event that an auth server builds from its own read.
func snapshot(tb testing.TB, s *pgstore.Store, userID string) metadata.Map {
	tb.Helper()
	m, err := s.Get(context.Background(), userID)
	if err != nil {
		tb.Fatalf("Get(%q) = %v", userID, err)
	}
	return m
}

// with returns a copy of m with the key set to v.
func with(m metadata.Map, key string, v any) metadata.Map {
	c := metadata.Clone(m)
	if c == nil {
		c = metadata.Map{}
	}
	c[key] = v
	return c
}

// countedAs returns the session_count that the run's one stored write of
// track-logout-stats set, failing the test unless there is exactly one.
func countedAs(tb testing.TB, res *flow.Result) int64 {
	tb.Helper()
	if res == nil || len(res.Steps) == 0 {
		tb.Fatalf("result %+v has no steps", res)
	}
	var writes []metadata.Map
	for _, c := range res.Steps[0].Calls {
		if c.API == action.CallSetAppMetadata && c.Err == nil {
			writes = append(writes, c.Patch)
		}
	}
	if len(writes) != 1 {
		tb.Fatalf("the action stored %d writes (%v), want 1", len(writes),
			res.Steps[0].Calls)
	}
	n, _ := metadata.Int(writes[0][sessionstats.KeySessionCount])
	return n
}

// warnedKeys returns the keys that the action's warnings name.
func warnedKeys(res *flow.Result) []string {
	var keys []string
	for _, c := range res.Steps[0].Calls {
		if c.API != action.CallLog || c.Level != slog.LevelWarn {
			continue
		}
		for _, a := range c.Attrs {
			if a.Key == "key" {
				keys = append(keys, a.Value.String())
			}
		}
	}
	return keys
}

// seeded are the figures after one logout of sessionLength of a user
// whose stored figures were count and total.
func seeded(count, total int64) sessionstats.Figures {
	secs := int64(sessionLength / time.Second)
	return sessionstats.Figures{
		SessionCount:        count + 1,
		TotalSessionSeconds: total + secs,
		LastSessionDuration: secs,
		LastLogoutAt:        now,
	}
}

// TestGuardedRoundTrips counts the statements of logouts whose events
// carry a snapshot of app_metadata: one for the action's write when the
// snapshot is what is stored, one more when it is not, one for a repeat
// whatever the snapshot, and never a HasReceipt; for events without one,
// the HasReceipt read and a write on it; then one that records the end
// of the session, unless the run is a repeat. It runs the table
// twice: with the end recorded before Run returns, where every
// statement counted is sent before Run returns; and with DeferEnd, where
// the end is the queue's, recorded by the time Wait returns. (When the
// queue sends it is not checked: a Wait that finds no record under way
// leaves its wake-up behind, which cuts the next batch's delay short.)
func TestGuardedRoundTrips(t *testing.T) {
	// The rows run in order, on one replica: each counts on the
	// sessions of those before.
	ctx := context.Background()
	tests := []struct {
		name          string
		user, session string
		// snap returns the event's snapshot; it may change what is
		// stored first.
		snap func(t *testing.T, r *tracedReplica) metadata.Map
		// the statements the run sends before it returns, the end
		// recorded after
		wantSent   []string
		wantRepeat bool
		wantCount  int64 // the user's session_count after
	}{{
		name: "fresh snapshot", user: "u", session: "s1",
		snap:     fresh("u"),
		wantSent: []string{sentGuarded}, wantCount: 3,
	}, {
		// The first statement finds another value and returns it; the
		// second writes the patch computed from that.
		name: "stale snapshot", user: "u", session: "s2",
		snap:     stale("u"),
		wantSent: []string{sentGuarded, sentGuarded}, wantCount: 4,
	}, {
		// No snapshot is no guess: the store reads first, as
		// HasReceipt, then writes on that read.
		name: "no snapshot, a value stored", user: "u", session: "s3",
		snap:     none,
		wantSent: []string{sentHasReceipt, sentHinted}, wantCount: 5,
	}, {
		name: "no snapshot, nothing stored", user: "new", session: "s1",
		snap:     none,
		wantSent: []string{sentHasReceipt, sentHinted}, wantCount: 1,
	}, {
		// An empty snapshot guesses nothing stored.
		name: "empty snapshot, nothing stored", user: "new2",
		session: "s1", snap: empty,
		wantSent: []string{sentGuarded}, wantCount: 1,
	}, {
		// The guard bars the write in the one statement.
		name: "repeat, fresh snapshot", user: "u", session: "s3",
		snap:     fresh("u"),
		wantSent: []string{sentGuarded}, wantRepeat: true, wantCount: 5,
	}, {
		name: "repeat, stale snapshot", user: "u", session: "s1",
		snap:     stale("u"),
		wantSent: []string{sentGuarded}, wantRepeat: true, wantCount: 5,
	}}
	modes := []struct {
		name  string
		fopts flow.Options
	}{
		{"end in Run", flow.Options{}},
		{"DeferEnd", flow.Options{DeferEnd: true}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			opts := tables(t, connect(t, nil))
			r := newTraced(t, opts, appName("trips"), mode.fopts, oneConn,
				nil)
			put(t, r.store, "u", metadata.Map{"plan": "pro"})
			put(t, r.store, "new", nil)
			put(t, r.store, "new2", nil)

			// The one connection prepares what the logouts send.
			res, err := logoutAs(ctx, r.replica, "u", "warm-up",
				snapshot(t, r.store, "u"))
			checkRun(t, res, err)
			res, err = logoutAs(ctx, r.replica, "u", "warm-up-2", nil)
			checkRun(t, res, err)
			r.runner.Wait()

			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					snap := tc.snap(t, r)
					sent, prepared := r.log.mark()
					res, err := logoutAs(ctx, r.replica, tc.user,
						tc.session, snap)
					before, gotPrepared := r.log.since(sent, prepared)
					r.runner.Wait()
					all, _ := r.log.since(sent, 0)
					if err != nil || res.Repeat != tc.wantRepeat {
						t.Fatalf("Run = Repeat %t, %v; want %t, nil",
							res != nil && res.Repeat, err, tc.wantRepeat)
					}

					// The write's statements, then the end's record,
					// unless the run is a repeat. Without DeferEnd,
					// all were sent before Run returned.
					want := tc.wantSent
					if !tc.wantRepeat {
						want = slices.Concat(want, []string{sentRecord})
					}
					if d := cmp.Diff(want, all); d != "" {
						t.Errorf("statements sent, mismatch "+
							"(-want +got):\n%s", d)
					}
					if !mode.fopts.DeferEnd && len(all) != len(before) {
						t.Errorf("statements sent after Run returned: "+
							"%v, want none", all[len(before):])
					}
					if gotPrepared != 0 {
						t.Errorf("statements prepared = %d, want 0",
							gotPrepared)
					}
					got := figures(t, r.store, tc.user).SessionCount
					if got != tc.wantCount {
						t.Errorf("session_count = %d, want %d", got,
							tc.wantCount)
					}
				})
			}
		})
	}
}

// fresh returns a snap function that reads the user's value just before
// the run.
func fresh(userID string) func(*testing.T, *tracedReplica) metadata.Map {
	return func(t *testing.T, r *tracedReplica) metadata.Map {
		return snapshot(t, r.store, userID)
	}
}

// stale returns a snap function that reads the user's value, then
// changes it as another system would, behind the replica's back.
func stale(userID string) func(*testing.T, *tracedReplica) metadata.Map {
	return func(t *testing.T, r *tracedReplica) metadata.Map {
		snap := snapshot(t, r.store, userID)
		exec(t, r.pool, `UPDATE `+r.table.Sanitize()+`
			SET app_metadata = app_metadata ||
				jsonb_build_object('elsewhere', gen_random_uuid())
			WHERE user_id = $1`, userID)
		return snap
	}
}

// none is the snap function of an event without a snapshot.
func none(*testing.T, *tracedReplica) metadata.Map { return nil }

// empty is a snap function whose snapshot is empty: nothing stored.
func empty(*testing.T, *tracedReplica) metadata.Map { return metadata.Map{} }

// TestGuardedJSONBEquality signs out users whose stored text another
// system wrote, each event carrying a snapshot decoded as an auth server
// would, into float64: a snapshot that differs from the text only in
// key order and whitespace is the stored value, and costs one
// statement; numbers written otherwise (1.0 for 1, 9e3 for 9000, which
// would measure otherwise against the size limit) and numbers that
// float64 cannot hold (beyond 2^53, 1e400) make it another, and one
// more statement. Either way the figures are those of the SPEC, read
// back as PostgreSQL's text, and untouched keys keep their stored text:
// the snapshot is never written.
func TestGuardedJSONBEquality(t *testing.T) {
	huge := "1" + strings.Repeat("0", 400) // 1e400, as jsonb prints it
	tests := []struct {
		name   string
		stored string       // the jsonb, as text
		snap   metadata.Map // the event's, as float64
		// the guarded statements of the write
		wantGuarded int
		wantText    map[string]string // keys' text after, ->>
		wantWarned  []string          // the keys warned about
	}{{
		name: "key order and whitespace",
		stored: `{ "total_session_seconds" :9000,"plan":"pro",
			"session_count":   3 , "prefs": {"theme": "dark",
			"langs" : ["fr",   "en"]}}`,
		snap: metadata.Map{"plan": "pro", "prefs": map[string]any{
			"langs": []any{"fr", "en"}, "theme": "dark"},
			"session_count": 3.0, "total_session_seconds": 9000.0},
		wantGuarded: 1,
		wantText: map[string]string{"session_count": "4",
			"total_session_seconds": "9120", "plan": "pro",
			"prefs": `{"langs": ["fr", "en"], "theme": "dark"}`},
	}, {
		name: "1.0 and 1, 9e3 and 9000",
		stored: `{"session_count": 3.0, "total_session_seconds": 9e3,
			"ratio": 1.50, "steps": [1.0, 2.00, 3]}`,
		snap: metadata.Map{"session_count": 3.0,
			"total_session_seconds": 9000.0, "ratio": 1.5,
			"steps": []any{1.0, 2.0, 3.0}},
		wantGuarded: 2,
		wantText: map[string]string{"session_count": "4",
			"total_session_seconds": "9120", "ratio": "1.50",
			"steps": "[1.0, 2.00, 3]"},
	}, {
		// float64 rounds 2^53 + 1 down to 2^53, another number.
		name: "beyond 2^53, read as float64",
		stored: `{"session_count": 9007199254740993,
			"total_session_seconds": 100, "big": 9007199254740993}`,
		snap: metadata.Map{"session_count": float64(9007199254740993),
			"total_session_seconds": 100.0,
			"big":                   float64(9007199254740993)},
		wantGuarded: 2,
		wantText: map[string]string{"session_count": "1",
			"total_session_seconds": "220", "big": "9007199254740993"},
		wantWarned: []string{sessionstats.KeySessionCount},
	}, {
		name: "1e400, read as the largest float64",
		stored: `{"session_count": 3, "total_session_seconds": 1e400,
			"huge": 1e400}`,
		snap: metadata.Map{"session_count": 3.0,
			"total_session_seconds": math.MaxFloat64,
			"huge":                  math.MaxFloat64},
		wantGuarded: 2,
		wantText: map[string]string{"session_count": "4",
			"total_session_seconds": "120", "huge": huge},
		wantWarned: []string{sessionstats.KeyTotalSessionSeconds},
	}, {
		// JSON cannot encode the snapshot: the first statement reads.
		name: "1e400, read as +Inf",
		stored: `{"session_count": 3, "total_session_seconds": 1e400,
			"huge": 1e400}`,
		snap: metadata.Map{"session_count": 3.0,
			"total_session_seconds": math.Inf(1), "huge": math.Inf(1)},
		wantGuarded: 2,
		wantText: map[string]string{"session_count": "4",
			"total_session_seconds": "120", "huge": huge},
		wantWarned: []string{sessionstats.KeyTotalSessionSeconds},
	}, {
		name: "beyond 2^53 and 1e400",
		stored: `{"session_count": 9007199254740993,
			"total_session_seconds": 1e400,
			"big": 9007199254740993, "huge": 1e400}`,
		snap: metadata.Map{"session_count": float64(9007199254740993),
			"total_session_seconds": math.MaxFloat64,
			"big":                   float64(9007199254740993),
			"huge":                  math.MaxFloat64},
		wantGuarded: 2,
		wantText: map[string]string{"session_count": "1",
			"total_session_seconds": "120", "big": "9007199254740993",
			"huge": huge},
		wantWarned: []string{sessionstats.KeySessionCount,
			sessionstats.KeyTotalSessionSeconds},
	}}

	ctx := context.Background()
	opts := tables(t, connect(t, nil))
	r := newTraced(t, opts, appName("jsonb"), flow.Options{}, nil, nil)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprint("u", i)
			exec(t, r.pool, `INSERT INTO `+opts.Table.Sanitize()+`
				VALUES ($1, $2::jsonb)`, id, tc.stored)

			sent, prepared := r.log.mark()
			res, err := logoutAs(ctx, r.replica, id, "s1", tc.snap)
			checkRun(t, res, err)
			if err != nil {
				return
			}
			gotSent, _ := r.log.since(sent, prepared)
			if d := cmp.Diff(logoutSent(tc.wantGuarded), gotSent); d != "" {
				t.Errorf("statements sent, mismatch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantWarned, warnedKeys(res)); d != "" {
				t.Errorf("keys warned about, mismatch (-want +got):\n%s", d)
			}

			// What PostgreSQL holds, as text.
			got := make(map[string]string, len(tc.wantText))
			for key := range tc.wantText {
				var text string
				err := r.pool.QueryRow(ctx, `SELECT app_metadata->>$2
					FROM `+opts.Table.Sanitize()+` WHERE user_id = $1`,
					id, key).Scan(&text)
				if err != nil {
					t.Fatalf("reading %q back: %v", key, err)
				}
				got[key] = text
			}
			if d := cmp.Diff(tc.wantText, got); d != "" {
				t.Errorf("stored, mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// lockWaiter returns the backend of the connections named app that waits
// for a lock in the guarded statement, other than skip, polling
// pg_stat_activity for a few seconds at most.
func lockWaiter(tb testing.TB, admin *pgxpool.Pool, app string,
	skip int32) int32 {

	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var pids []int32
		err := admin.QueryRow(context.Background(), `
			SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'
				AND pid <> $2 AND query LIKE '%AS ended%'`,
			app, skip).Scan(&pids)
		switch {
		case err != nil:
			tb.Fatalf("reading pg_stat_activity: %v", err)
		case len(pids) > 1:
			tb.Fatalf("%d backends wait in the guarded statement, want 1",
				len(pids))
		case len(pids) == 1:
			return pids[0]
		}
	}
	tb.Fatalf("no backend of %s waits in the guarded statement", app)
	return 0
}

// runOutcome is what a Run returned.
type runOutcome struct {
	res *flow.Result
	err error
}

// TestGuardedKilledWhileWaiting terminates the backend of a logout's
// guarded statement while it waits for the user's row, which an
// administrator holds: the store sends the statement again on another
// connection, which waits in turn, and once the row is released the
// logout revokes its session, counted once, whether the holder changed
// the value or not. A retry of the logout is a repeat.
func TestGuardedKilledWhileWaiting(t *testing.T) {
	const before = 3 // sessions counted before the one under test
	tests := []struct {
		name   string
		change bool // the holder changes the value before it lets go
		// the statements the logout sent, the killed one first
		wantSent []string
	}{{
		name:     "released unchanged",
		wantSent: logoutSent(2),
	}, {
		// The statement that waited returns the value of its snapshot,
		// as it was before the change: the next finds the change, and
		// the third writes.
		name: "released changed", change: true,
		wantSent: logoutSent(4),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			admin := connect(t, nil)
			opts := tables(t, admin)
			r := newTraced(t, opts, appName("victim"), flow.Options{}, nil,
				nil)
			put(t, r.store, "u", nil)
			for i := range before {
				res, err := logoutAs(ctx, r.replica, "u", fmt.Sprint("s", i),
					snapshot(t, r.store, "u"))
				checkRun(t, res, err)
			}

			// An administrator holds the user's row.
			tx, err := admin.Begin(ctx)
			if err != nil {
				t.Fatalf("Begin = %v", err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck // a no-op once ended
			_, err = tx.Exec(ctx, `SELECT FROM `+opts.Table.Sanitize()+`
				WHERE user_id = 'u' FOR UPDATE`)
			if err != nil {
				t.Fatalf("locking the row: %v", err)
			}

			// The logout waits for it, and loses its backend.
			snap := snapshot(t, r.store, "u")
			sent, prepared := r.log.mark()
			done := make(chan runOutcome, 1)
			runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			go func() {
				res, err := logoutAs(runCtx, r.replica, "u", "victim", snap)
				done <- runOutcome{res, err}
			}()
			victim := lockWaiter(t, admin, r.app, 0)
			var killed bool
			err = admin.QueryRow(ctx, `SELECT pg_terminate_backend($1, 10000)`,
				victim).Scan(&killed)
			if err != nil || !killed {
				t.Fatalf("pg_terminate_backend = %t, %v", killed, err)
			}

			// Its next attempt waits too; then the row is let go.
			lockWaiter(t, admin, r.app, victim)
			if tc.change {
				_, err = tx.Exec(ctx, `UPDATE `+opts.Table.Sanitize()+`
					SET app_metadata = app_metadata || '{"elsewhere": 1}'
					WHERE user_id = 'u'`)
				if err == nil {
					err = tx.Commit(ctx)
				}
			} else {
				err = tx.Rollback(ctx)
			}
			if err != nil {
				t.Fatalf("letting the row go: %v", err)
			}
			out := <-done
			checkKilled(t, r, out.res, out.err, before, sent, prepared,
				tc.wantSent)
		})
	}
}

// checkKilled checks the logout of session "victim" of user u, whose
// connection was killed, after before sessions: it was revoked and
// counted once, it sent wantSent since the log's marks sent and
// prepared, and its retry is a repeat (see checkRetried).
func checkKilled(t *testing.T, r *tracedReplica, res *flow.Result,
	err error, before int64, sent, prepared int, wantSent []string) {

	t.Helper()
	checkRun(t, res, err)
	if err != nil {
		return
	}
	if n := countedAs(t, res); n != before+1 {
		t.Errorf("the run stored session_count %d, want %d", n, before+1)
	}
	gotSent, _ := r.log.since(sent, prepared)
	if d := cmp.Diff(wantSent, gotSent); d != "" {
		t.Errorf("statements sent, mismatch (-want +got):\n%s", d)
	}
	checkRetried(t, r.replica, before+1)
}

// checkRetried retries the logout of session "victim" of user u, which
// ended with the user's n-th session: the retry is a repeat, the figures
// stay those of n sessions, and n sessions were revoked in all.
func checkRetried(t *testing.T, r *replica, n int64) {
	t.Helper()
	res, err := logoutAs(context.Background(), r, "u", "victim",
		snapshot(t, r.store, "u"))
	if err != nil || !res.Repeat {
		t.Errorf("retry = Repeat %t, %v; want true, nil",
			res != nil && res.Repeat, err)
	}
	if d := cmp.Diff(wantFigures(n), figures(t, r.store, "u")); d != "" {
		t.Errorf("figures, mismatch (-want +got):\n%s", d)
	}
	if got := r.revoked.Load(); got != n {
		t.Errorf("sessions revoked = %d, want %d", got, n)
	}
}

// guessKiller is a store whose guarded updates lose their connection
// while their function runs, at its at-th call: the connection the store
// holds for the statement it sends next, idle, is terminated, as the
// killer's hinted mode does.
type guessKiller struct {
	*pgstore.Store
	k     *killer
	at    int
	calls int // of the update functions; the action runs inline
}

func (g *guessKiller) UpdateGuarded(ctx context.Context,
	u metadata.GuardedUpdate) error {

	fn := u.Fn
	u.Fn = func(v metadata.View) (metadata.Map, error) {
		g.calls++
		if g.calls == g.at {
			g.k.kill(u.Receipt)
		}
		return fn(v)
	}
	return g.Store.UpdateGuarded(ctx, u)
}

// TestGuardedKilledBeforeSend terminates the connection of a logout's
// guarded write after its patch is computed, before the statement that
// carries it is sent: the store starts again from the event's snapshot,
// on a new connection, and the session counts once.
func TestGuardedKilledBeforeSend(t *testing.T) {
	const before = 3 // sessions counted before the one under test
	tests := []struct {
		name  string
		stale bool // the snapshot is stale
		at    int  // the call of the update function that kills
		// the statements the logout sent, the failed one included
		wantSent []string
	}{{
		// Killed on the guess; the next attempt writes on it.
		name: "fresh snapshot, on the guess", at: 1,
		wantSent: logoutSent(2),
	}, {
		// Killed on the value the first statement returned; the next
		// attempt misses on the guess again, then writes.
		name: "stale snapshot, on the stored value", stale: true, at: 2,
		wantSent: logoutSent(4),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			admin := connect(t, nil)
			opts := tables(t, admin)
			app := appName("victim")
			k := &killer{admin: admin, app: app, hinted: true}
			g := &guessKiller{k: k, at: tc.at}
			r := newTraced(t, opts, app, flow.Options{}, oneConn,
				func(s *pgstore.Store) metadata.Store {
					g.Store = s
					return g
				})
			put(t, r.store, "u", nil)
			for i := range before {
				res, err := logoutAs(ctx, r.replica, "u", fmt.Sprint("s", i),
					snapshot(t, r.store, "u"))
				checkRun(t, res, err)
			}

			// The logout under test loses its connection.
			snap := snapshot(t, r.store, "u")
			if tc.stale {
				snap = with(snap, "elsewhere", json.Number("1"))
			}
			sent, prepared := r.log.mark()
			g.calls = 0
			k.arm(1)
			res, err := logoutAs(ctx, r.replica, "u", "victim", snap)
			k.arm(0)
			if k.err != nil || k.killed != 1 {
				t.Fatalf("backends killed = %d, %v; want 1, nil", k.killed,
					k.err)
			}

			checkKilled(t, r, res, err, before, sent, prepared, tc.wantSent)
		})
	}
}

// TestGuardedReplicasOneUser signs one user out 800 times at once, from
// two replicas of 8 workers each, every event carrying a snapshot read
// just before its run, which contention often makes stale; then again
// with half the snapshots wrong on purpose. Every session is revoked
// once and counted once.
func TestGuardedReplicasOneUser(t *testing.T) {
	const replicas, workers, each = 2, 8, 50
	tests := []struct {
		name string
		// wrong, when set, turns the k-th logout's snapshot into the
		// one its event carries
		wrong func(k int, snap metadata.Map) metadata.Map
	}{{
		name: "snapshots read before each run",
	}, {
		name: "half the snapshots wrong",
		wrong: func(k int, snap metadata.Map) metadata.Map {
			switch k % 6 {
			case 1:
				return nil
			case 3:
				return with(snap, sessionstats.KeySessionCount,
					json.Number("1000000"))
			case 5:
				return metadata.Map{"plan": "pro"}
			}
			return snap
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tables(t, connect(t, nil))
			var rs []*replica
			var logs []*stmtLog
			for i := range replicas {
				r := newTraced(t, opts, appName(fmt.Sprint(i)),
					flow.Options{}, nil, nil)
				rs, logs = append(rs, r.replica), append(logs, r.log)
			}
			put(t, rs[0].store, "u", metadata.Map{"plan": "pro"})

			// Every worker reads the user, then signs a session out.
			var wg sync.WaitGroup
			for i, r := range rs {
				for w := range workers {
					wg.Go(func() {
						for k := range each {
							snap, err := r.store.Get(context.Background(),
								"u")
							if err != nil {
								t.Errorf("Get = %v", err)
								return
							}
							if tc.wrong != nil {
								snap = tc.wrong(k, snap)
							}
							sid := fmt.Sprintf("r%d-w%d-%d", i, w, k)
							res, err := logoutAs(context.Background(), r,
								"u", sid, snap)
							checkRun(t, res, err)
						}
					})
				}
			}
			wg.Wait()

			checkCounted(t, rs, replicas*workers*each)
			var guarded, locked, asked int
			for _, l := range logs {
				guarded += l.count(sentGuarded)
				locked += l.count(sentLock)
				asked += l.count(sentHasReceipt)
			}
			t.Logf("%d logouts: %d guarded statements, %d locked "+
				"transactions, %d HasReceipt", replicas*workers*each,
				guarded, locked, asked)
		})
	}
}

// TestGuardedOddSnapshots signs out users whose events carry snapshots
// that JSON cannot encode (a NaN somewhere), or that are huge: near the
// size limit, or past it. The store asks for the stored value instead
// of comparing what it cannot send, and a patch that only the snapshot
// makes too large is computed again from the stored value: each logout
// counts, in one statement when the snapshot is right, in two when not.
func TestGuardedOddSnapshots(t *testing.T) {
	// A stored value that the logout's write brings exactly to the
	// size limit.
	base := metadata.Map{"plan": "pro", "session_count": 3,
		"total_session_seconds": 9000}
	after := metadata.Merge(with(base, "pad", ""), metadata.Map{
		sessionstats.KeyLastLogoutAt:        "2026-05-20T10:00:00.000Z",
		sessionstats.KeyLastSessionDuration: 120,
		sessionstats.KeySessionCount:        4,
		sessionstats.KeyTotalSessionSeconds: 9120,
	})
	pad := strings.Repeat("x", metadata.DefaultMaxBytes-
		metadata.EncodedSize(after))
	full := with(base, "pad", pad)
	nan := math.NaN()

	tests := []struct {
		name   string
		stored metadata.Map
		// snap returns the event's snapshot from the stored value
		snap        func(stored metadata.Map) metadata.Map
		wantGuarded int  // the guarded statements of the write
		big         bool // in a store whose limit is 64 KiB
	}{{
		name: "NaN at the top", stored: base,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "score", nan)
		},
		wantGuarded: 2,
	}, {
		name: "NaN deep inside", stored: base,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "prefs", map[string]any{
				"weights": []any{1.0, map[string]any{"w": nan}}})
		},
		wantGuarded: 2,
	}, {
		name: "NaN for a figure", stored: base,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, sessionstats.KeySessionCount, nan)
		},
		wantGuarded: 2,
	}, {
		name: "at the limit, as stored", stored: full,
		snap:        func(m metadata.Map) metadata.Map { return m },
		wantGuarded: 1,
	}, {
		name: "at the limit, one byte off", stored: full,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "pad", pad[1:]+"y")
		},
		wantGuarded: 2,
	}, {
		name: "at the limit, with a NaN", stored: full,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "score", nan)
		},
		wantGuarded: 2,
	}, {
		// The patch is too large for the snapshot alone: that refusal
		// is not the answer.
		name: "past the limit", stored: base,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "pad", strings.Repeat("x",
				2*metadata.DefaultMaxBytes))
		},
		wantGuarded: 2,
	}, {
		// jsonb holds no NUL: PostgreSQL refuses the guess, which is
		// then none, and the store reads the value.
		name: "NUL in a string", stored: base,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "note", "a\x00b")
		},
		wantGuarded: 3,
	}, {
		name: "NUL in a key", stored: base,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "k\x00", 1)
		},
		wantGuarded: 3,
	}, {
		name: "NUL deep inside", stored: base,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "prefs", []any{map[string]any{"n": "\x00"}})
		},
		wantGuarded: 3,
	}, {
		name: "NUL past the limit", stored: base,
		snap: func(m metadata.Map) metadata.Map {
			return with(with(m, "n", "\x00"), "pad", strings.Repeat("x",
				2*metadata.DefaultMaxBytes))
		},
		wantGuarded: 2,
	}, {
		// A fraction of more digits than PostgreSQL's numeric holds
		// (16,383), in a store whose limit lets it through.
		name: "a number numeric cannot hold", stored: base, big: true,
		snap: func(m metadata.Map) metadata.Map {
			return with(m, "f", json.Number("0."+
				strings.Repeat("1", 17000)))
		},
		wantGuarded: 3,
	}}

	ctx := context.Background()
	opts := tables(t, connect(t, nil))
	r := newTraced(t, opts, appName("odd"), flow.Options{}, nil, nil)
	bigOpts := tables(t, connect(t, nil))
	bigOpts.Limits.MaxBytes = 1 << 16
	rBig := newTraced(t, bigOpts, appName("odd-big"), flow.Options{},
		nil, nil)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := r
			if tc.big {
				r = rBig
			}
			id := fmt.Sprint("u", i)
			put(t, r.store, id, tc.stored)
			snap := tc.snap(snapshot(t, r.store, id))

			sent, prepared := r.log.mark()
			res, err := logoutAs(ctx, r.replica, id, "s1", snap)
			checkRun(t, res, err)
			gotSent, _ := r.log.since(sent, prepared)
			if d := cmp.Diff(logoutSent(tc.wantGuarded), gotSent); d != "" {
				t.Errorf("statements sent, mismatch (-want +got):\n%s", d)
			}
			m := snapshot(t, r.store, id)
			if d := cmp.Diff(seeded(3, 9000), sessionstats.Read(m)); d != "" {
				t.Errorf("figures, mismatch (-want +got):\n%s", d)
			}

			// A value brought to the limit is there, whole.
			if _, ok := tc.stored["pad"]; ok {
				n := metadata.EncodedSize(m)
				if n != metadata.DefaultMaxBytes {
					t.Errorf("stored size = %d, want %d", n,
						metadata.DefaultMaxBytes)
				}
			}
		})
	}
}

// TestGuardedSizeOfStoredText signs out a user whose value another
// system wrote with a number in a long text, 1.000...0, that jsonb
// equality takes for 1, near the size limit: the logout's write would
// take the value past the limit. A snapshot that holds the number as 1
// matches the stored value, yet the write must be refused as it is for
// a snapshot of the stored text: else the value stored is over the
// limit, and every later write of the user, each logout's figures
// included, fails as "already over before the patch".
func TestGuardedSizeOfStoredText(t *testing.T) {
	// The write's patch takes the value 50 bytes past the limit, as
	// the stored text measures it; 2,000 fewer in the short number.
	long := json.Number("1." + strings.Repeat("0", 2000))
	big := make([]any, 100) // 10^21 each, as jsonb writes it
	floats := make([]any, len(big))
	for i := range big {
		big[i], floats[i] = json.Number("1"+strings.Repeat("0", 21)), 1e21
	}
	stored := metadata.Map{"plan": "pro", "session_count": 3,
		"total_session_seconds": 9000, "one": long, "big": big, "pad": ""}
	after := metadata.Merge(stored, metadata.Map{
		sessionstats.KeyLastLogoutAt:        "2026-05-20T10:00:00.000Z",
		sessionstats.KeyLastSessionDuration: 120,
		sessionstats.KeySessionCount:        4,
		sessionstats.KeyTotalSessionSeconds: 9120,
	})
	stored["pad"] = strings.Repeat("x",
		metadata.DefaultMaxBytes+50-metadata.EncodedSize(after))
	doc, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		edit func(metadata.Map) metadata.Map // of the snapshot
	}{
		{name: "snapshot of the stored text",
			edit: func(m metadata.Map) metadata.Map { return m }},
		{name: "snapshot with 1 for 1.000...0",
			edit: func(m metadata.Map) metadata.Map {
				return with(m, "one", json.Number("1"))
			}},
		// JSON writes 1e21 with an exponent, 17 bytes short of the
		// 22 digits that jsonb writes back, so that jsonb's text
		// matches but the sizes do not: such a guess is none.
		{name: "snapshot with float64 1e21 for 10^21",
			edit: func(m metadata.Map) metadata.Map {
				return with(m, "big", floats)
			}},
	}
	ctx := context.Background()
	opts := tables(t, connect(t, nil))
	r := newTraced(t, opts, appName("size"), flow.Options{}, nil, nil)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprint("u", i)
			exec(t, r.pool, `INSERT INTO `+opts.Table.Sanitize()+`
				VALUES ($1, $2::jsonb)`, id, string(doc))
			snap := tc.edit(snapshot(t, r.store, id))

			// The write is refused, the session revoked uncounted.
			res, err := logoutAs(ctx, r.replica, id, "s1", snap)
			if err != nil || len(res.Steps) != 2 {
				t.Fatalf("Run = %+v, %v; want 2 steps, nil", res, err)
			}
			if st := res.Steps[0]; st.Status != flow.StatusFailed ||
				!errors.Is(st.Err, metadata.ErrTooLarge) {
				t.Errorf("action: %s, %v; want failed, ErrTooLarge",
					st.Status, st.Err)
			}
			m := snapshot(t, r.store, id)
			if n := metadata.EncodedSize(m); n > metadata.DefaultMaxBytes {
				t.Errorf("stored size = %d, over the limit of %d", n,
					metadata.DefaultMaxBytes)
			}
			want := sessionstats.Figures{SessionCount: 3,
				TotalSessionSeconds: 9000}
			if d := cmp.Diff(want, sessionstats.Read(m)); d != "" {
				t.Errorf("figures, mismatch (-want +got):\n%s", d)
			}
		})
	}
}
