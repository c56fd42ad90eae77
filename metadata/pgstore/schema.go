package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrSchema is returned by [Store.CheckSchema], and so by
// [Store.CreateSchema], when the tables do not fit the store: a table or
// column is missing, the metadata column is not jsonb, or a key the
// store's statements rely on is not unique.
var ErrSchema = errors.New("pgstore: the tables do not fit the store")

// schemaSQL reads what CheckSchema checks of the users table $1, with ID
// column $2 and metadata column $3, and of the receipts table $4 (tables
// as quoted names, columns as plain ones): whether the users table
// exists, the types of the two columns (NULL when missing), whether a
// unique index covers the ID column alone, whether the receipts table
// exists, and whether a unique index covers its (user_id, receipt). The
// unique indexes are the ones the statements' ON CONFLICT clauses need:
// valid, with no expression and no predicate.
const schemaSQL = `
WITH u AS (SELECT to_regclass($1) AS rel), r AS (SELECT to_regclass($4) AS rel)
SELECT
	(SELECT rel IS NOT NULL FROM u),
	(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a, u
		WHERE a.attrelid = u.rel AND a.attname = $2 AND a.attnum > 0
			AND NOT a.attisdropped),
	(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a, u
		WHERE a.attrelid = u.rel AND a.attname = $3 AND a.attnum > 0
			AND NOT a.attisdropped),
	EXISTS (SELECT FROM pg_index i, u, pg_attribute a
		WHERE i.indrelid = u.rel AND i.indisunique AND i.indisvalid
			AND i.indnkeyatts = 1 AND i.indpred IS NULL
			AND i.indexprs IS NULL AND a.attrelid = u.rel
			AND a.attnum = i.indkey[0] AND a.attname = $2),
	(SELECT rel IS NOT NULL FROM r),
	EXISTS (SELECT FROM pg_index i, r
		WHERE i.indrelid = r.rel AND i.indisunique AND i.indisvalid
			AND i.indnkeyatts = 2 AND i.indpred IS NULL
			AND i.indexprs IS NULL
			AND ARRAY(
				SELECT a.attname::text
				FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(num, ord)
				JOIN pg_attribute a ON a.attrelid = r.rel AND a.attnum = k.num
				WHERE k.ord <= 2 ORDER BY k.ord
			) = ARRAY['user_id', 'receipt'])`

// CheckSchema checks that the tables fit the store, and returns an error
// wrapping [ErrSchema] that names every misfit it found:
//   - the users table or one of its two columns is missing;
//   - the metadata column is not jsonb: the store merges and compares
//     with jsonb operators, so every write would fail;
//   - no unique index covers the ID column alone: a write could reach
//     several rows of one ID, splitting the user's counts, and Put fails;
//   - the receipts table is missing, or has no unique key on
//     (user_id, receipt), which recording a receipt relies on.
//
// It reads the catalog only. [Store.CreateSchema] calls it once the
// tables exist; a server that creates its tables itself can call it at
// start, so that a misfit stops the server there rather than failing
// every logout.
func (s *Store) CheckSchema(ctx context.Context) error {
	var (
		users, idUnique, receipts, receiptsKey bool
		idType, mdType                         *string
	)
	err := s.pool.QueryRow(ctx, schemaSQL, s.names.table.Sanitize(),
		s.names.id, s.names.md, s.names.receipts.Sanitize()).Scan(&users,
		&idType, &mdType, &idUnique, &receipts, &receiptsKey)
	if err != nil {
		return fmt.Errorf("pgstore: check schema: %w", err)
	}

	var misfits []string
	table := s.names.table.Sanitize()
	switch {
	case !users:
		misfits = append(misfits, "table "+table+" does not exist")
	default:
		if idType == nil {
			misfits = append(misfits, fmt.Sprintf("table %s has no "+
				"column %q", table, s.names.id))
		} else if !idUnique {
			misfits = append(misfits, fmt.Sprintf("no unique index of "+
				"%s covers column %q alone", table, s.names.id))
		}
		if mdType == nil {
			misfits = append(misfits, fmt.Sprintf("table %s has no "+
				"column %q", table, s.names.md))
		} else if *mdType != "jsonb" {
			misfits = append(misfits, fmt.Sprintf("column %q of %s is "+
				"%s, not jsonb", s.names.md, table, *mdType))
		}
	}
	rtable := s.names.receipts.Sanitize()
	switch {
	case !receipts:
		misfits = append(misfits, "table "+rtable+" does not exist")
	case !receiptsKey:
		misfits = append(misfits, "no unique index of "+rtable+
			" covers (user_id, receipt)")
	}
	if len(misfits) > 0 {
		return fmt.Errorf("%w: %s", ErrSchema, strings.Join(misfits, "; "))
	}
	return nil
}
