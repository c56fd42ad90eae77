package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
	"github.com/logoutflow/logoutflow/metadata/storetest"
	"github.com/logoutflow/logoutflow/sessionstats"
)

func TestContract(t *testing.T) {
	pool := connect(t, nil)
	storetest.Run(t, func(t testing.TB) storetest.Store {
		return newStore(t, pool, pgstore.Options{})
	})
}

// increment adds one to the counter "n".
func increment(cur metadata.Map) (metadata.Map, error) {
	n, _ := metadata.Int(cur["n"])
	return metadata.Map{"n": n + 1}, nil
}

// counter returns the user's "n".
func counter(tb testing.TB, s *pgstore.Store, userID string) int64 {
	tb.Helper()
	m, err := s.Get(context.Background(), userID)
	if err != nil {
		tb.Fatalf("Get(%q) = %v", userID, err)
	}
	n, _ := metadata.Int(m["n"])
	return n
}

// put creates a user, failing the test on error.
func put(tb testing.TB, s *pgstore.Store, userID string, m metadata.Map) {
	tb.Helper()
	if err := s.Put(context.Background(), userID, m); err != nil {
		tb.Fatalf("Put(%q) = %v", userID, err)
	}
}

func TestNewRefuses(t *testing.T) {
	// The pool never dials: New does not touch the database.
	pool, err := pgxpool.New(context.Background(),
		"postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		t.Fatalf("pgxpool.New = %v", err)
	}
	defer pool.Close()

	tests := []struct {
		name string
		pool *pgxpool.Pool
		opts pgstore.Options
	}{
		{"nil pool", nil, pgstore.Options{}},
		{"empty table", pool, pgstore.Options{Table: pgx.Identifier{}}},
		{"empty schema part", pool,
			pgstore.Options{Table: pgx.Identifier{"", "users"}}},
		{"NUL only", pool,
			pgstore.Options{ReceiptsTable: pgx.Identifier{"\x00"}}},
		{"four parts", pool,
			pgstore.Options{Table: pgx.Identifier{"a", "b", "c", "d"}}},
		{"one table for both", pool, pgstore.Options{
			Table:         pgx.Identifier{"t"},
			ReceiptsTable: pgx.Identifier{"t"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pgstore.New(tc.pool, tc.opts)
			if !errors.Is(err, pgstore.ErrInvalidOptions) {
				t.Errorf("New = %v, want %v", err, pgstore.ErrInvalidOptions)
			}
		})
	}
}

func TestHostileNames(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, nil)
	schema := newSchema(t, pool)
	victim := pgx.Identifier{schema, "x"}.Sanitize()
	exec(t, pool, "CREATE TABLE "+victim+" (a int)")

	// Every name tries to close its quote and drop the victim.
	evil := `"; DROP TABLE ` + victim + `; --`
	s := newStore(t, pool, pgstore.Options{
		Table:          pgx.Identifier{schema, "users" + evil},
		IDColumn:       "id" + evil,
		MetadataColumn: "md" + evil,
		ReceiptsTable:  pgx.Identifier{schema, "receipts" + evil},
	})

	// Use every statement once.
	put(t, s, "u", metadata.Map{"n": 1})
	if err := s.Update(ctx, "u", "r1", increment); err != nil {
		t.Fatalf("Update = %v", err)
	}
	if n := counter(t, s, "u"); n != 2 {
		t.Errorf("n = %d, want 2", n)
	}
	if ok, err := s.HasReceipt(ctx, "u", "r1"); !ok || err != nil {
		t.Errorf("HasReceipt = %t, %v; want true, nil", ok, err)
	}

	// And the statements of an update on a hint: a write, a receipt.
	if ok, err := s.HasReceipt(ctx, "u", "r3"); ok || err != nil {
		t.Errorf("HasReceipt(r3) = %t, %v; want false, nil", ok, err)
	}
	if err := s.Update(ctx, "u", "r2", increment); err != nil {
		t.Fatalf("Update(r2) = %v", err)
	}
	if err := s.Update(ctx, "u", "r3", noPatch); err != nil {
		t.Fatalf("Update(r3) = %v", err)
	}
	if n := counter(t, s, "u"); n != 3 {
		t.Errorf("n = %d, want 3", n)
	}
	if _, err := s.Prune(ctx); err != nil {
		t.Errorf("Prune = %v", err)
	}

	// The victim stands, beside two tables with the odd names, cut to
	// the 63 bytes PostgreSQL keeps of a name.
	var tables []string
	err := pool.QueryRow(ctx, `
		SELECT array_agg(tablename ORDER BY tablename)
		FROM pg_tables WHERE schemaname = $1`, schema).Scan(&tables)
	if err != nil {
		t.Fatalf("listing tables: %v", err)
	}
	want := []string{("receipts" + evil)[:63], ("users" + evil)[:63], "x"}
	if d := cmp.Diff(want, tables); d != "" {
		t.Errorf("tables, mismatch (-want +got):\n%s", d)
	}
}

