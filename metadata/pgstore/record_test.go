package pgstore_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
)

// TestRecordReceiptBackendKilled terminates the backends of a store's
// pool between two receipts: the next RecordReceipt meets a dead
// connection, tries again on a fresh one and records its receipt once.
func TestRecordReceiptBackendKilled(t *testing.T) {
	ctx := context.Background()
	admin, app, s, opts := oneConnStore(t, "record-killed")
	put(t, s, "u", nil)
	if err := s.RecordReceipt(ctx, "u", "r1"); err != nil {
		t.Fatalf("RecordReceipt(r1) = %v", err)
	}

	killApp(t, admin, app)
	if err := s.RecordReceipt(ctx, "u", "r2"); err != nil {
		t.Fatalf("RecordReceipt(r2) after the kill = %v", err)
	}
	for _, r := range []string{"r1", "r2"} {
		if ok, err := s.HasReceipt(ctx, "u", r); !ok || err != nil {
			t.Errorf("HasReceipt(%s) = %t, %v; want true, nil", r, ok, err)
		}
	}
	var n int
	err := admin.QueryRow(ctx, `SELECT count(*) FROM `+
		opts.ReceiptsTable.Sanitize()+` WHERE user_id = 'u'`).Scan(&n)
	if err != nil || n != 2 {
		t.Errorf("receipts stored = %d, %v; want 2", n, err)
	}
}

// oneConnStore returns a pool for admin work, and a store on fresh
// tables, opts, whose pool has one connection, named app after what.
func oneConnStore(tb testing.TB, what string) (admin *pgxpool.Pool,
	app string, s *pgstore.Store, opts pgstore.Options) {

	tb.Helper()
	admin = connect(tb, nil)
	app = appName(what)
	pool := connect(tb, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = app
		c.MaxConns = 1
	})
	opts = tables(tb, admin)
	return admin, app, newStore(tb, pool, opts), opts
}

// killApp terminates the one backend of the connections named app,
// failing the test unless there was exactly one.
func killApp(tb testing.TB, admin *pgxpool.Pool, app string) {
	tb.Helper()
	var killed int
	err := admin.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
		FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed)
	if err != nil || killed != 1 {
		tb.Fatalf("terminated %d backends, %v; want 1", killed, err)
	}
}

// tracer counts the queries and the batches its connections send.
type tracer struct {
	queries, batches atomic.Int64
}

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn,
	_ pgx.TraceQueryStartData) context.Context {
	t.queries.Add(1)
	return ctx
}

func (t *tracer) TraceQueryEnd(context.Context, *pgx.Conn,
	pgx.TraceQueryEndData) {
}

func (t *tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn,
	_ pgx.TraceBatchStartData) context.Context {
	t.batches.Add(1)
	return ctx
}

func (t *tracer) TraceBatchQuery(context.Context, *pgx.Conn,
	pgx.TraceBatchQueryData) {
}

func (t *tracer) TraceBatchEnd(context.Context, *pgx.Conn,
	pgx.TraceBatchEndData) {
}

// TestRecordReceiptsOneRoundTrip records receipts of three users in one
// call: the store sends one batch and no query of its own, and each
// receipt counts.
func TestRecordReceiptsOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	tr := new(tracer)
	pool := connect(t, func(c *pgxpool.Config) { c.ConnConfig.Tracer = tr })
	s := newStore(t, pool, pgstore.Options{})
	users := []string{"a", "b", "c"}
	rs := make([]metadata.UserReceipt, len(users))
	for i, u := range users {
		put(t, s, u, nil)
		rs[i] = metadata.UserReceipt{UserID: u, Receipt: "s1/end"}
	}

	queries, batches := tr.queries.Load(), tr.batches.Load()
	errs := s.RecordReceipts(ctx, rs)
	if diff := cmp.Diff([]error{nil, nil, nil}, errs,
		cmpopts.EquateErrors()); diff != "" {
		t.Errorf("RecordReceipts errors mismatch (-want +got):\n%s", diff)
	}
	if q, b := tr.queries.Load()-queries, tr.batches.Load()-batches; q != 0 ||
		b != 1 {
		t.Errorf("RecordReceipts sent %d queries and %d batches, want 0 "+
			"and 1", q, b)
	}
	for _, u := range users {
		if ok, err := s.HasReceipt(ctx, u, "s1/end"); !ok || err != nil {
			t.Errorf("HasReceipt(%s) = %t, %v; want true, nil", u, ok, err)
		}
	}
}

