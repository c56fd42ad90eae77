package pgstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/metadata/pgstore"
)

// Environment variables that point the tests at a server.
const (
	// envDSN names the database to test against.
	envDSN = "LOGOUTFLOW_PG_DSN"

	// envRequire, set to 1, makes a missing server fail the tests
	// instead of skipping them (CI sets it).
	envRequire = "LOGOUTFLOW_REQUIRE_PG"

	defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// connect returns a pool on the test database, closed at cleanup; edit,
// when not nil, changes its configuration first. Without a server the
// test is skipped, or fails when envRequire is 1.
func connect(tb testing.TB, edit func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	dsn, from := os.Getenv(envDSN), envDSN
	if dsn == "" {
		dsn, from = defaultDSN, "the default; set "+envDSN+" to change it"
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", envDSN, err)
	}
	if edit != nil {
		edit(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pgxpool.NewWithConfig = %v", err)
	}
	tb.Cleanup(pool.Close)

	// A server that does not answer quickly is not there.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		c := cfg.ConnConfig
		msg := fmt.Sprintf("no PostgreSQL at %s@%s:%d/%s (%s): %v",
			c.User, c.Host, c.Port, c.Database, from, err)
		if os.Getenv(envRequire) == "1" {
			tb.Fatalf("%s; %s=1 requires one", msg, envRequire)
		}
		tb.Skip(msg)
	}
	return pool
}

// newSchema creates a PostgreSQL schema of a random name, dropped with
// everything in it at cleanup, so that runs never collide.
func newSchema(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	name := "pgstore_test_" + strings.ToLower(rand.Text())
	sql := "CREATE SCHEMA " + pgx.Identifier{name}.Sanitize()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		tb.Fatalf("%s = %v", sql, err)
	}
	tb.Cleanup(func() {
		sql := "DROP SCHEMA " + pgx.Identifier{name}.Sanitize() +
			" CASCADE"
		if _, err := pool.Exec(context.Background(), sql); err != nil {
			tb.Errorf("%s = %v", sql, err)
		}
	})
	return name
}

// newStore returns a store on pool whose tables, unless opts names
// them, live in a fresh schema, created.
func newStore(tb testing.TB, pool *pgxpool.Pool, opts pgstore.Options) *pgstore.Store {
	tb.Helper()
	if opts.Table == nil || opts.ReceiptsTable == nil {
		schema := newSchema(tb, pool)
		opts.Table = pgx.Identifier{schema, "users"}
		opts.ReceiptsTable = pgx.Identifier{schema, "receipts"}
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		tb.Fatalf("pgstore.New = %v", err)
	}
	if err := s.CreateSchema(context.Background()); err != nil {
		tb.Fatalf("CreateSchema = %v", err)
	}
	return s
}

// exec runs sql on pool, failing the test on error.
func exec(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s = %v", sql, err)
	}
}