func TestCreateSchemaTwice(t *testing.T) {
	pool := connect(t, nil)
	s := newStore(t, pool, pgstore.Options{})

	// Replicas starting together each create the schema.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- s.CreateSchema(context.Background()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("CreateSchema = %v", err)
		}
	}
}

// TestReceiptsInByteOrder checks that CreateSchema makes the receipts
// in the "C" collation: a session's receipts, which share a prefix, are
// then one range of the primary key, and a hint reads no other.
func TestReceiptsInByteOrder(t *testing.T) {
	pool := connect(t, nil)
	opts := tables(t, pool)
	newStore(t, pool, opts)
	var collation string
	err := pool.QueryRow(context.Background(), `
		SELECT coalesce(collation_name, '') FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2
			AND column_name = 'receipt'`,
		opts.ReceiptsTable[0], opts.ReceiptsTable[1]).Scan(&collation)
	if err != nil || collation != "C" {
		t.Errorf("receipt column collation = %q, %v; want \"C\"",
			collation, err)
	}
}

// schemaStore returns a store on tables of a new schema, and its users
// table.
func schemaStore(tb testing.TB, pool *pgxpool.Pool) (*pgstore.Store,
	pgx.Identifier) {

	tb.Helper()
	schema := newSchema(tb, pool)
	users := pgx.Identifier{schema, "users"}
	s := newStore(tb, pool, pgstore.Options{
		Table:         users,
		ReceiptsTable: pgx.Identifier{schema, "receipts"},
	})
	return s, users
}

// TestStoredNumbers reads numbers that another system wrote into the
// column: PostgreSQL keeps them exactly, and so must Get.
func TestStoredNumbers(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, nil)
	s, users := schemaStore(t, pool)
	exec(t, pool, `INSERT INTO `+users.Sanitize()+` VALUES ('u', '{
		"big": 9007199254740993,
		"huge": 1e400,
		"session_count": 9007199254740993,
		"total_session_seconds": 1e400,
		"last_session_duration_sec": 9007199254740991
	}')`)

	// A write elsewhere in the document leaves them as they were.
	err := s.Update(ctx, "u", "", func(metadata.Map) (metadata.Map, error) {
		return metadata.Map{"other": true}, nil
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	m, err := s.Get(ctx, "u")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}

	if got, want := m["big"], json.Number("9007199254740993"); got != want {
		t.Errorf("big = %#v, want %#v", got, want)
	}
	if n, ok := metadata.Int(m["big"]); !ok || n != 9007199254740993 {
		t.Errorf("Int(big) = %d, %t; want 9007199254740993, true", n, ok)
	}
	huge, _ := m["huge"].(json.Number)
	if want := "1" + strings.Repeat("0", 400); string(huge) != want {
		t.Errorf("huge = %#v, want json.Number 1e400 in full", m["huge"])
	}
	if n, ok := metadata.Int(m["huge"]); ok {
		t.Errorf("Int(huge) = %d, true; want false", n)
	}

	// The action counts what it cannot hold exactly as 0.
	want := sessionstats.Figures{LastSessionDuration: 9007199254740991}
	if d := cmp.Diff(want, sessionstats.Read(m)); d != "" {
		t.Errorf("Read, mismatch (-want +got):\n%s", d)
	}
}

func TestStoredValues(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, nil)
	s, users := schemaStore(t, pool)

	tests := []struct {
		name    string
		stored  string // SQL
		want    metadata.Map
		wantErr error
	}{
		{"SQL NULL", "NULL", nil, nil},
		{"JSON null", "'null'", nil, nil},
		{"empty object", "'{}'", metadata.Map{}, nil},
		{"array", "'[1]'", nil, pgstore.ErrNotObject},
		{"string", `'"x"'`, nil, pgstore.ErrNotObject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.name
			exec(t, pool, `INSERT INTO `+users.Sanitize()+
				` VALUES ($1, `+tc.stored+`)`, id)

			got, err := s.Get(ctx, id)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Get = %v, want %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Get, mismatch (-want +got):\n%s", d)
			}

			// A write starts from what Get saw, or is refused as Get was.
			err = s.Update(ctx, id, "r1", increment)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Update = %v, want %v", err, tc.wantErr)
			}
			ok, _ := s.HasReceipt(ctx, id, "r1")
			if ok != (tc.wantErr == nil) {
				t.Errorf("HasReceipt = %t, want %t", ok, tc.wantErr == nil)
			}
			if tc.wantErr == nil {
				if n := counter(t, s, id); n != 1 {
					t.Errorf("n = %d, want 1", n)
				}
			}
		})
	}
}

