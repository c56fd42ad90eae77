// Package pgstore keeps app_metadata in PostgreSQL: the [metadata.Store]
// for several auth-server replicas that share their users, so that the
// figures stay exact whichever replica handles a logout. It is a module
// of its own, so that importing the core never pulls in a driver (pgx v5).
//
// # Tables
//
// The store works on a table the auth server already has, one row per
// user, naming its user ID column and its jsonb column in [Options], or
// on the default layout. [Store.CreateSchema] creates the configured
// table if it is missing, whichever it is; [Store.CheckSchema] checks,
// creating nothing, that the tables fit the store (a jsonb column, a
// unique ID). Receipts live in a table of the store's own. Every name
// is quoted as an identifier and every value is a bound parameter: no
// configured name can change a statement.
//
// # Writes
//
// PostgreSQL does the shallow merge, in one UPDATE: the patch's non-null
// values are concatenated onto the stored object (jsonb ||), then the
// keys whose patch value is null are removed (jsonb - text[]). Numbers
// travel as JSON text both ways, so an integer above 2^53 is never
// rounded through float64.
//
// # Read-modify-write: a row lock, with a one-statement shortcut
//
// [Store.Update] reads the user's row with SELECT ... FOR NO KEY UPDATE,
// calls its function on that value, merges the patch and commits: two
// round trips, the receipt recorded in the same transaction. A row lock
// rather than an optimistic retry, because the updates that matter here
// collide by design: the logouts of one user from two devices or two
// replicas. Under a lock they queue and each runs its function once;
// under optimistic retries every collision throws work away, and a
// burst of logouts of one user can exhaust its attempts. The lock is the
// one an UPDATE takes anyway, held for the time of the function, which
// is short and does no I/O.
//
// The shortcut is optimistic, and only taken when it is likely to win:
// [Store.HasReceipt], which the flow calls at the start of every logout,
// also reads the user's value and the receipts that share the asked
// receipt's prefix up to its last '/' (the flow's receipts of one
// session share "<session>/"), and keeps them as a hint. An
// Update whose receipt the hint shows absent computes its patch from
// that value and writes it with its receipt in one statement that
// applies only if the stored value is still the same; a receipt
// recorded meanwhile fails the statement on the receipts' unique key.
// When the statement does not apply, the update takes the locked path,
// calling its function again on the fresh value. The function is never
// called for a receipt that the hint knows, so a duplicate calls
// nothing; it may be called for one that another replica records at the
// same moment.
//
// # One statement per logout: a guarded write on the event's snapshot
//
// The flow writes a pure action's first write (action.Action.Pure,
// which track-logout-stats is) through [Store.UpdateGuarded], without a
// HasReceipt before it. Its guess of the stored value is the event's
// snapshot of app_metadata, which an auth server that reads the user's
// row at logout has at hand. The store computes the patch from it and
// sends one statement that writes the patch and its receipt only if the
// stored value is still the guess (the same jsonb text), the guard (the
// session's end) does not count, and the receipt does not count; in
// the same snapshot it answers which of these held, and, when it did
// not write, the stored value, from which the patch is computed and
// sent again. A fresh snapshot so costs one round trip, a stale or
// missing one two. After three statements, or for a write of nothing,
// the update takes the locked path, with the guard checked in its
// transaction. An error of the function, or a refusal of its patch,
// that only the guess causes is never returned: the store asks for the
// stored value instead.
//
// # Receipts
//
// A receipt is a row keyed by user ID and receipt, inserted in the
// transaction of its write: a write and its receipt commit together or
// not at all. The receipt column is in the "C" collation, byte order, so
// that the receipts of one session are one range of the key. (A
// receipts table created by an earlier version has the database's
// collation: the answers are the same, but a hint then reads all of a
// user's receipts; ALTER TABLE ... ALTER COLUMN receipt TYPE text
// COLLATE "C" mends it.) A receipt counts for [Options.Retention] (a day by
// default), after which a retry of its write applies again; call
// [Store.Prune] periodically to delete the expired ones.
//
// An update whose patch is empty records only its receipt, and so does
// [Store.RecordReceipt], in one statement that reads nothing of the
// user's value; the flow calls it once per logout to mark the session as
// ended, or [Store.RecordReceipts], which sends that statement for many
// sessions in one round trip, when its runner gathers the ends. Such a
// transaction commits without waiting for its WAL to reach the disk
// (synchronous commit off), which halves the disk waits of a logout. A
// server crash may then forget the receipts of the last fraction of a
// second, never a write: a logout retried after it runs its flow again,
// and the receipts of its writes, which did wait, keep it from counting
// twice. Set [Options.DurableEmptyUpdates] to make them wait as well.
//
// # Failures
//
// An update runs again, a few times at most, after a serialization
// failure, a deadlock, or a lost connection where that is safe: before
// the commit was sent, or whenever the update has a receipt, which makes
// the retry find a commit that did happen and return
// [metadata.ErrDuplicate]. A read ([Store.Get], [Store.HasReceipt])
// whose connection went away is sent again on another, as many times.
package pgstore

// BUG(pgstore): jsonb cannot hold U+0000 in a string: a patch holding
// one is refused whole with [metadata.ErrInvalidPatch], where memstore
// stores it.

// BUG(pgstore): Receipts are dated by each replica's clock: replicas
// whose clocks disagree by more than a small part of the retention
// period disagree on when a receipt expires.
