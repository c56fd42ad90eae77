package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/metadata"
)

// Defaults of [Options].
const (
	DefaultTable          = "logoutflow_users"
	DefaultIDColumn       = "user_id"
	DefaultMetadataColumn = "app_metadata"
	DefaultReceiptsTable  = "logoutflow_receipts"

	// DefaultRetention is how long a receipt counts, as memstore's.
	DefaultRetention = 24 * time.Hour
)

// Errors that [New] and the store's methods return, wrapped with context.
var (
	// ErrInvalidOptions is returned by [New] for options it cannot use.
	ErrInvalidOptions = errors.New("pgstore: invalid options")

	// ErrNotObject is returned when the stored app_metadata is neither
	// SQL NULL, JSON null nor a JSON object: something other than this
	// store wrote it, and the store will not guess what it means. It
	// wraps [metadata.ErrCorrupt].
	ErrNotObject = fmt.Errorf("pgstore: stored app_metadata is not an "+
		"object: %w", metadata.ErrCorrupt)

	// ErrInvalidReceipt is returned by Update, RecordReceipt and
	// RecordReceipts for a receipt that PostgreSQL's text cannot hold:
	// invalid UTF-8, or holding NUL (memstore keeps any bytes); no
	// statement is sent. HasReceipt reports such a receipt absent. The
	// flow's receipts never are of that kind: they are made of IDs that
	// action.CheckID accepts.
	ErrInvalidReceipt = errors.New("pgstore: receipt is not valid UTF-8 " +
		"text without NUL")
)

// Clock tells the time. Both clocks of github.com/benbjohnson/clock fit.
type Clock interface {
	Now() time.Time
}

// Options configures a [Store]. The zero value means the defaults: the
// tables that [Store.CreateSchema] creates, found on the search_path.
//
// Names are identifiers, never SQL: each part is quoted, so that no
// configuration can change a statement. A schema-qualified table is
// written as two parts, as in pgx.Identifier{"auth", "users"}.
type Options struct {
	// Table holds one row per user; nil means DefaultTable.
	Table pgx.Identifier

	// IDColumn is Table's user ID column, with a unique index, of any
	// type whose text form is the user ID (text, uuid, bigint); empty
	// means DefaultIDColumn. Only [Store.CheckSchema] checks that it is
	// unique. If several rows share an ID, Put fails for any ID (its ON
	// CONFLICT needs a unique index), Get returns one of the rows, and
	// an update writes its patch, computed from one row's value, to that
	// row alone or to every row of the ID: counts split between the
	// rows, or one row's figures overwrite the others'.
	IDColumn string

	// MetadataColumn is Table's jsonb column holding app_metadata;
	// empty means DefaultMetadataColumn. It must be jsonb: the store
	// merges and compares values with jsonb operators, which a json or
	// text column lacks, so that with one every logout's write fails
	// (operator does not exist), though Put and Get work.
	// [Store.CheckSchema] reports such a column.
	MetadataColumn string

	// ReceiptsTable holds the receipts of [Store.Update]; nil means
	// DefaultReceiptsTable.
	ReceiptsTable pgx.Identifier

	// Limits bounds what the store accepts.
	Limits metadata.Limits

	// Clock dates receipts and tells which have expired; nil means the
	// real clock. Replicas sharing a database should agree on the time.
	Clock Clock

	// Retention is how long a receipt counts, from the update that
	// recorded it; zero or less means DefaultRetention. A retried write
	// that arrives later is applied again. The flow records its
	// receipts as a session ends, so set it longer than the latest a
	// repeat or a retry of a logout can arrive after that, whatever the
	// length of the sessions. [Store.Prune] deletes what has expired.
	Retention time.Duration

	// DurableEmptyUpdates makes an update whose patch is empty, which
	// records only its receipt, wait for its commit to reach the disk
	// like every other. By default such an update commits
	// asynchronously (see the package documentation): a server crash
	// may forget its receipt, but never a write.
	DurableEmptyUpdates bool
}

// Store is a [metadata.Store] in PostgreSQL. It is safe for concurrent
// use, by any number of processes sharing the database. Create one with
// [New].
type Store struct {
	pool      *pgxpool.Pool
	lim       metadata.Limits
	clock     Clock
	retention time.Duration
	durable   bool // DurableEmptyUpdates
	sql       statements
	hints     hints
	names     names
}

// names are the store's tables and columns, as Options gave them.
type names struct {
	table, receipts pgx.Identifier
	id, md          string
}

