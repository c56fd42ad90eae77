// Command authserver is an example auth server built on logoutflow: its
// users sign in with a password and sign out, every sign-out runs the
// Logout flow [RunCustomAction(track-logout-stats), RevokeSession], and
// admin pages show each user's app_metadata and session figures, with a
// CSV export for reports.
//
//	ADMIN_TOKEN=... go run ./examples/authserver -insecure-cookies
//	go run ./examples/authserver -dev          # prints a generated token
//	go run ./examples/authserver -store postgres \
//		-dsn 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// Without -users it signs in the two demo users of [DemoCredentials].
// Logs are JSON lines on standard error; they name users by ID only.
// SIGINT or SIGTERM stops it gracefully: sign-outs under way finish
// first.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
)

// EnvAdminToken names the environment variable that holds the admin
// token.
const EnvAdminToken = "ADMIN_TOKEN"

// Timeouts of the HTTP server. WriteTimeout leaves a sign-out its whole
// [DefaultLogoutTimeout]; shutdown waits as long for the ones under way.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = DefaultLogoutTimeout + 10*time.Second
	IdleTimeout       = 2 * time.Minute
	ShutdownTimeout   = DefaultLogoutTimeout + 5*time.Second
)

// Store kinds of the -store flag.
const (
	storeMemory   = "memory"
	storePostgres = "postgres"
)

// pingTimeout bounds the first contact with PostgreSQL at start.
const pingTimeout = 5 * time.Second

// errUsage is wrapped by the errors of a bad command line; main exits 2.
var errUsage = errors.New("usage")

// options are the command line and environment, checked.
type options struct {
	addr            string
	store           string
	dsn             string
	sessionTTL      time.Duration
	usersFile       string
	insecureCookies bool
	dev             bool
	adminToken      string
	generatedToken  bool // adminToken was made up because of -dev
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(),
		os.Interrupt, syscall.SIGTERM)
	defer stop()

	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

// run starts the server that args and getenv describe and serves until
// ctx ends, then shuts it down gracefully. Logs go to logw as JSON.
// ready, when not nil, is called with the address once it listens.
func run(ctx context.Context, args []string, getenv func(string) string,
	logw io.Writer, ready func(addr string)) error {
	opts, err := parseOptions(args, getenv, logw)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(logw, nil))

	// Hash the passwords once, at start; only the hashes are kept.
	creds := DemoCredentials
	if opts.usersFile != "" {
		if creds, err = readUsersFile(opts.usersFile); err != nil {
			return err
		}
	} else {
		logger.Warn("no -users file: signing in the demo users")
	}
	users, err := HashUsers(creds, bcrypt.DefaultCost)
	if err != nil {
		return err
	}

	// Open the store and make sure every user has a record in it.
	store, closeStore, err := openStore(ctx, opts, users)
	if err != nil {
		return err
	}
	defer closeStore()

	srv, err := New(Config{
		Store:           store,
		Users:           users,
		Logger:          logger,
		AdminToken:      opts.adminToken,
		InsecureCookies: opts.insecureCookies,
		SessionTTL:      opts.sessionTTL,
	})
	if err != nil {
		return err
	}

	// Listen before saying so, so that the address logged is real.
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return err
	}
	if opts.generatedToken {
		// Printed, not logged: logs may be kept where secrets must not.
		fmt.Fprintf(logw, "authserver: -dev: admin token %s\n",
			opts.adminToken)
	}
	logger.Info("listening", logKeyAddr, ln.Addr().String(),
		logKeyStore, opts.store, logKeySecureCookies, !opts.insecureCookies)
	if ready != nil {
		ready(ln.Addr().String())
	}
	return serve(ctx, newHTTPServer(srv.Handler(), logger), ln, logger)
}

