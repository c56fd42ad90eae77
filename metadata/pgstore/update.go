package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/metadata"
)

// maxAttempts bounds the transactions one Update runs: PostgreSQL may
// abort one (serialization failure, deadlock) or lose its connection.
const maxAttempts = 5

// errRetry marks an attempt that failed in a way that another attempt
// may not.
var errRetry = errors.New("pgstore: transaction failed")

// Update implements [metadata.Store.Update] in one transaction that locks
// the user's row: the receipt is recorded first, the row is read and
// locked, fn runs on that value, and PostgreSQL merges the patch in a
// single UPDATE. fn's error is returned unchanged.
//
// When [Store.HasReceipt] has just read the user and shows the receipt
// absent, Update first runs fn on the value read then and writes the
// patch and the receipt in one statement that applies only if the value
// is unchanged; if it does not apply, the locked transaction follows and
// fn runs again (see the package documentation).
//
// An attempt runs again, at most a few times, after a serialization
// failure or a deadlock, and after losing its connection where that is
// safe: before the commit was sent, or at any point when the update has
// a receipt, which makes the retry apply the write at most once (a
// commit that did happen makes the retry return [metadata.ErrDuplicate]).
// fn is called once per attempt that gets the row, and once more when a
// hinted attempt does not apply.
func (s *Store) Update(ctx context.Context, userID, receipt string,
	fn metadata.UpdateFunc) error {

	if err := checkText(userID, receipt); err != nil {
		return err
	}
	return attempts(ctx, "update", userID, func() error {
		return s.update(ctx, userID, receipt, "", fn)
	})
}

// attempts runs attempt until it returns an error that is not marked
// errRetry, maxAttempts times at most, and ctx has not ended; what names
// the operation in its errors.
func attempts(ctx context.Context, what, userID string,
	attempt func() error) error {

	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pgstore: %s %q: %w", what, userID, err)
		}
		err := attempt()
		if !errors.Is(err, errRetry) {
			return err
		}
		if n == maxAttempts {
			return fmt.Errorf("pgstore: %s %q: %d attempts: %w", what,
				userID, n, err)
		}
	}
}

// update is one attempt of Update. Where a hint allows, it tries one
// round trip first (see [Store.updateHinted]); else it takes the locked
// path, barred by guard unless it is empty.
func (s *Store) update(ctx context.Context, userID, receipt, guard string,
	fn metadata.UpdateFunc) error {

	if doc, ok := s.hints.get(userID, receipt); ok {
		done, err := s.updateHinted(ctx, userID, receipt, doc, fn)
		if done {
			return err
		}
	}
	return s.locked(ctx, userID, receipt, guard, fn)
}

// locked is the locked path of an update, barred by guard unless it is
// empty. It holds a connection of its own for two round trips: begin,
// lock the row, check the guard and record the receipt; then write and
// commit.
func (s *Store) locked(ctx context.Context, userID, receipt, guard string,
	fn metadata.UpdateFunc) error {

	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: update %q: %w", userID, err)
	}
	// The pool closes a connection released inside a transaction, so an
	// attempt that fails before it can roll back leaks nothing.
	defer conn.Release()

	// Record the receipt and lock the row in one round trip.
	cur, doc, err := s.begin(ctx, conn, userID, receipt, guard)
	if err != nil && lost(ctx, conn) {
		err = fmt.Errorf("%w: %w", errRetry, err)
	}
	if err != nil {
		s.hints.forget(userID)
		rollback(ctx, conn)
		return err
	}

	// Compute the patch from the locked value; check it as memstore does.
	patch, err := fn(cur)
	if err == nil {
		err = s.check(userID, cur, patch)
	}
	if err != nil {
		rollback(ctx, conn)
		return err
	}

	// The caller may have given up while fn ran: then store nothing.
	if err := ctx.Err(); err != nil {
		rollback(ctx, conn)
		return fmt.Errorf("pgstore: update %q: %w", userID, err)
	}

	// Merge and commit in one round trip. A connection lost meanwhile
	// leaves the outcome unknown: only a receipt makes a retry safe.
	doc, err = s.commit(ctx, conn, userID, cur == nil, patch, doc)
	if err != nil && lost(ctx, conn) &&
		(receipt != "" || pgconn.SafeToRetry(err)) {
		err = fmt.Errorf("%w: %w", errRetry, err)
	}
	if err != nil {
		s.hints.forget(userID)
		rollback(ctx, conn)
		return err
	}
	s.hints.recorded(userID, receipt, doc)
	return nil
}

// check refuses a patch that is invalid or would make the value too
// large, as memstore does. fn's own error is returned unchanged.
func (s *Store) check(userID string, cur, patch metadata.Map) error {
	if len(patch) == 0 {
		return nil
	}
	if _, err := metadata.Apply(cur, patch, s.lim); err != nil {
		return fmt.Errorf("pgstore: update %q: %w", userID, err)
	}
	return nil
}

