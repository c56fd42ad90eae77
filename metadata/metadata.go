// Package metadata holds a user's app_metadata: the map type, the pure
// shallow merge that every write goes through, the validation a patch must
// pass before it is stored, exact reading of the numbers a JSON decoder
// produces, and the [Store] interface that the in-memory and PostgreSQL
// stores implement.
//
// The merge follows one rule set everywhere:
//
//   - a top-level key in the patch replaces the stored value;
//   - a nested object is replaced whole, never merged;
//   - keys absent from the patch are kept;
//   - a null (nil) value deletes the key.
//
// A patch is validated before it is merged and refused whole when any part
// of it is invalid: nothing of a refused patch is ever stored.
package metadata

import (
	"context"
	"errors"
)

// Map is a user's app_metadata, or a patch to it, as decoded from JSON.
//
// Values are nil, bool, string, float64, json.Number, the Go integer types,
// float32, Map, map[string]any and []any, nested to any depth. Stores keep
// numbers exact: an integer above 2^53 is never rounded through float64.
type Map map[string]any

// UpdateFunc computes a patch from the user's current app_metadata. A store
// calls it inside its atomic read-modify-write and may call it again, with
// a fresher value, when a concurrent write got there first; so it must have
// no side effects beyond its result.
//
// current is nil when nothing is stored yet. It belongs to the store: the
// function must neither change it nor keep it after it returns. The
// returned patch is merged as by [Merge]; a nil or empty patch writes
// nothing (but still records the receipt, see [Store]). An error aborts the
// update and is returned by [Store.Update] unchanged.
type UpdateFunc func(current Map) (patch Map, err error)

// Store keeps each user's app_metadata. Implementations are safe for
// concurrent use, including by several processes where the store is shared
// (see the pgstore module).
//
// Every store passes the contract suite in package
// github.com/logoutflow/logoutflow/metadata/storetest.
//
// Every method must return soon after its context ends, with the
// context's error: the flow bounds an action's writes by their context
// alone when the action runs on the caller's goroutine
// (action.Action.Inline), so a store that ignores its context holds
// the logout as long as it blocks.
type Store interface {
	// Get returns a copy of the user's app_metadata, nil when nothing is
	// stored yet. It returns an error wrapping [ErrUserNotFound] for an
	// unknown user.
	Get(ctx context.Context, userID string) (Map, error)

	// Update atomically reads the user's app_metadata, calls fn, validates
	// the patch it returns with [Validate] and the store's limits, and
	// stores the merge. Concurrent updates of one user are serialised or
	// retried, so that none is lost.
	//
	// When receipt is not empty, the store records it in the same atomic
	// step as the write, and an Update whose receipt the user already has
	// calls nothing, writes nothing and returns an error wrapping
	// [ErrDuplicate]. Receipts are how a retried write is applied once.
	// A store may forget receipts after a retention period of its own.
	Update(ctx context.Context, userID, receipt string, fn UpdateFunc) error

	// HasReceipt reports whether the user's receipt has been recorded by
	// an earlier [Store.Update].
	HasReceipt(ctx context.Context, userID, receipt string) (bool, error)
}

// A store that wraps another by embedding it, to override Update, must
// also override (or hide) the optional methods below, [Viewer] and
// [GuardedUpdater], or those calls reach the inner store past the
// override.

// ReceiptRecorder is an optional interface of a [Store]: RecordReceipt
// records the user's receipt and writes nothing, as [Store.Update] does
// with a function that returns no patch, but without calling or copying
// anything. It returns an error wrapping [ErrDuplicate] when the receipt
// is recorded already, and one wrapping [ErrUserNotFound] for an unknown
// user. The flow records the end of each session with it where the
// store has it.
type ReceiptRecorder interface {
	RecordReceipt(ctx context.Context, userID, receipt string) error
}

// UserReceipt names one user's receipt, for [BatchRecorder].
type UserReceipt struct {
	UserID, Receipt string
}

// BatchRecorder is an optional interface of a [Store]: RecordReceipts
// records each of rs as [ReceiptRecorder.RecordReceipt] would, in fewer
// round trips than one call each, and returns one error per receipt, in
// order, nil for those recorded. Each receipt stands on its own: one that
// fails (a duplicate, an unknown user) leaves the others recorded. A
// receipt that rs holds twice for a user is recorded by the first and a
// duplicate for the second; an empty rs records nothing and returns no
// error; a context that ends gives each receipt not yet recorded the
// context's error, wrapped. The flow runner records the ends of sessions
// with it when its DeferEnd option gathers them.
type BatchRecorder interface {
	RecordReceipts(ctx context.Context, rs []UserReceipt) []error
}

// Errors that stores and [Validate] return, wrapped with context. Test for
// them with [errors.Is].
var (
	// ErrUserNotFound is returned for a user the store does not have.
	ErrUserNotFound = errors.New("metadata: user not found")

	// ErrDuplicate is returned by [Store.Update] when the receipt was
	// already recorded: the write was applied before and is not applied
	// again.
	ErrDuplicate = errors.New("metadata: receipt already recorded")

	// ErrInvalidPatch is returned for a patch that cannot be stored: an
	// empty, oversized or reserved key, or a key with control
	// characters, at any depth, or a value that cannot be encoded as
	// JSON. The error names the key.
	ErrInvalidPatch = errors.New("metadata: invalid patch")

	// ErrTooLarge is returned when the stored app_metadata would exceed
	// the size limit once the patch is merged.
	ErrTooLarge = errors.New("metadata: app_metadata too large")

	// ErrCorrupt is returned when what a store holds for the user cannot
	// be read as app_metadata (a JSON array where an object belongs,
	// say): something other than the store wrote it. No write of the
	// user can succeed until it is repaired, so none is worth retrying.
	ErrCorrupt = errors.New("metadata: stored app_metadata is corrupt")
)
