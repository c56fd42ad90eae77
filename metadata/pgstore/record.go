package pgstore

import (
	"context"
	"fmt"

	"github.com/logoutflow/logoutflow/metadata"
)

var _ metadata.ReceiptRecorder = (*Store)(nil)

// RecordReceipt implements [metadata.ReceiptRecorder]: one statement
// records the receipt for the user, reading nothing of the user's value,
// where an [Store.Update] with a function that returns no patch reads the
// value for its function and records the receipt only if the value has
// not changed. The flow records the end of each session with it. It
// commits without waiting for the disk, as such an Update does, unless
// [Options.DurableEmptyUpdates] is set.
//
// It runs again, a few times at most, after a serialization failure or
// a lost connection: recording a receipt twice records it once, and a
// retry that finds the first attempt's commit returns
// [metadata.ErrDuplicate].
func (s *Store) RecordReceipt(ctx context.Context, userID, receipt string) error {
	err := attempts(ctx, "record", userID, func() error {
		return s.record(ctx, userID, receipt)
	})
	if err == nil {
		s.hints.added(userID, receipt)
	}
	return err
}

// record is one attempt of RecordReceipt.
func (s *Store) record(ctx context.Context, userID, receipt string) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: record %q: %w", userID, err)
	}
	defer conn.Release()

	now := s.clock.Now()
	var (
		found, recorded bool
		async           *string
	)
	err = conn.QueryRow(ctx, s.sql.record, userID, receipt, now,
		now.Add(-s.retention), userID, !s.durable).Scan(&found, &recorded,
		&async)
	switch {
	case err != nil && lost(ctx, conn):
		// Whether the commit happened or not, the retry tells.
		return fmt.Errorf("%w: %w", errRetry, err)
	case sqlState(err) == codeSerialization, sqlState(err) == codeDeadlock:
		return fmt.Errorf("%w: %w", errRetry, err)
	case err != nil:
		return fmt.Errorf("pgstore: record %q: %w", userID, storeErr(err))
	case !found:
		return fmt.Errorf("%w: %q", metadata.ErrUserNotFound, userID)
	case receipt == "":
		return nil // nothing to record, as Update without a receipt
	case !recorded:
		return fmt.Errorf("%w: user %q, receipt %q", metadata.ErrDuplicate,
			userID, receipt)
	}
	return nil
}
