package pgstore_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
)

// benchUsers is how many users the benchmarks sign out in turn.
const benchUsers = 1000

// BenchmarkLogout measures one logout through the flow
// [track-logout-stats, RevokeSession] on the store, each of a new
// session, against its floor: one single-row jsonb UPDATE of the same
// table, the least any store must do per logout. The flow should reach
// half the floor's throughput.
//
//   - flow: the logouts go to 1,000 users in turn, their events
//     carrying no app_metadata, so that the store reads the user's
//     value before it writes;
//   - flow-snapshot: as flow, each event carrying the user's
//     app_metadata as stored, as an auth server that reads the user's
//     record at logout passes it on (the harness reads it, the timer
//     stopped): the write is one statement;
//   - flow-one-user: all go to one user;
//   - flow-durable: as flow, with [pgstore.Options.DurableEmptyUpdates];
//   - flow-defer-end: as flow, with [flow.Options.DeferEnd], the time
//     including the wait for the last end records;
//   - flow-defer-end-snapshot: flow-defer-end with snapshots;
//   - floor: the UPDATEs go to the 1,000 users in turn;
//   - read-floor: each floor UPDATE follows a read of the user's value,
//     a second round trip: the least that a logout which reads before
//     it writes waits for, so the most such a flow can reach;
//   - paired, paired-defer-end: a logout and a floor UPDATE in turn;
//   - flow-defer-end-parallel, floor-parallel: flow-defer-end and
//     floor from parallelGoroutines goroutines at once, as an auth
//     server under load runs them;
//   - flow-defer-end-parallel-one-by-one: as flow-defer-end-parallel,
//     on the store with its RecordReceipts hidden, so that each end is
//     recorded in a round trip of its own, not in batches;
//   - alternating: flow-defer-end and floor in turn, a block of
//     alternatingBlock each, the flow's time including the wait for
//     its block's last end records, so that neither bills the other
//     for its background work and the machine's changing speed weighs
//     on both alike. Its flow/floor metric is the figure the target
//     is checked against, for events without app_metadata;
//   - alternating-snapshot: the same, each event carrying the user's
//     app_metadata, read for the block before it starts, untimed: the
//     figure for an auth server wired as the README shows.
func BenchmarkLogout(b *testing.B) {
	opts := tables(b, connect(b, nil))
	durable := opts
	durable.DurableEmptyUpdates = true
	fast := newReplica(b, opts, appName("bench"), nil)
	slow := newReplica(b, durable, appName("bench-durable"), nil)
	deferred := newReplicaFlow(b, opts, appName("bench-defer"), nil,
		flow.Options{DeferEnd: true})
	oneByOne := newReplicaFlow(b, opts, appName("bench-one-by-one"),
		func(s *pgstore.Store) metadata.Store { return endsOneByOne{s, s} },
		flow.Options{DeferEnd: true})
	users := make([]string, benchUsers)
	for i := range users {
		users[i] = "u" + strconv.Itoa(i)
		put(b, fast.store, users[i], nil)
	}
	put(b, fast.store, "floor", nil)

	// b.N grows between the calls of a sub-benchmark: session IDs go on
	// from where the last call stopped, so that each logout is new.
	sessions := 0
	newSessions := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = "s" + strconv.Itoa(sessions+i)
		}
		sessions += n
		return ids
	}
	logouts := func(r *replica, users []string,
		snapshot bool) func(*testing.B) {

		return func(b *testing.B) {
			ids := newSessions(b.N)
			benchFlow(b, r, users, ids, snapshot)
		}
	}
	b.Run("flow", logouts(fast, users, false))
	b.Run("flow-snapshot", logouts(fast, users, true))
	b.Run("flow-one-user", logouts(fast, users[:1], false))
	b.Run("flow-durable", logouts(slow, users, false))
	b.Run("flow-defer-end", logouts(deferred, users, false))
	b.Run("flow-defer-end-snapshot", logouts(deferred, users, true))
	b.Run("floor", func(b *testing.B) {
		floorUpdates(b, fast.pool, opts.Table, users)
	})
	b.Run("read-floor", func(b *testing.B) {
		readFloorUpdates(b, fast.pool, opts.Table, users)
	})
	parallel := func(r *replica) func(*testing.B) {
		return func(b *testing.B) {
			ids := newSessions(b.N)
			benchParallel(b, func(i int) {
				benchLogout(b, r, users[i%len(users)], ids[i])
			})
			r.runner.Wait()
		}
	}
	b.Run("flow-defer-end-parallel", parallel(deferred))
	b.Run("flow-defer-end-parallel-one-by-one", parallel(oneByOne))
	b.Run("floor-parallel", func(b *testing.B) {
		sql := floorSQL(opts.Table)
		benchParallel(b, func(i int) {
			tag, err := deferred.pool.Exec(context.Background(), sql,
				users[i%len(users)], floorPatch)
			if err != nil || tag.RowsAffected() != 1 {
				b.Errorf("UPDATE = %v, %v", tag, err)
			}
		})
	})

	// The same comparison, a logout and an UPDATE in turn, so that both
	// see the same load on a shared machine.
	paired := func(r *replica) func(*testing.B) {
		return func(b *testing.B) {
			ids := newSessions(b.N)
			benchPaired(b, r, opts.Table, users, ids)
		}
	}
	b.Run("paired", paired(fast))
	b.Run("paired-defer-end", paired(deferred))
	b.Run("alternating", func(b *testing.B) {
		ids := newSessions(b.N)
		benchAlternating(b, deferred, opts.Table, users, ids, false)
	})
	b.Run("alternating-snapshot", func(b *testing.B) {
		ids := newSessions(b.N)
		benchAlternating(b, deferred, opts.Table, users, ids, true)
	})
}