// begin opens the transaction, locks the user's row, checks that the
// guard, if any, is not recorded, records the receipt if there is one,
// and returns the user's value, decoded and as stored. The row comes
// first, as in casSQL, so that two updates of one receipt never hold one
// lock each and wait for the other's.
func (s *Store) begin(ctx context.Context, conn *pgxpool.Conn,
	userID, receipt, guard string) (metadata.Map, []byte, error) {

	now := s.clock.Now()
	b := new(pgx.Batch)
	b.Queue("begin")
	b.Queue(s.sql.lock, userID)
	if guard != "" {
		b.Queue(s.sql.guard, userID, guard, now.Add(-s.retention))
	}
	if receipt != "" {
		b.Queue(s.sql.receipt, userID, receipt, now,
			now.Add(-s.retention))
	}
	br := conn.SendBatch(ctx, b)
	defer br.Close()

	// The results come in the order queued. A missing user leaves a
	// receipt that the caller's rollback removes.
	if _, err := br.Exec(); err != nil {
		return nil, nil, s.fail(userID, err)
	}
	var doc []byte
	err := br.QueryRow().Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("%w: %q", metadata.ErrUserNotFound,
			userID)
	}
	if err != nil {
		return nil, nil, s.fail(userID, err)
	}
	if guard != "" {
		var barred bool
		if err := br.QueryRow().Scan(&barred); err != nil {
			return nil, nil, s.fail(userID, err)
		}
		if barred {
			return nil, nil, barredBy(userID, guard)
		}
	}
	if receipt != "" {
		tag, err := br.Exec()
		if err != nil {
			return nil, nil, s.fail(userID, err)
		}
		if tag.RowsAffected() != 1 {
			return nil, nil, duplicate(userID, receipt)
		}
	}
	if err := br.Close(); err != nil {
		return nil, nil, s.fail(userID, err)
	}

	cur, err := decode(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("pgstore: update %q: %w", userID, err)
	}
	return cur, doc, nil
}

// commit merges patch into the locked row and commits. empty tells that
// nothing is stored yet, so the patch is the whole value; doc is the
// value as stored. It returns the value as committed.
func (s *Store) commit(ctx context.Context, conn *pgxpool.Conn,
	userID string, empty bool, patch metadata.Map, doc []byte) ([]byte, error) {

	b := new(pgx.Batch)
	if len(patch) > 0 {
		set, del, err := split(patch)
		if err != nil {
			return nil, fmt.Errorf("pgstore: update %q: %w: %w", userID,
				metadata.ErrInvalidPatch, err)
		}
		if empty {
			b.Queue(s.sql.set, userID, set)
		} else {
			b.Queue(s.sql.merge, userID, set, del)
		}
	} else if !s.durable {
		// Only a receipt to keep: do not wait for the disk.
		b.Queue(asyncCommitSQL)
	}
	b.Queue("commit")
	br := conn.SendBatch(ctx, b)
	defer br.Close()

	// The merge, if any, returns the new value.
	if len(patch) > 0 {
		doc = nil
		if err := br.QueryRow().Scan(&doc); err != nil {
			return nil, s.fail(userID, err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, s.fail(userID, err)
	}
	return doc, nil
}

// split encodes the patch's non-null values as one JSON object and lists
// the keys it deletes.
func split(patch metadata.Map) (set []byte, del []string, err error) {
	vals := make(map[string]any, len(patch))
	for k, v := range patch {
		if v == nil {
			del = append(del, k)
			continue
		}
		vals[k] = v
	}
	if set, err = json.Marshal(vals); err != nil {
		return nil, nil, err
	}
	if del == nil {
		del = []string{}
	}
	return set, del, nil
}

// fail wraps a database error, marking those worth another attempt.
func (s *Store) fail(userID string, err error) error {
	switch sqlState(err) {
	case codeSerialization, codeDeadlock:
		return fmt.Errorf("%w: %w", errRetry, err)
	}
	return fmt.Errorf("pgstore: update %q: %w", userID, storeErr(err))
}

// duplicate returns the error of a write whose receipt was recorded
// already.
func duplicate(userID, receipt string) error {
	return fmt.Errorf("%w: user %q, receipt %q", metadata.ErrDuplicate,
		userID, receipt)
}

// barredBy returns the error of a write that the user's guard bars.
func barredBy(userID, guard string) error {
	return fmt.Errorf("%w: user %q, guard %q", metadata.ErrBarred, userID,
		guard)
}

// lostErr returns the error of a statement that failed with err because
// its connection, not its caller, went away, and nil when that is not
// what happened. The outcome is then unknown: only a receipt makes
// another attempt safe (errRetry), which then finds it if it counted.
// The user's hint is forgotten.
func (s *Store) lostErr(ctx context.Context, conn *pgxpool.Conn,
	userID, receipt string, err error) error {

	if err == nil || !lost(ctx, conn) {
		return nil
	}
	s.hints.forget(userID)
	if receipt != "" || pgconn.SafeToRetry(err) {
		return fmt.Errorf("%w: %w", errRetry, err)
	}
	return s.fail(userID, err)
}

// lost reports whether the attempt failed because its connection, not
// its caller, went away.
func lost(ctx context.Context, conn *pgxpool.Conn) bool {
	return ctx.Err() == nil && conn.Conn().IsClosed()
}

// rollback ends the transaction if the connection is still in one. When
// that fails, or ctx has ended, the pool closes the connection on release
// and the server rolls back.
func rollback(ctx context.Context, conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' || ctx.Err() != nil {
		return
	}
	_, _ = conn.Exec(ctx, "rollback")
}
