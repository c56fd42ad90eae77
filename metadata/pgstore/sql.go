package pgstore

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/logoutflow/logoutflow/metadata"
)

// The SQL below names tables and columns with placeholders in braces,
// which newStatements replaces with quoted identifiers. Every value is a
// bound parameter.

// lockDDL serialises CreateSchema across replicas; the key is arbitrary
// but fixed ("logoutflow" in ASCII, truncated to 63 bits).
const lockDDL = `SELECT pg_advisory_xact_lock(7237954125470429047)`

var ddl = []string{`
CREATE TABLE IF NOT EXISTS {users} (
	{id} text PRIMARY KEY,
	{md} jsonb
)`, `
CREATE TABLE IF NOT EXISTS {receipts} (
	user_id    text        NOT NULL,
	receipt    text        COLLATE "C" NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (user_id, receipt)
)`, `
CREATE INDEX IF NOT EXISTS {receipts_idx} ON {receipts} (created_at)`,
}

const getSQL = `SELECT {md} FROM {users} WHERE {id} = $1`

const putSQL = `
INSERT INTO {users} ({id}, {md}) VALUES ($1, $2)
ON CONFLICT ({id}) DO UPDATE SET {md} = excluded.{md}`

// lockSQL reads the user's value and holds the row until the end of the
// transaction. NO KEY UPDATE is the lock the UPDATE itself takes: it lets
// rows of other tables that reference the user be inserted meanwhile.
const lockSQL = `
SELECT {md} FROM {users} WHERE {id} = $1 FOR NO KEY UPDATE`

// receiptSQL records a receipt, or renews one that has expired ($4 is
// the cutoff). It affects no row when the receipt still counts.
const receiptSQL = `
INSERT INTO {receipts} AS r (user_id, receipt, created_at)
VALUES ($1, $2, $3)
ON CONFLICT (user_id, receipt) DO UPDATE
	SET created_at = excluded.created_at
	WHERE r.created_at <= $4`

// mergeSQL is the shallow merge: $2 holds the patch's non-null values,
// which replace or add keys; $3 the keys that the patch deletes. It
// returns the merged value, for the store's hints.
const mergeSQL = `
UPDATE {users} SET {md} = ({md} || $2::jsonb) - $3::text[]
WHERE {id} = $1
RETURNING {md}`

// setSQL replaces a value that is SQL NULL or JSON null, where mergeSQL
// would make an array of it.
const setSQL = `
UPDATE {users} SET {md} = $2::jsonb WHERE {id} = $1
RETURNING {md}`

// asyncCommitSQL lets the transaction commit without waiting for its
// WAL to be flushed; PostgreSQL flushes it within a fraction of a second,
// and before any later commit that waits.
const asyncCommitSQL = `SET LOCAL synchronous_commit TO OFF`

// hasReceiptSQL tells whether the receipt counts ($3 is the cutoff) and,
// in the same snapshot, whether the user exists, its value, and up to $5
// of the receipts that count and start with $6; $7 is the first string
// after all those that start with $6. With the receipt column in the
// "C" collation, as CreateSchema makes it, the two bound an index range,
// so that the user's other receipts are never read (starts_with alone
// keeps the answer right in another collation). The user ID comes
// twice: $1 is text, $4 has the type of the ID column, which may be
// another (uuid, bigint). {prefix} is one of the two conditions below:
// prefixRange, or anyPrefix for an empty $6, which reads the receipts of
// every prefix (it names $6 and $7 all the same, for their types).
const hasReceiptSQL = `
SELECT
	EXISTS (
		SELECT FROM {receipts}
		WHERE user_id = $1 AND receipt = $2 AND created_at > $3
	),
	u.found, u.md,
	ARRAY (
		SELECT receipt FROM {receipts}
		WHERE user_id = $1 AND created_at > $3 {prefix}
			AND starts_with(receipt, $6)
		LIMIT $5
	)
FROM (SELECT) AS one
LEFT JOIN LATERAL (
	SELECT true AS found, {md} AS md FROM {users} WHERE {id} = $4
) AS u ON true`

// The {prefix} conditions of hasReceiptSQL.
const (
	prefixRange = `AND receipt COLLATE "C" >= $6 AND receipt COLLATE "C" < $7`
	anyPrefix   = `AND $6 = '' AND $7::text IS NULL`
)

// mergedSQL is the value that casSQL and guardedSQL write: the shallow
// merge of the patch, as mergeSQL with $6 and $7, or $6 alone, as
// setSQL, where nothing is stored yet.
const mergedSQL = `CASE
		WHEN {md} IS NULL OR {md} = 'null'::jsonb THEN $6::jsonb
		ELSE ({md} || $6::jsonb) - $7::text[]
	END`