// endsOneByOne is a store whose RecordReceipts is hidden: the runner
// records each end with RecordReceipt.
type endsOneByOne struct {
	metadata.Store
	metadata.ReceiptRecorder
}

// parallelGoroutines is how many goroutines the parallel benchmarks
// run.
const parallelGoroutines = 8

// benchParallel calls op with 0 to b.N-1, each once, from
// parallelGoroutines goroutines at once.
func benchParallel(b *testing.B, op func(i int)) {
	var next atomic.Int64
	b.SetParallelism(max(1, parallelGoroutines/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op(int(next.Add(1) - 1))
		}
	})
}

// benchEvent returns the event of a benchmark's logout of the user's
// session sid, a session of sessionLength.
func benchEvent(user, sid string) action.Event {
	return action.Event{
		Trigger: action.Logout,
		User: action.User{ID: user,
			LastLoginAt: action.At(now.Add(-sessionLength))},
		Session: action.Session{ID: sid},
	}
}

// notFull returns an error unless Run's result and error are those of
// a full run: nothing failed, no repeat.
func notFull(res *flow.Result, err error) error {
	if err != nil || len(res.Failed()) > 0 || res.Repeat {
		return fmt.Errorf("Run = %+v, %v", res, err)
	}
	return nil
}

// benchLogout signs the user out of session sid through r's flow,
// failing the benchmark unless the run is a full one.
func benchLogout(b *testing.B, r *replica, user, sid string) {
	ev := benchEvent(user, sid)
	if err := notFull(r.runner.Run(context.Background(), &ev)); err != nil {
		b.Error(err)
	}
}

// alternatingBlock is how many logouts, then floor UPDATEs, the
// alternating benchmark runs in turn.
const alternatingBlock = 500

// benchAlternating signs users out in turn, of the sessions ids, in
// blocks of alternatingBlock, each followed by as many floor UPDATEs of
// the users in turn; a block of logouts ends when the end records it
// left are written. With snapshot, each event carries the user's
// app_metadata as the auth server would have read it with the rest of
// the user's record: the harness reads them for the block, untimed,
// before the block starts (a block signs each user out once). It
// reports the time of each per operation and the ratio of the flow's
// throughput to the floor's.
func benchAlternating(b *testing.B, r *replica, table pgx.Identifier,
	users, ids []string, snapshot bool) {

	ev := benchEvent("", "")
	floor := floorSQL(table)
	ctx := context.Background()
	var snaps []metadata.Map

	b.ResetTimer()
	var flowTime, floorTime time.Duration
	for start := 0; start < len(ids); start += alternatingBlock {
		block := ids[start:min(start+alternatingBlock, len(ids))]
		if snapshot {
			snaps = readSnapshots(b, r, users, start, len(block))
		}
		t0 := time.Now()
		for i, id := range block {
			ev.User.ID, ev.Session.ID = users[(start+i)%len(users)], id
			if snapshot {
				ev.User.AppMetadata = snaps[i]
			}
			if err := notFull(r.runner.Run(ctx, &ev)); err != nil {
				b.Fatal(err)
			}
		}
		r.runner.Wait()
		t1 := time.Now()
		for i := range block {
			tag, err := r.pool.Exec(ctx, floor,
				users[(start+i)%len(users)], floorPatch)
			if err != nil || tag.RowsAffected() != 1 {
				b.Fatalf("UPDATE = %v, %v", tag, err)
			}
		}
		flowTime += t1.Sub(t0)
		floorTime += time.Since(t1)
	}
	reportFlowFloor(b, flowTime, floorTime)
}

// readSnapshots returns the stored app_metadata of the n users from
// users[start] on, in turn, as an auth server reads its users' records.
func readSnapshots(b *testing.B, r *replica, users []string, start,
	n int) []metadata.Map {

	snaps := make([]metadata.Map, n)
	for i := range snaps {
		m, err := r.store.Get(context.Background(),
			users[(start+i)%len(users)])
		if err != nil {
			b.Fatal(err)
		}
		snaps[i] = m
	}
	return snaps
}