// BUG-documented: jsonb holds no U+0000 in strings; the patch is refused
// whole rather than stored changed.
func TestNULInValue(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, connect(t, nil), pgstore.Options{})
	put(t, s, "u", metadata.Map{"keep": "kept"})

	patch := metadata.Map{"ok": 1, "s": "a\x00b"}
	err := s.Update(ctx, "u", "r1", func(metadata.Map) (metadata.Map, error) {
		return patch, nil
	})
	if !errors.Is(err, metadata.ErrInvalidPatch) {
		t.Errorf("Update = %v, want %v", err, metadata.ErrInvalidPatch)
	}
	if err := s.Put(ctx, "u", patch); !errors.Is(err, metadata.ErrInvalidPatch) {
		t.Errorf("Put = %v, want %v", err, metadata.ErrInvalidPatch)
	}
	got, err := s.Get(ctx, "u")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if d := cmp.Diff(metadata.Map{"keep": "kept"}, got); d != "" {
		t.Errorf("stored, mismatch (-want +got):\n%s", d)
	}
	if ok, _ := s.HasReceipt(ctx, "u", "r1"); ok {
		t.Errorf("HasReceipt after a refused patch = true")
	}
}

func TestFuncErrorUnchanged(t *testing.T) {
	s := newStore(t, connect(t, nil), pgstore.Options{})
	put(t, s, "u", nil)
	errFn := errors.New("fn failed")
	err := s.Update(context.Background(), "u", "r1",
		func(metadata.Map) (metadata.Map, error) { return nil, errFn })
	if err != errFn {
		t.Errorf("Update = %v, want %v itself", err, errFn)
	}
}

func TestCancelWhileFuncRuns(t *testing.T) {
	s := newStore(t, connect(t, nil), pgstore.Options{})
	put(t, s, "u", metadata.Map{"n": 1})

	// The caller gives up after fn has read the value.
	ctx, cancel := context.WithCancel(context.Background())
	err := s.Update(ctx, "u", "r1", func(cur metadata.Map) (metadata.Map, error) {
		cancel()
		return increment(cur)
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update = %v, want %v", err, context.Canceled)
	}
	if n := counter(t, s, "u"); n != 1 {
		t.Errorf("n = %d, want 1", n)
	}
	ok, err := s.HasReceipt(context.Background(), "u", "r1")
	if ok || err != nil {
		t.Errorf("HasReceipt = %t, %v; want false, nil", ok, err)
	}
}

// holdLock starts an update of the user that stays inside fn, its row
// locked, until release is closed; the returned channel yields its error.
func holdLock(s *pgstore.Store, userID string,
	release <-chan struct{}) (locked <-chan struct{}, done <-chan error) {

	lk, dn := make(chan struct{}), make(chan error, 1)
	go func() {
		dn <- s.Update(context.Background(), userID, "",
			func(cur metadata.Map) (metadata.Map, error) {
				close(lk)
				<-release
				return increment(cur)
			})
	}()
	return lk, dn
}

// waitForLockWait returns once a backend of app waits for a lock.
func waitForLockWait(tb testing.TB, pool *pgxpool.Pool, app string) {
	tb.Helper()
	for {
		var waiting bool
		err := pool.QueryRow(context.Background(), `
			SELECT EXISTS (SELECT FROM pg_stat_activity
				WHERE application_name = $1 AND wait_event_type = 'Lock')`,
			app).Scan(&waiting)
		if err != nil {
			tb.Fatalf("reading pg_stat_activity: %v", err)
		}
		if waiting {
			return
		}
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	app := appName("cancel")
	pool := connect(t, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = app
	})
	s := newStore(t, pool, pgstore.Options{})
	put(t, s, "u", nil)

	// One update holds the row; a second waits for it, then gives up.
	release := make(chan struct{})
	locked, first := holdLock(s, "u", release)
	<-locked
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- s.Update(ctx, "u", "r2", increment) }()
	waitForLockWait(t, pool, app)
	cancel()

	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Update = %v, want %v", err, context.Canceled)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("holding Update = %v", err)
	}
	if n := counter(t, s, "u"); n != 1 {
		t.Errorf("n = %d, want 1", n)
	}
	if ok, _ := s.HasReceipt(context.Background(), "u", "r2"); ok {
		t.Errorf("HasReceipt(r2) = true, want false")
	}
}

