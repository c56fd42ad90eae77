package pgstore_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
)

// BenchmarkLogout measures one logout through the flow
// [track-logout-stats, RevokeSession] on the store, each of a new
// session of one user, against its floor: one single-row jsonb UPDATE of
// the same table, the least any store must do per logout. The flow
// should reach half the floor's throughput. "flow-durable" is the flow
// with [pgstore.Options.DurableEmptyUpdates] set.
func BenchmarkLogout(b *testing.B) {
	opts := tables(b, connect(b, nil))
	durable := opts
	durable.DurableEmptyUpdates = true
	fast := newReplica(b, opts, appName("bench"), nil)
	slow := newReplica(b, durable, appName("bench-durable"), nil)
	put(b, fast.store, "u", nil)
	put(b, fast.store, "floor", nil)

	// b.N grows between the calls of a sub-benchmark: session IDs go on
	// from where the last call stopped, so that each logout is new.
	sessions := 0
	logouts := func(r *replica) func(*testing.B) {
		return func(b *testing.B) {
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = "s" + strconv.Itoa(sessions+i)
			}
			sessions += b.N
			benchFlow(b, r, ids)
		}
	}
	b.Run("flow", logouts(fast))
	b.Run("flow-durable", logouts(slow))
	b.Run("floor", func(b *testing.B) {
		floorUpdates(b, fast.pool, opts.Table)
	})
}

// benchFlow signs the user "u" out of each of the sessions ids.
func benchFlow(b *testing.B, r *replica, ids []string) {
	ev := action.Event{
		Trigger: action.Logout,
		User: action.User{ID: "u",
			LastLoginAt: action.At(now.Add(-sessionLength))},
	}
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	for _, id := range ids {
		ev.Session.ID = id
		res, err := r.runner.Run(ctx, &ev)
		if err != nil || len(res.Failed()) > 0 || res.Repeat {
			b.Fatalf("Run = %+v, %v", res, err)
		}
	}
}

// floorUpdates runs b.N single-row UPDATEs that merge a patch of the
// flow's size into the jsonb of the user "floor", each its own
// transaction.
func floorUpdates(b *testing.B, pool *pgxpool.Pool, table pgx.Identifier) {
	id := pgx.Identifier{pgstore.DefaultIDColumn}.Sanitize()
	md := pgx.Identifier{pgstore.DefaultMetadataColumn}.Sanitize()
	sql := `UPDATE ` + table.Sanitize() + `
		SET ` + md + ` = coalesce(` + md + `, '{}') || $2::jsonb
		WHERE ` + id + ` = $1`
	patch := []byte(`{"last_logout_at": "2026-05-20T10:00:00.000Z",
		"last_session_duration_sec": 120, "session_count": 1,
		"total_session_seconds": 120}`)
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tag, err := pool.Exec(ctx, sql, "floor", patch)
		if err != nil || tag.RowsAffected() != 1 {
			b.Fatalf("UPDATE = %v, %v", tag, err)
		}
	}
}