// casSQL is the write of an update computed from a hint, in one
// statement: the shallow merge, as mergeSQL (or setSQL where nothing is
// stored yet), if the value is still $4, and the receipt $2 unless it is
// empty. It returns the merged value, or no row when the value has
// changed or the user has gone. A receipt recorded since, even expired,
// fails the whole statement with a unique violation. $5 is the user ID
// again, as hasReceiptSQL's $4.
const casSQL = `
WITH u AS (
	UPDATE {users} SET {md} = ` + mergedSQL + `
	WHERE {id} = $5 AND {md} IS NOT DISTINCT FROM $4::jsonb
	RETURNING {md}
), ins AS (
	INSERT INTO {receipts} (user_id, receipt, created_at)
	SELECT $1, $2, $3 FROM u WHERE $2 <> ''
)
SELECT {md} FROM u`

// guardSQL tells whether the receipt $2 of the user $1 counts ($3 is the
// cutoff): an update's guard, checked in the update's transaction.
const guardSQL = `
SELECT EXISTS (
	SELECT FROM {receipts}
	WHERE user_id = $1 AND receipt = $2 AND created_at > $3
)`

// guardedSQL is the write of [Store.UpdateGuarded], in one statement:
// casSQL, barred by the guard $8 when it counts ($9 is the cutoff), and
// only tried when $10 is true, for a value $4 the caller has. The stored
// value must be $4 to the text, as jsonb writes both: 1.0 is not 1
// there, since it would not measure as 1. An empty object $4 stands for
// nothing stored, SQL NULL and JSON null too. It returns whether the user
// exists, whether the guard counts, whether the receipt $2 counts (told
// only when nothing was written), and whether it wrote; then the merged
// value when it did, else the value it found, so that a write computed
// from a stale value is computed again from that one without another
// read. A receipt that counts, or has expired, or was recorded since the
// statement's snapshot, fails the write on the unique key; the guard is
// checked in the statement's snapshot. What the write does not need (the
// user's row as read, the receipt's lookup) is read only when it did not
// write. $5 is the user ID again, as hasReceiptSQL's $4.
const guardedSQL = `
WITH seen AS (
	SELECT EXISTS (
		SELECT FROM {receipts}
		WHERE user_id = $1 AND receipt = $8 AND created_at > $9
	) AS ended
), u AS (
	UPDATE {users} SET {md} = ` + mergedSQL + `
	WHERE {id} = $5 AND $10 AND NOT (SELECT ended FROM seen)
		AND ({md}::text = $4::jsonb::text OR $4::jsonb = '{}'::jsonb
			AND ({md} IS NULL OR {md} = 'null'::jsonb))
	RETURNING {md} AS md
), ins AS (
	INSERT INTO {receipts} (user_id, receipt, created_at)
	SELECT $1, $2, $3 FROM u WHERE $2 <> ''
), cur AS (
	SELECT {md} AS md FROM {users} WHERE {id} = $5
)
SELECT
	EXISTS (SELECT FROM u) OR EXISTS (SELECT FROM cur),
	seen.ended,
	NOT EXISTS (SELECT FROM u) AND $2 <> '' AND EXISTS (
		SELECT FROM {receipts}
		WHERE user_id = $1 AND receipt = $2 AND created_at > $9
	),
	EXISTS (SELECT FROM u),
	CASE WHEN EXISTS (SELECT FROM u) THEN (SELECT md FROM u)
		ELSE (SELECT md FROM cur) END
FROM seen`

// recordSeenSQL records a receipt ($4 is the cutoff) if the user's value
// is still $5: it returns whether it is, and whether the receipt was
// recorded. It takes no lock on the user's row. $6 is the user ID again,
// as hasReceiptSQL's $4. When $7 is true, the statement's transaction
// commits without waiting for the disk, as asyncCommitSQL.
const recordSeenSQL = `
WITH cur AS (
	SELECT {md} IS NOT DISTINCT FROM $5::jsonb AS same
	FROM {users} WHERE {id} = $6
), ins AS (
	INSERT INTO {receipts} AS r (user_id, receipt, created_at)
	SELECT $1, $2, $3 FROM cur WHERE same
	ON CONFLICT (user_id, receipt) DO UPDATE
		SET created_at = excluded.created_at
		WHERE r.created_at <= $4
	RETURNING 1
)
SELECT
	coalesce((SELECT same FROM cur), false),
	EXISTS (SELECT FROM ins),
	CASE WHEN $7 THEN set_config('synchronous_commit', 'off', true) END`

