package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

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
	if err := checkText(userID, receipt); err != nil {
		return err
	}
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
		return duplicate(userID, receipt)
	}
	return nil
}

var _ metadata.BatchRecorder = (*Store)(nil)

// RecordReceipts implements [metadata.BatchRecorder]: the statement of
// RecordReceipt once per receipt, all sent in one round trip and run in
// one transaction, which commits without waiting for the disk unless
// [Options.DurableEmptyUpdates] is set. The flow runner records the
// ends of sessions with it when its DeferEnd option gathers them.
//
// A user ID or a receipt that no text column can hold is answered
// before the batch, as RecordReceipt answers it. When the batch fails as
// a whole (its connection is lost; a user ID that the ID column's type
// refuses aborts its transaction; a deadlock with another replica's
// batch), it is split in two halves, each recorded the same way, down to
// single receipts recorded by RecordReceipt, whose answers then stand:
// one refused ID among 256 costs about 16 batches, and a receipt that a
// lost batch did record is reported as a duplicate. A context that ends
// gives each receipt not yet recorded its error.
func (s *Store) RecordReceipts(ctx context.Context,
	rs []metadata.UserReceipt) []error {

	// What PostgreSQL cannot hold is refused before the batch, which
	// it would abort.
	errs := make([]error, len(rs))
	var good []metadata.UserReceipt
	var at []int // of rs, for each of good
	for i, r := range rs {
		if errs[i] = checkText(r.UserID, r.Receipt); errs[i] == nil {
			good = append(good, r)
			at = append(at, i)
		}
	}
	got := make([]error, len(good))
	s.recordSplit(ctx, good, got)
	for j, i := range at {
		errs[i] = got[j]
	}
	return errs
}

// recordSplit records rs, setting errs: in one batch or, when the batch
// fails as a whole, in two halves recorded the same way.
func (s *Store) recordSplit(ctx context.Context, rs []metadata.UserReceipt,
	errs []error) {

	switch {
	case len(rs) == 0:
		return
	case len(rs) == 1:
		errs[0] = s.RecordReceipt(ctx, rs[0].UserID, rs[0].Receipt)
		return
	}
	if s.recordBatch(ctx, rs, errs) == nil {
		return
	}
	if err := ctx.Err(); err != nil {
		for i, r := range rs {
			errs[i] = fmt.Errorf("pgstore: record %q: %w", r.UserID, err)
		}
		return
	}
	mid := len(rs) / 2
	s.recordSplit(ctx, rs[:mid], errs[:mid])
	s.recordSplit(ctx, rs[mid:], errs[mid:])
}

// recordBatch is RecordReceipts in one batch. It fills errs, or returns
// why the batch failed as a whole, leaving errs unset.
func (s *Store) recordBatch(ctx context.Context, rs []metadata.UserReceipt,
	errs []error) error {

	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()

	// Queue one statement per receipt; the batch is one round trip.
	now := s.clock.Now()
	cutoff := now.Add(-s.retention)
	batch := new(pgx.Batch)
	for _, r := range rs {
		batch.Queue(s.sql.record, r.UserID, r.Receipt, now, cutoff,
			r.UserID, !s.durable)
	}
	results := conn.SendBatch(ctx, batch)

	// Read every answer; any error aborts the transaction, and so the
	// whole batch.
	type answer struct{ found, recorded bool }
	answers := make([]answer, len(rs))
	for i := range rs {
		var async *string
		err := results.QueryRow().Scan(&answers[i].found,
			&answers[i].recorded, &async)
		if err != nil {
			_ = results.Close()
			return err
		}
	}
	if err := results.Close(); err != nil {
		return err
	}

	// The batch committed: each receipt's answer is its own.
	for i, r := range rs {
		a := answers[i]
		switch {
		case !a.found:
			errs[i] = fmt.Errorf("%w: %q", metadata.ErrUserNotFound,
				r.UserID)
		case r.Receipt == "":
		case !a.recorded:
			errs[i] = duplicate(r.UserID, r.Receipt)
		default:
			s.hints.added(r.UserID, r.Receipt)
		}
	}
	return nil
}