// TestRecordReceiptsBadID records, in one call, the receipts of 64 users
// of a uuid ID column and of one ID that is no uuid, which aborts the
// batch's transaction: the store splits the batch down to the bad ID,
// in a handful of round trips, the bad ID names no user, and every
// other receipt counts.
func TestRecordReceiptsBadID(t *testing.T) {
	const users = 64
	ctx := context.Background()
	tr := new(tracer)
	pool := connect(t, func(c *pgxpool.Config) { c.ConnConfig.Tracer = tr })
	schema := newSchema(t, pool)
	table := pgx.Identifier{schema, "users"}
	exec(t, pool, `CREATE TABLE `+table.Sanitize()+
		` (id uuid PRIMARY KEY, md jsonb)`)
	var ids []string
	exec(t, pool, `INSERT INTO `+table.Sanitize()+
		` SELECT gen_random_uuid() FROM generate_series(1, $1)`, users)
	rows, err := pool.Query(ctx, `SELECT id::text FROM `+table.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) != users {
		t.Fatalf("ids = %d, %v; want %d", len(ids), err, users)
	}
	s := newStore(t, pool, pgstore.Options{Table: table, IDColumn: "id",
		MetadataColumn: "md",
		ReceiptsTable:  pgx.Identifier{schema, "receipts"}})

	rs := make([]metadata.UserReceipt, 0, users+1)
	want := make([]error, 0, users+1)
	for i, id := range ids {
		if i == users/3 {
			rs = append(rs, metadata.UserReceipt{UserID: "not a uuid",
				Receipt: "s1/end"})
			want = append(want, metadata.ErrUserNotFound)
		}
		rs = append(rs, metadata.UserReceipt{UserID: id, Receipt: "s1/end"})
		want = append(want, nil)
	}
	trips := tr.queries.Load() + tr.batches.Load()
	errs := s.RecordReceipts(ctx, rs)
	trips = tr.queries.Load() + tr.batches.Load() - trips
	if diff := cmp.Diff(want, errs, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("RecordReceipts errors mismatch (-want +got):\n%s", diff)
	}
	if trips > 16 {
		t.Errorf("RecordReceipts took %d round trips, want 16 at most "+
			"(two batches a halving, then one statement)", trips)
	}
	for _, id := range ids {
		if ok, err := s.HasReceipt(ctx, id, "s1/end"); !ok || err != nil {
			t.Errorf("HasReceipt(%s) = %t, %v; want true, nil", id, ok, err)
		}
	}
}

// TestRecordReceiptsBackendKilled terminates the backend of a store's
// one connection between two batches: the next batch meets a dead
// connection, the store records each receipt on its own, once.
func TestRecordReceiptsBackendKilled(t *testing.T) {
	ctx := context.Background()
	admin, app, s, opts := oneConnStore(t, "records-killed")
	put(t, s, "u", nil)
	put(t, s, "v", nil)
	batch := func(r string) []metadata.UserReceipt {
		return []metadata.UserReceipt{{UserID: "u", Receipt: r},
			{UserID: "v", Receipt: r}}
	}
	if errs := s.RecordReceipts(ctx, batch("r1")); errs[0] != nil ||
		errs[1] != nil {
		t.Fatalf("RecordReceipts(r1) = %v", errs)
	}

	killApp(t, admin, app)
	if errs := s.RecordReceipts(ctx, batch("r2")); errs[0] != nil ||
		errs[1] != nil {
		t.Fatalf("RecordReceipts(r2) after the kill = %v", errs)
	}
	var n int
	err := admin.QueryRow(ctx, `SELECT count(*) FROM `+
		opts.ReceiptsTable.Sanitize()).Scan(&n)
	if err != nil || n != 4 {
		t.Errorf("receipts stored = %d, %v; want 4", n, err)
	}
}

// TestNotText uses user IDs and receipts that PostgreSQL's text cannot
// hold, invalid UTF-8 and NUL: an ID names no user, a receipt is
// refused with ErrInvalidReceipt, and neither reaches PostgreSQL, whose
// own error would abort a batch that holds good receipts too.
func TestNotText(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, connect(t, nil), pgstore.Options{})
	put(t, s, "u", nil)
	for i, bad := range []string{"a\x00b", "\xff"} {
		good := "r" + strconv.Itoa(i)
		if err := s.Put(ctx, bad, nil); !errors.Is(err,
			metadata.ErrUserNotFound) {
			t.Errorf("Put(%q) = %v, want ErrUserNotFound", bad, err)
		}
		if _, err := s.Get(ctx, bad); !errors.Is(err,
			metadata.ErrUserNotFound) {
			t.Errorf("Get(%q) = %v, want ErrUserNotFound", bad, err)
		}
		if err := s.Update(ctx, bad, "r", noPatch); !errors.Is(err,
			metadata.ErrUserNotFound) {
			t.Errorf("Update(%q) = %v, want ErrUserNotFound", bad, err)
		}
		if err := s.Update(ctx, "u", bad, noPatch); !errors.Is(err,
			pgstore.ErrInvalidReceipt) {
			t.Errorf("Update(receipt %q) = %v, want ErrInvalidReceipt",
				bad, err)
		}
		for _, ids := range [][2]string{{bad, "r"}, {"u", bad}} {
			ok, err := s.HasReceipt(ctx, ids[0], ids[1])
			if ok || err != nil {
				t.Errorf("HasReceipt(%q, %q) = %t, %v; want false, nil",
					ids[0], ids[1], ok, err)
			}
		}
		errs := s.RecordReceipts(ctx, []metadata.UserReceipt{
			{UserID: "u", Receipt: good + "a"},
			{UserID: bad, Receipt: "r"},
			{UserID: "u", Receipt: bad},
			{UserID: "u", Receipt: good + "b"},
		})
		want := []error{nil, metadata.ErrUserNotFound,
			pgstore.ErrInvalidReceipt, nil}
		if diff := cmp.Diff(want, errs, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("RecordReceipts mismatch (-want +got):\n%s", diff)
		}
	}
}