// recordSQL records a receipt ($4 is the cutoff), unless it is empty,
// for a user who exists, reading nothing of the user's value: it
// returns whether the user exists and whether the receipt was recorded.
// $5 is the user ID again, as hasReceiptSQL's $4. When $6 is true, the
// statement's transaction commits without waiting for the disk, as
// asyncCommitSQL.
const recordSQL = `
WITH usr AS (
	SELECT FROM {users} WHERE {id} = $5
), ins AS (
	INSERT INTO {receipts} AS r (user_id, receipt, created_at)
	SELECT $1, $2, $3 WHERE EXISTS (SELECT FROM usr) AND $2 <> ''
	ON CONFLICT (user_id, receipt) DO UPDATE
		SET created_at = excluded.created_at
		WHERE r.created_at <= $4
	RETURNING 1
)
SELECT
	EXISTS (SELECT FROM usr),
	EXISTS (SELECT FROM ins),
	CASE WHEN $6 THEN set_config('synchronous_commit', 'off', true) END`

const pruneSQL = `DELETE FROM {receipts} WHERE created_at <= $1`

// statements are the SQL of one store, its names filled in.
type statements struct {
	ddl []string

	get, put, lock, receipt, merge, set                       string
	hasReceipt, hasReceiptAll, recordSeen, record, cas, prune string
	guard, guarded                                            string
}

func newStatements(opts Options) statements {
	// The index lives in the receipts table's schema, named after it.
	idx := opts.ReceiptsTable[len(opts.ReceiptsTable)-1] + "_created_at_idx"
	r := strings.NewReplacer(
		"{users}", opts.Table.Sanitize(),
		"{id}", pgx.Identifier{opts.IDColumn}.Sanitize(),
		"{md}", pgx.Identifier{opts.MetadataColumn}.Sanitize(),
		"{receipts}", opts.ReceiptsTable.Sanitize(),
		"{receipts_idx}", pgx.Identifier{idx}.Sanitize(),
	)
	st := statements{
		get:     r.Replace(getSQL),
		put:     r.Replace(putSQL),
		lock:    r.Replace(lockSQL),
		receipt: r.Replace(receiptSQL),
		merge:   r.Replace(mergeSQL),
		set:     r.Replace(setSQL),
		hasReceipt: r.Replace(strings.Replace(hasReceiptSQL, "{prefix}",
			prefixRange, 1)),
		hasReceiptAll: r.Replace(strings.Replace(hasReceiptSQL, "{prefix}",
			anyPrefix, 1)),
		recordSeen: r.Replace(recordSeenSQL),
		record:     r.Replace(recordSQL),
		cas:        r.Replace(casSQL),
		guard:      r.Replace(guardSQL),
		guarded:    r.Replace(guardedSQL),
		prune:      r.Replace(pruneSQL),
	}
	for _, q := range ddl {
		st.ddl = append(st.ddl, r.Replace(q))
	}
	return st
}

// SQLSTATE codes the store acts on.
const (
	codeSerialization  = "40001"
	codeDeadlock       = "40P01"
	codeUntranslatable = "22P05" // jsonb refuses "\u0000"
	codeUnique         = "23505"

	// The class of data exceptions: a value PostgreSQL cannot take.
	codeDataClass = "22"

	// A user ID the ID column's type cannot hold ("abc" for a bigint or
	// uuid column), or one out of its range: it names no user.
	codeBadText    = "22P02"
	codeOutOfRange = "22003"
)

// checkText returns an error for a user ID or a receipt that a text
// column cannot hold: invalid UTF-8, or holding NUL, which PostgreSQL
// refuses with an error of its own. Such an ID names no user.
func checkText(userID, receipt string) error {
	switch {
	case !pgText(userID):
		return fmt.Errorf("%w: %q: the ID is not valid UTF-8 text "+
			"without NUL", metadata.ErrUserNotFound, userID)
	case !pgText(receipt):
		return fmt.Errorf("%w: %q", ErrInvalidReceipt, receipt)
	}
	return nil
}

// pgText reports whether s can be the value of a text column.
func pgText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// sqlState returns err's SQLSTATE, or "".
func sqlState(err error) string {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code
	}
	return ""
}

// badID reports whether err says that the user ID is not a value of the
// ID column's type: such an ID names no user.
func badID(err error) bool {
	switch sqlState(err) {
	case codeBadText, codeOutOfRange:
		return true
	}
	return false
}

// storeErr marks a value that jsonb refuses as an invalid patch: the
// patch was valid JSON, but PostgreSQL cannot store it.
//
// A user ID that the ID column's type refuses names no user: it is
// reported as [metadata.ErrUserNotFound], a failure no retry mends. (The
// patch cannot raise these codes: it reaches PostgreSQL as JSON text
// this package encoded.)
func storeErr(err error) error {
	switch {
	case sqlState(err) == codeUntranslatable:
		return fmt.Errorf("%w: %w", metadata.ErrInvalidPatch, err)
	case badID(err):
		return fmt.Errorf("%w: the user ID is not a value of the ID "+
			"column: %w", metadata.ErrUserNotFound, err)
	}
	return err
}
