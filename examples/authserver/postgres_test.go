package main

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/logoutflow/logoutflow/metadata"
)

// Environment variables that point the PostgreSQL tests at a server, as
// in the pgstore module's tests.
const (
	// envDSN names the database to test against.
	envDSN = "LOGOUTFLOW_PG_DSN"

	// envRequirePG, set to 1, makes a missing server fail the tests
	// instead of skipping them (CI sets it).
	envRequirePG = "LOGOUTFLOW_REQUIRE_PG"

	defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// testDSN returns a DSN of the test database whose search_path is a
// fresh schema, dropped at cleanup, so that the server's default tables
// land there and runs never collide. Without a server the test is
// skipped, or fails when envRequirePG is 1.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		dsn = defaultDSN
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("%s: %v", envDSN, err)
	}
	tb.Cleanup(pool.Close)

	// A server that does not answer quickly is not there.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		msg := "no PostgreSQL at " + envDSN + " (default " + defaultDSN +
			"): " + err.Error()
		if os.Getenv(envRequirePG) == "1" {
			tb.Fatalf("%s, and %s=1", msg, envRequirePG)
		}
		tb.Skip(msg + "; set " + envDSN + " to run these tests")
	}

	// The schema, dropped with everything in it at cleanup.
	schema := "authserver_test_" + strings.ToLower(rand.Text())
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		tb.Fatalf("CREATE SCHEMA %s = %v", ident, err)
	}
	tb.Cleanup(func() {
		_, err := pool.Exec(context.Background(),
			"DROP SCHEMA "+ident+" CASCADE")
		if err != nil {
			tb.Errorf("DROP SCHEMA %s = %v", ident, err)
		}
	})
	return withSearchPath(tb, dsn, schema)
}

// withSearchPath returns dsn, in URL or keyword form, with search_path
// set to schema; pgx passes it on as a run-time parameter.
func withSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if !strings.HasPrefix(dsn, "postgres://") &&
		!strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", envDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openTestStore opens the PostgreSQL store as main does, for creds,
// closed at cleanup.
func openTestStore(tb testing.TB, dsn string,
	creds []Credential) metadata.Store {
	tb.Helper()
	users, err := HashUsers(creds, bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	opts := options{store: storePostgres, dsn: dsn}
	store, closeStore, err := openStore(context.Background(), opts, users)
	if err != nil {
		tb.Fatalf("openStore(postgres) = %v", err)
	}
	tb.Cleanup(closeStore)
	return store
}

// TestPostgres runs the end-to-end checks on the PostgreSQL store that
// -store postgres opens.
func TestPostgres(t *testing.T) {
	t.Run("sign in and out", func(t *testing.T) {
		dsn := testDSN(t)
		f := newFixture(t, fixtureOptions{
			store: openTestStore(t, dsn, DemoCredentials),
		})
		checkSignInSignOut(t, f)

		// A restart, or a second replica, keeps the figures.
		again := openTestStore(t, dsn, DemoCredentials)
		m, err := again.Get(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got := readFigures(m).SessionCount; got != 1 {
			t.Errorf("session_count after reopening = %d, want 1", got)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		creds := numberedCreds(20)
		f := newFixture(t, fixtureOptions{
			creds: creds,
			store: openTestStore(t, testDSN(t), creds),
		})
		checkConcurrent(t, f, 200)
	})
}