// TestRetryOnSerializationFailure runs the store at SERIALIZABLE, where a
// row changed while an update waited for it aborts that update: the store
// runs it again, with the fresh value.
func TestRetryOnSerializationFailure(t *testing.T) {
	app := appName("serializable")
	pool := connect(t, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = app
		c.ConnConfig.RuntimeParams["default_transaction_isolation"] =
			"serializable"
	})
	s := newStore(t, pool, pgstore.Options{})
	put(t, s, "u", nil)

	release := make(chan struct{})
	locked, first := holdLock(s, "u", release)
	<-locked
	var seen []int64 // what the second update's fn saw, per attempt
	second := make(chan error, 1)
	go func() {
		second <- s.Update(context.Background(), "u", "r2",
			func(cur metadata.Map) (metadata.Map, error) {
				n, _ := metadata.Int(cur["n"])
				seen = append(seen, n)
				return increment(cur)
			})
	}()
	waitForLockWait(t, pool, app)
	close(release)

	if err := <-first; err != nil {
		t.Errorf("first Update = %v", err)
	}
	if err := <-second; err != nil {
		t.Errorf("second Update = %v", err)
	}
	if d := cmp.Diff([]int64{1}, seen); d != "" {
		t.Errorf("second fn saw, mismatch (-want +got):\n%s", d)
	}
	if n := counter(t, s, "u"); n != 2 {
		t.Errorf("n = %d, want 2", n)
	}
}

func TestRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		after     time.Duration
		want      bool
	}{
		{"just recorded", time.Minute, 0, true},
		// Receipt times are kept to the microsecond.
		{"within retention", time.Minute, time.Minute - time.Microsecond,
			true},
		{"at retention", time.Minute, time.Minute, false},
		{"long after", time.Minute, 10 * time.Hour, false},
		{"default keeps a day", 0, 24*time.Hour - time.Microsecond, true},
		{"default forgets after a day", 0, 24 * time.Hour, false},
	}
	pool := connect(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clk := clock.NewMock()
			clk.Set(time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC))
			s := newStore(t, pool, pgstore.Options{
				Clock: clk, Retention: tc.retention})
			put(t, s, "u", nil)
			if err := s.Update(ctx, "u", "r1", increment); err != nil {
				t.Fatalf("Update = %v", err)
			}
			clk.Add(tc.after)

			ok, err := s.HasReceipt(ctx, "u", "r1")
			if ok != tc.want || err != nil {
				t.Errorf("HasReceipt = %t, %v; want %t, nil",
					ok, err, tc.want)
			}

			// A forgotten receipt is a new write, recorded anew.
			err = s.Update(ctx, "u", "r1", increment)
			if tc.want != errors.Is(err, metadata.ErrDuplicate) {
				t.Errorf("Update again = %v, duplicate want %t",
					err, tc.want)
			}
			var want int64 = 2
			if tc.want {
				want = 1
			}
			if n := counter(t, s, "u"); n != want {
				t.Errorf("n = %d, want %d", n, want)
			}
			if ok, _ := s.HasReceipt(ctx, "u", "r1"); !ok {
				t.Errorf("HasReceipt after = false, want true")
			}
		})
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC))
	s := newStore(t, connect(t, nil), pgstore.Options{
		Clock: clk, Retention: time.Hour})
	put(t, s, "u", nil)

	// r1 at 10:00, r2 at 10:30.
	if err := s.Update(ctx, "u", "r1", increment); err != nil {
		t.Fatalf("Update(r1) = %v", err)
	}
	clk.Add(30 * time.Minute)
	if err := s.Update(ctx, "u", "r2", increment); err != nil {
		t.Fatalf("Update(r2) = %v", err)
	}

	steps := []struct {
		name    string
		advance time.Duration
		want    int64
	}{
		{"nothing expired at 10:30", 0, 0},
		{"r1 expired at 11:00", 30 * time.Minute, 1},
		{"already pruned", 0, 0},
		{"r2 expired at 11:30", 30 * time.Minute, 1},
	}
	for _, st := range steps {
		clk.Add(st.advance)
		if n, err := s.Prune(ctx); n != st.want || err != nil {
			t.Errorf("%s: Prune = %d, %v; want %d, nil",
				st.name, n, err, st.want)
		}
	}
	if n := counter(t, s, "u"); n != 2 {
		t.Errorf("n = %d, want 2", n)
	}
}