// reportFlowFloor reports the flow's and the floor's time per operation
// and the ratio of the flow's throughput to the floor's.
func reportFlowFloor(b *testing.B, flowTime, floorTime time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(flowTime.Nanoseconds())/n, "flow-ns/op")
	b.ReportMetric(float64(floorTime.Nanoseconds())/n, "floor-ns/op")
	b.ReportMetric(float64(floorTime)/float64(flowTime), "flow/floor")
}

// benchPaired signs users out in turn, of the sessions ids, each logout
// followed by a floor UPDATE of the user "floor", and reports the time
// of each and the ratio of the flow's throughput to the floor's.
func benchPaired(b *testing.B, r *replica, table pgx.Identifier,
	users, ids []string) {

	ev := benchEvent("", "")
	floor := floorSQL(table)
	ctx := context.Background()

	b.ResetTimer()
	var flowTime, floorTime time.Duration
	for i, id := range ids {
		uid := users[i%len(users)]
		ev.User.ID, ev.Session.ID = uid, id
		start := time.Now()
		res, err := r.runner.Run(ctx, &ev)
		mid := time.Now()
		if err := notFull(res, err); err != nil {
			b.Fatal(err)
		}
		tag, err := r.pool.Exec(ctx, floor, "floor", floorPatch)
		if err != nil || tag.RowsAffected() != 1 {
			b.Fatalf("UPDATE = %v, %v", tag, err)
		}
		flowTime += mid.Sub(start)
		floorTime += time.Since(mid)
	}
	// End records DeferEnd left are waited for in the flow's time.
	mid := time.Now()
	r.runner.Wait()
	flowTime += time.Since(mid)
	reportFlowFloor(b, flowTime, floorTime)
}

// benchFlow signs users out in turn, of the sessions ids. With
// snapshot, each event carries the user's app_metadata, read by the
// harness with the timer stopped before each round of the users, as in
// benchAlternating.
func benchFlow(b *testing.B, r *replica, users, ids []string,
	snapshot bool) {

	ev := benchEvent("", "")
	ctx := context.Background()
	var snaps []metadata.Map

	b.ReportAllocs()
	b.ResetTimer()
	for i, id := range ids {
		u := i % len(users)
		if snapshot && u == 0 {
			b.StopTimer()
			r.runner.Wait()
			snaps = readSnapshots(b, r, users, 0, len(users))
			b.StartTimer()
		}
		ev.User.ID, ev.Session.ID = users[u], id
		if snapshot {
			ev.User.AppMetadata = snaps[u]
		}
		if err := notFull(r.runner.Run(ctx, &ev)); err != nil {
			b.Fatal(err)
		}
	}
	r.runner.Wait() // the end records DeferEnd left, if any
}

// floorUpdates runs b.N single-row UPDATEs, each its own transaction,
// that merge a patch of the flow's size into the jsonb of users in turn.
func floorUpdates(b *testing.B, pool *pgxpool.Pool, table pgx.Identifier, users []string) {
	sql := floorSQL(table)
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tag, err := pool.Exec(ctx, sql, users[i%len(users)], floorPatch)
		if err != nil || tag.RowsAffected() != 1 {
			b.Fatalf("UPDATE = %v, %v", tag, err)
		}
	}
}

// readFloorUpdates runs the floor's b.N UPDATEs, each after a SELECT of
// the user's value.
func readFloorUpdates(b *testing.B, pool *pgxpool.Pool, table pgx.Identifier, users []string) {
	read := `SELECT ` + pgx.Identifier{pgstore.DefaultMetadataColumn}.Sanitize() +
		` FROM ` + table.Sanitize() +
		` WHERE ` + pgx.Identifier{pgstore.DefaultIDColumn}.Sanitize() + ` = $1`
	write := floorSQL(table)
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var doc []byte
		if err := pool.QueryRow(ctx, read, users[i%len(users)]).Scan(&doc); err != nil {
			b.Fatalf("SELECT: %v", err)
		}
		tag, err := pool.Exec(ctx, write, users[i%len(users)], floorPatch)
		if err != nil || tag.RowsAffected() != 1 {
			b.Fatalf("UPDATE = %v, %v", tag, err)
		}
	}
}

// floorSQL is the floor's UPDATE of table: $2 merged into the jsonb of
// the user $1.
func floorSQL(table pgx.Identifier) string {
	id := pgx.Identifier{pgstore.DefaultIDColumn}.Sanitize()
	md := pgx.Identifier{pgstore.DefaultMetadataColumn}.Sanitize()
	return `UPDATE ` + table.Sanitize() + `
		SET ` + md + ` = coalesce(` + md + `, '{}') || $2::jsonb
		WHERE ` + id + ` = $1`
}

// floorPatch is a patch of the flow's size.
var floorPatch = []byte(`{"last_logout_at": "2026-05-20T10:00:00.000Z",
	"last_session_duration_sec": 120, "session_count": 1,
	"total_session_seconds": 120}`)