var _ metadata.Store = (*Store)(nil)

// New returns a store that keeps app_metadata in the tables opts names,
// through pool. It does not touch the database: see [Store.CreateSchema].
func New(pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", ErrInvalidOptions)
	}

	// Fill in the defaults, then refuse names PostgreSQL cannot hold.
	if opts.Table == nil {
		opts.Table = pgx.Identifier{DefaultTable}
	}
	if opts.IDColumn == "" {
		opts.IDColumn = DefaultIDColumn
	}
	if opts.MetadataColumn == "" {
		opts.MetadataColumn = DefaultMetadataColumn
	}
	if opts.ReceiptsTable == nil {
		opts.ReceiptsTable = pgx.Identifier{DefaultReceiptsTable}
	}
	if err := checkNames(opts); err != nil {
		return nil, err
	}

	s := &Store{
		pool:      pool,
		lim:       opts.Limits,
		clock:     opts.Clock,
		retention: opts.Retention,
		durable:   opts.DurableEmptyUpdates,
		sql:       newStatements(opts),
		names: names{table: opts.Table, receipts: opts.ReceiptsTable,
			id: opts.IDColumn, md: opts.MetadataColumn},
	}
	if s.clock == nil {
		s.clock = clock.New()
	}
	if s.retention <= 0 {
		s.retention = DefaultRetention
	}
	return s, nil
}

// checkNames refuses empty identifiers, and one table for both uses.
func checkNames(opts Options) error {
	tables := []struct {
		field string
		id    pgx.Identifier
	}{
		{"Table", opts.Table},
		{"ReceiptsTable", opts.ReceiptsTable},
	}
	for _, tb := range tables {
		if len(tb.id) == 0 || len(tb.id) > 3 {
			return fmt.Errorf("%w: %s has %d parts, want 1 to 3",
				ErrInvalidOptions, tb.field, len(tb.id))
		}
		for _, part := range tb.id {
			if strings.ReplaceAll(part, "\x00", "") == "" {
				return fmt.Errorf("%w: %s has an empty part",
					ErrInvalidOptions, tb.field)
			}
		}
	}
	if strings.ReplaceAll(opts.IDColumn, "\x00", "") == "" ||
		strings.ReplaceAll(opts.MetadataColumn, "\x00", "") == "" {
		return fmt.Errorf("%w: empty column name", ErrInvalidOptions)
	}
	if opts.Table.Sanitize() == opts.ReceiptsTable.Sanitize() {
		return fmt.Errorf("%w: Table and ReceiptsTable are the same table",
			ErrInvalidOptions)
	}
	return nil
}

// CreateSchema creates the tables that do not exist yet: Table, with
// IDColumn as a text primary key and MetadataColumn as jsonb, and
// ReceiptsTable with an index for [Store.Prune]; then it checks that
// the tables fit the store, as [Store.CheckSchema] does, and returns its
// error. It creates the configured Table if it is missing, whatever its
// name: with a misspelt Table, it creates a new, empty table, which the
// store then uses. A server whose users table is its own should call it
// only if it wants that, or check its names first (CheckSchema alone
// creates nothing). It creates the tables only, not the PostgreSQL
// schema that holds them. It is safe to call at every start, from
// several replicas at once.
func (s *Store) CreateSchema(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: create schema: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op once committed

	// Replicas starting together would race on the catalog: take turns.
	for _, q := range append([]string{lockDDL}, s.sql.ddl...) {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("pgstore: create schema: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: create schema: %w", err)
	}
	return s.CheckSchema(ctx)
}

// Put creates the user, or replaces the user's app_metadata whole, with
// m after validating it as a patch (see [metadata.Validate]) and checking
// its size. A nil m stores SQL NULL: nothing stored yet. The user's
// receipts are kept. Put is for seeding and tests; an auth server's
// existing table, whose other columns may need values, gets its users
// from the auth server. A Put for a user who exists wipes what updates
// stored, figures included: call it only for a user known to be new. To
// create a row only if it is missing, use the server's own INSERT ...
// ON CONFLICT DO NOTHING.
func (s *Store) Put(ctx context.Context, userID string, m metadata.Map) error {
	if err := checkText(userID, ""); err != nil {
		return fmt.Errorf("pgstore: put %q: %w", userID, err)
	}
	var doc []byte
	if m != nil {
		data, err := metadata.Apply(nil, m, s.lim)
		if err != nil {
			return fmt.Errorf("pgstore: put %q: %w", userID, err)
		}
		if doc, err = json.Marshal(data); err != nil {
			return fmt.Errorf("pgstore: put %q: %w: %w", userID,
				metadata.ErrInvalidPatch, err)
		}
	}
	s.hints.forget(userID)
	if _, err := s.pool.Exec(ctx, s.sql.put, userID, doc); err != nil {
		return fmt.Errorf("pgstore: put %q: %w", userID, storeErr(err))
	}
	return nil
}

