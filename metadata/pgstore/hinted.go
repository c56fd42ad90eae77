package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/metadata"
)

// updateHinted is one attempt of Update from a hint: fn runs on the
// value doc that the hint holds, known to be without the receipt, and
// one statement writes its patch and records the receipt if the stored
// value is still doc and the receipt still absent. It takes no lock
// before the statement, so the update takes effect as if it had run on
// the value fn saw: exactly what the locked path would have done.
//
// It reports done false, having changed nothing, when the update must
// take the locked path: the value has changed, the receipt has been
// recorded (or an expired one is still there), or the user has gone.
func (s *Store) updateHinted(ctx context.Context, userID, receipt string,
	doc []byte, fn metadata.UpdateFunc) (done bool, err error) {

	// Compute the patch, and check it, as the locked path does.
	cur, err := decode(doc)
	if err != nil {
		return false, nil // the locked path reports it
	}
	patch, err := fn(cur)
	if err == nil {
		err = s.check(userID, cur, patch)
	}
	if err != nil {
		return true, err
	}
	if len(patch) == 0 && receipt == "" {
		return true, nil // nothing to store
	}
	if err := ctx.Err(); err != nil {
		return true, fmt.Errorf("pgstore: update %q: %w", userID, err)
	}

	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return true, fmt.Errorf("pgstore: update %q: %w", userID, err)
	}
	defer conn.Release()

	// One round trip, committed.
	var recorded bool
	if len(patch) == 0 {
		recorded, err = s.recordHinted(ctx, conn, userID, receipt, doc)
	} else {
		doc, err = s.writeHinted(ctx, conn, userID, receipt, doc, patch)
		recorded = err == nil
	}

	if err := s.lostErr(ctx, conn, userID, receipt, err); err != nil {
		return true, err
	}
	switch {
	case errors.Is(err, errStale):
		s.hints.forget(userID)
		return false, nil
	case err != nil:
		s.hints.forget(userID)
		rollback(ctx, conn)
		return true, s.fail(userID, err)
	case !recorded:
		s.hints.forget(userID)
		return true, duplicate(userID, receipt)
	}
	s.hints.recorded(userID, receipt, doc)
	return true, nil
}

// errStale tells that a hint no longer holds: the locked path must run.
var errStale = errors.New("pgstore: hint is stale")

// writeHinted merges patch into the value doc and records the receipt,
// in one statement, and returns the new value.
func (s *Store) writeHinted(ctx context.Context, conn *pgxpool.Conn,
	userID, receipt string, doc []byte, patch metadata.Map) ([]byte, error) {

	set, del, err := split(patch)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", metadata.ErrInvalidPatch, err)
	}
	var merged []byte
	err = conn.QueryRow(ctx, s.sql.cas, userID, receipt, s.clock.Now(),
		doc, userID, set, del).Scan(&merged)
	if errors.Is(err, pgx.ErrNoRows) || sqlState(err) == codeUnique {
		return nil, errStale
	}
	return merged, err
}

// recordHinted records the receipt if the value is still doc, in one
// statement that commits asynchronously unless the store is told
// otherwise; it reports false when the receipt was recorded already.
func (s *Store) recordHinted(ctx context.Context, conn *pgxpool.Conn,
	userID, receipt string, doc []byte) (bool, error) {

	now := s.clock.Now()
	var (
		same, recorded bool
		async          *string
	)
	err := conn.QueryRow(ctx, s.sql.recordSeen, userID, receipt, now,
		now.Add(-s.retention), doc, userID, !s.durable).Scan(&same,
		&recorded, &async)
	if err != nil {
		return false, err
	}
	if !same {
		return false, errStale
	}
	return recorded, nil
}
