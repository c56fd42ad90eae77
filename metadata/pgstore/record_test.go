package pgstore_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestRecordReceiptBackendKilled terminates the backends of a store's
// pool between two receipts: the next RecordReceipt meets a dead
// connection, tries again on a fresh one and records its receipt once.
func TestRecordReceiptBackendKilled(t *testing.T) {
	ctx := context.Background()
	admin := connect(t, nil)
	app := appName("record-killed")
	pool := connect(t, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = app
		c.MaxConns = 1
	})
	opts := tables(t, admin)
	s := newStore(t, pool, opts)
	put(t, s, "u", nil)
	if err := s.RecordReceipt(ctx, "u", "r1"); err != nil {
		t.Fatalf("RecordReceipt(r1) = %v", err)
	}

	var killed int
	err := admin.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
		FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d backends, %v; want 1", killed, err)
	}

	if err := s.RecordReceipt(ctx, "u", "r2"); err != nil {
		t.Fatalf("RecordReceipt(r2) after the kill = %v", err)
	}
	for _, r := range []string{"r1", "r2"} {
		if ok, err := s.HasReceipt(ctx, "u", r); !ok || err != nil {
			t.Errorf("HasReceipt(%s) = %t, %v; want true, nil", r, ok, err)
		}
	}
	var n int
	err = admin.QueryRow(ctx, `SELECT count(*) FROM `+
		opts.ReceiptsTable.Sanitize()+` WHERE user_id = 'u'`).Scan(&n)
	if err != nil || n != 2 {
		t.Errorf("receipts stored = %d, %v; want 2", n, err)
	}
}