// Get returns the user's app_metadata, nil when the column is SQL NULL or
// JSON null. Numbers come back as json.Number, exactly as stored.
func (s *Store) Get(ctx context.Context, userID string) (metadata.Map, error) {
	if err := checkText(userID, ""); err != nil {
		return nil, err
	}
	var doc []byte
	err := s.read(ctx, func(conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, s.sql.get, userID).Scan(&doc)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", metadata.ErrUserNotFound, userID)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get %q: %w", userID, storeErr(err))
	}
	m, err := decode(doc)
	if err != nil {
		return nil, fmt.Errorf("pgstore: get %q: %w", userID, err)
	}
	return m, nil
}

// HasReceipt implements [metadata.Store.HasReceipt]. A receipt older than
// the retention period is reported as absent, pruned or not. An unknown
// user has no receipts.
//
// With the answer, the store reads the user's value and receipts, and
// keeps them as a hint that lets the next [Store.Update] of the user
// commit in one round trip (see the package documentation).
func (s *Store) HasReceipt(ctx context.Context, userID, receipt string) (bool, error) {
	ok, err := s.hasReceipt(ctx, userID, receipt)
	if err != nil {
		return false, fmt.Errorf("pgstore: receipt of %q: %w", userID, err)
	}
	return ok, nil
}

// hasReceipt is HasReceipt, with errors left for the caller to say what
// it was doing.
func (s *Store) hasReceipt(ctx context.Context, userID, receipt string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if receipt == "" || checkText(userID, receipt) != nil {
		return false, nil // no such user or receipt can be stored
	}

	// The hint holds the receipts that share the receipt's prefix: those
	// of the session, for the flow's receipts. A user known to have more
	// of them than a hint holds is not asked for them again while the
	// store remembers it.
	e := hint{prefix: hintPrefix(receipt)}
	list := maxHintReceipts + 1
	if s.hints.many(userID, e.prefix) {
		list = 0
	}
	var (
		ok    bool
		found *bool
	)
	sql := s.sql.hasReceipt
	if e.prefix == "" {
		sql = s.sql.hasReceiptAll
	}
	err := s.read(ctx, func(conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, sql, userID, receipt, s.cutoff(),
			userID, list, e.prefix, prefixEnd(e.prefix)).Scan(&ok, &found,
			&e.doc, &e.present)
	})
	if badID(err) {
		return false, nil // no user has such an ID, nor receipts
	}
	if err != nil {
		return false, err
	}
	if found != nil {
		e.complete = list > 0 && len(e.present) <= maxHintReceipts
		if !ok {
			e.absent = receipt
		}
		s.hints.put(userID, &e)
	}
	return ok, nil
}

// Prune deletes the receipts that have expired and returns how many it
// deleted. Expired receipts already count as absent; Prune only reclaims
// their space. Call it periodically, from any one replica or from all.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, s.sql.prune, s.cutoff())
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune: %w", err)
	}
	return tag.RowsAffected(), nil
}

// read runs query, a read, on a connection from the pool, and runs it
// again on another, maxAttempts times at most, while it fails because
// its connection went away (a backend terminated, a server restarted)
// and ctx has not ended.
func (s *Store) read(ctx context.Context,
	query func(conn *pgxpool.Conn) error) error {
	for n := 1; ; n++ {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		err = query(conn)
		gone := err != nil && lost(ctx, conn)
		conn.Release()
		if !gone || n == maxAttempts {
			return err
		}
	}
}

// cutoff is the time at and before which a receipt has expired.
func (s *Store) cutoff() time.Time {
	return s.clock.Now().Add(-s.retention)
}

// decode reads a stored document: numbers as json.Number, SQL NULL and
// JSON null as a nil map.
func decode(doc []byte) (metadata.Map, error) {
	if doc == nil {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode app_metadata: %w", err)
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return metadata.Map(v), nil
	}
	return nil, ErrNotObject
}