// parseOptions reads the flags of args and the admin token of getenv.
// Flag errors and the usage text are written to out.
func parseOptions(args []string, getenv func(string) string,
	out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("authserver", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.store, "store", storeMemory,
		"where app_metadata is kept: memory or postgres")
	fs.StringVar(&o.dsn, "dsn", "",
		"PostgreSQL connection string, for -store postgres")
	fs.DurationVar(&o.sessionTTL, "session-ttl", DefaultSessionTTL,
		"how long a session lasts after sign-in")
	fs.StringVar(&o.usersFile, "users", "", "JSON file of users: "+
		`[{"user_id", "email", "password"}]; default: the demo users`)
	fs.BoolVar(&o.insecureCookies, "insecure-cookies", false,
		"send cookies without Secure, for local HTTP without TLS")
	fs.BoolVar(&o.dev, "dev", false,
		"generate and print an admin token when "+EnvAdminToken+
			" is not set")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}

	// Check what the flags cannot check alone.
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage,
			fs.Arg(0))
	case o.store != storeMemory && o.store != storePostgres:
		return o, fmt.Errorf("%w: -store must be %s or %s, not %q",
			errUsage, storeMemory, storePostgres, o.store)
	case o.store == storePostgres && o.dsn == "":
		return o, fmt.Errorf("%w: -store postgres needs -dsn", errUsage)
	case o.store == storeMemory && o.dsn != "":
		return o, fmt.Errorf("%w: -dsn is for -store postgres", errUsage)
	case o.sessionTTL <= 0:
		return o, fmt.Errorf("%w: -session-ttl must be positive", errUsage)
	}

	// The admin token comes from the environment, never from a flag
	// that ps would show; -dev makes one up.
	o.adminToken = getenv(EnvAdminToken)
	switch {
	case o.adminToken == "" && !o.dev:
		return o, fmt.Errorf("%w: %s is not set (or pass -dev to "+
			"generate one)", errUsage, EnvAdminToken)
	case o.adminToken == "":
		o.adminToken = rand.Text()
		o.generatedToken = true
	case len(o.adminToken) < MinAdminToken:
		return o, fmt.Errorf("%w: %s must be at least %d bytes",
			errUsage, EnvAdminToken, MinAdminToken)
	}
	return o, nil
}

// readUsersFile reads the credentials of the -users file.
func readUsersFile(name string) ([]Credential, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	creds, err := ReadUsers(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return creds, nil
}

// openStore opens the store opts names and creates a record for each
// user that has none; the function it returns closes the store.
func openStore(ctx context.Context, opts options, users []User) (
	metadata.Store, func(), error) {
	if opts.store == storeMemory {
		store := memstore.New(memstore.Options{})
		for _, u := range users {
			if err := store.Put(ctx, u.ID, nil); err != nil {
				return nil, nil, err
			}
		}
		return store, func() {}, nil
	}

	// PostgreSQL: fail at start, not at the first sign-in, when the
	// server is not there.
	pool, err := pgxpool.New(ctx, opts.dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	store, err := pgstore.New(pool, pgstore.Options{})
	if err == nil {
		err = store.CreateSchema(ctx)
	}
	if err == nil {
		err = addUsers(ctx, pool, users)
	}
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	return store, pool.Close, nil
}

// addUsersSQL creates a user with nothing stored, and leaves an existing
// user alone: a restart or a second replica keeps everyone's figures,
// which a Put would wipe.
var addUsersSQL = `
INSERT INTO ` + pgx.Identifier{pgstore.DefaultTable}.Sanitize() + `
	(` + pgx.Identifier{pgstore.DefaultIDColumn}.Sanitize() + `)
SELECT unnest($1::text[])
ON CONFLICT DO NOTHING`

// addUsers creates the records of users that the default table of
// pgstore does not hold yet.
func addUsers(ctx context.Context, pool *pgxpool.Pool, users []User) error {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	if _, err := pool.Exec(ctx, addUsersSQL, ids); err != nil {
		return fmt.Errorf("adding users: %w", err)
	}
	return nil
}

// newHTTPServer returns the HTTP server of h, with its timeouts set and
// its own errors logged to logger.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           accessLog(h, logger),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// serve serves srv on ln until ctx ends, then shuts it down: it stops
// accepting, lets the requests under way (sign-outs among them) finish,
// within ShutdownTimeout, and returns.
func serve(ctx context.Context, srv *http.Server, ln net.Listener,
	logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}

	// The signal's context has ended: shut down on a fresh one.
	logger.Info("shutting down: finishing the requests under way")
	shutCtx, cancel := context.WithTimeout(context.Background(),
		ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader remembers the first status and passes it on.
func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write passes b on; a write before any status means 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs each request's method, path, status and duration. It
// logs no address, query, header or cookie: nothing that identifies a
// person beyond the user ID in an admin path.
func accessLog(h http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		logger.Info("request", logKeyMethod, r.Method,
			logKeyPath, r.URL.Path, logKeyStatus, sw.status,
			logKeyDuration, time.Since(start).Milliseconds())
	})
}
