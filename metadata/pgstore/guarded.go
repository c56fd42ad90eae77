package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/metadata"
)

var _ metadata.GuardedUpdater = (*Store)(nil)

// guardedTries is how many statements of guardedSQL an attempt of
// UpdateGuarded sends before it takes the locked path: one on the
// caller's guess, and one on each value a statement found instead.
const guardedTries = 3

// UpdateGuarded implements [metadata.GuardedUpdater]. It computes the
// patch from u.Expect and sends one statement that writes it with its
// receipt only if the stored value is still u.Expect, and neither the
// guard nor the receipt counts: a logout whose event carries the user's
// app_metadata as stored costs one round trip. When the value differs,
// the same statement returns the stored one, from which the patch is
// computed again and sent again. After guardedTries statements, or for
// a patch that writes nothing, it takes the locked path of
// [Store.Update], the guard checked in its transaction. An empty
// u.Expect guesses nothing stored (SQL NULL, JSON null or an empty
// object); a nil one is no guess: the store then reads the guard and
// the user's value first, as [Store.HasReceipt] does, and writes on
// that read as Update does, two round trips.
//
// u.Fn may so run on u.Expect, a guess: its error, or a patch that the
// guess would refuse, is then not returned, but computed again from the
// stored value. What it returns on a value that the database then shows
// stored is what counts, as for Update. The stored value must be the
// guess to the text, as jsonb writes both (keys in its order, its
// spaces): a number stored as 1.0 is not a guess of 1, since the two do
// not measure alike against [metadata.Limits]. A guess holding a number
// that JSON writes with an exponent (1e21, 1e-7), a -0, or a value of a
// type that encodes as something else (a time, a struct), or larger than
// the size limit, is no guess: the first statement only reads. One that
// PostgreSQL refuses (a NUL in a string, a number beyond its numeric)
// costs that statement, then is no guess either: a guess never makes a
// write fail.
//
// Like Update, it runs again after a serialization failure or a
// deadlock, and after a lost connection where that is safe; a guard or a
// receipt that PostgreSQL's text cannot hold is never recorded, and bars
// nothing.
func (s *Store) UpdateGuarded(ctx context.Context,
	u metadata.GuardedUpdate) error {

	if err := checkText(u.UserID, u.Receipt); err != nil {
		return err
	}
	if !pgText(u.Guard) {
		u.Guard = ""
	}
	if u.Fn == nil {
		u.Fn = func(metadata.View) (metadata.Map, error) { return nil, nil }
	}

	if u.Expect == nil {
		return s.updateUnguessed(ctx, u)
	}

	// The guess, as the statement compares it. One larger than a value
	// may be is none.
	var g guess
	doc, err := json.Marshal(u.Expect)
	g.doc, g.known = doc, err == nil && len(doc) <= s.maxBytes() &&
		plainNumbers(u.Expect, 0)
	return attempts(ctx, "update", u.UserID, func() error {
		return s.updateGuarded(ctx, u, g)
	})
}

// maxBytes is the size limit of the store's values.
func (s *Store) maxBytes() int {
	if s.lim.MaxBytes <= 0 {
		return metadata.DefaultMaxBytes
	}
	return s.lim.MaxBytes
}

// guess is the value an attempt of UpdateGuarded computes its first
// patch from, as JSON; none when known is false.
type guess struct {
	doc   []byte
	known bool
}

// updateUnguessed is UpdateGuarded without a guess: the read that
// HasReceipt makes for the guard, then Update, which writes on the hint
// that read left in one statement. The guard is checked again on the
// locked path, if the update takes it.
func (s *Store) updateUnguessed(ctx context.Context,
	u metadata.GuardedUpdate) error {

	if u.Guard != "" {
		barred, err := s.hasReceipt(ctx, u.UserID, u.Guard)
		if err != nil {
			return fmt.Errorf("pgstore: update %q: %w", u.UserID, err)
		}
		if barred {
			return barredBy(u.UserID, u.Guard)
		}
	}
	return attempts(ctx, "update", u.UserID, func() error {
		return s.update(ctx, u.UserID, u.Receipt, u.Guard, onMap(u.Fn))
	})
}

// plainNumbers reports whether v, a value of app_metadata at depth,
// holds only numbers that JSON encodes as PostgreSQL writes them back
// (digits, a fraction, a sign; no exponent, no -0) and only types that
// encode as themselves. A guess that the statement finds stored, to the
// text, then measures as the stored value does: the store checks the
// size of the merge on the guess. Any other guess is none.
func plainNumbers(v any, depth int) bool {
	if depth > metadata.MaxDepth {
		return false
	}
	switch v := v.(type) {
	case nil, bool, string, int, int8, int16, int32, int64, uint, uint8,
		uint16, uint32, uint64:
		return true
	case float64:
		return plainFloat(v, 1e21)
	case float32:
		return plainFloat(float64(v), float64(float32(1e21)))
	case json.Number:
		return plainDecimal(string(v))
	case metadata.Map:
		return plainMap(v, depth)
	case map[string]any:
		return plainMap(v, depth)
	case []any:
		for _, e := range v {
			if !plainNumbers(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// plainMap is plainNumbers for a map.
func plainMap[M ~map[string]any](m M, depth int) bool {
	for _, e := range m {
		if !plainNumbers(e, depth+1) {
			return false
		}
	}
	return true
}

// plainFloat reports whether encoding/json writes f without an
// exponent (it uses one below 1e-6 and from max on) and not as -0.
func plainFloat(f, max float64) bool {
	a := math.Abs(f)
	if a == 0 {
		return !math.Signbit(f)
	}
	return a >= 1e-6 && a < max
}

// plainDecimal reports whether s is an optional '-', digits without a
// leading zero, and an optional fraction, and not a negative zero.
func plainDecimal(s string) bool {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	switch {
	case whole == "", strings.Trim(whole, "0123456789") != "",
		len(whole) > 1 && whole[0] == '0',
		dot && (frac == "" || strings.Trim(frac, "0123456789") != ""):
		return false
	}
	return !neg || strings.Trim(whole+frac, "0") != ""
}

// updateGuarded is one attempt of UpdateGuarded: the statements of
// guardedSQL, then, if none settled the update, the locked path.
func (s *Store) updateGuarded(ctx context.Context, u metadata.GuardedUpdate,
	g guess) error {

	if done, err := s.tryGuarded(ctx, u, g); done {
		return err
	}
	return s.locked(ctx, u.UserID, u.Receipt, u.Guard, onMap(u.Fn))
}

// onMap returns fn as the function of an update, which reads the
// stored value as a map.
func onMap(fn metadata.ViewFunc) metadata.UpdateFunc {
	return func(cur metadata.Map) (metadata.Map, error) {
		return fn(metadata.ViewOf(cur))
	}
}

// tryGuarded sends the statements of guardedSQL, guardedTries at most,
// on a connection it holds until it returns. It reports done false when
// the update must take the locked path: its patch writes nothing, or the
// value keeps changing, or a receipt was recorded meanwhile.
func (s *Store) tryGuarded(ctx context.Context, u metadata.GuardedUpdate,
	g guess) (done bool, err error) {

	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return true, fmt.Errorf("pgstore: update %q: %w", u.UserID, err)
	}
	defer conn.Release()

	// The first value is the caller's guess, which the function reads
	// as it is (it encodes as doc); each later one is what the last
	// statement found stored.
	doc, known, fresh := g.doc, g.known, false
	cur := u.Expect
	for range guardedTries {
		// Compute the patch. What fails on a guess is asked again of the
		// stored value; what fails on the stored value is the answer.
		var patch metadata.Map
		if known {
			patch, err = s.patchOf(u, cur)
			switch {
			case err != nil && fresh:
				return true, err
			case err != nil:
				known = false
			case len(patch) == 0:
				// A write of nothing records its receipt asynchronously
				// on the locked path.
				return false, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return true, fmt.Errorf("pgstore: update %q: %w", u.UserID, err)
		}

		// Write it, or read what is stored, in one round trip.
		res, err := s.sendGuarded(ctx, conn, u, doc, known,
			known && !fresh, patch)
		switch {
		case errors.Is(err, errLock):
			return false, nil
		case errors.Is(err, errNoGuess):
			known = false
			continue
		case err != nil:
			return true, err
		case !res.found:
			return true, fmt.Errorf("%w: %q", metadata.ErrUserNotFound,
				u.UserID)
		case res.ended:
			return true, barredBy(u.UserID, u.Guard)
		case res.dup:
			return true, duplicate(u.UserID, u.Receipt)
		case res.wrote:
			s.hints.recorded(u.UserID, u.Receipt, res.doc)
			return true, nil
		case known && fresh && string(res.doc) == string(doc):
			// The value has not changed since the last statement read
			// it, yet the write did not apply: a write under way when
			// the statement started has changed it since.
			return false, nil
		}
		doc, known, fresh = res.doc, true, true
		if cur, err = decode(doc); err != nil {
			return true, fmt.Errorf("pgstore: update %q: %w", u.UserID, err)
		}
	}
	return false, nil
}

// patchOf returns the patch that u.Fn computes from cur, checked as
// Update checks it; the function's own error is returned unchanged.
func (s *Store) patchOf(u metadata.GuardedUpdate,
	cur metadata.Map) (metadata.Map, error) {

	patch, err := u.Fn(metadata.ViewOf(cur))
	if err != nil {
		return nil, err
	}
	return patch, s.check(u.UserID, cur, patch)
}

// guardedResult is what one statement of guardedSQL found: whether the
// user exists, the guard and the receipt count, and it wrote; the
// merged value if it wrote, else the stored one.
type guardedResult struct {
	found, ended, dup, wrote bool
	doc                      []byte
}

// sendGuarded sends one statement of guardedSQL: the write of patch if
// known and the stored value is doc, else a read. A receipt recorded
// since the statement's snapshot (or an expired one) fails the write on
// the unique key: the locked path then decides.
func (s *Store) sendGuarded(ctx context.Context, conn *pgxpool.Conn,
	u metadata.GuardedUpdate, doc []byte, known, guessed bool,
	patch metadata.Map) (guardedResult, error) {

	var set []byte
	del := []string{}
	if known {
		var err error
		if set, del, err = split(patch); err != nil {
			return guardedResult{}, fmt.Errorf("pgstore: update %q: %w: %w",
				u.UserID, metadata.ErrInvalidPatch, err)
		}
	} else {
		doc = nil // a value the statement does not compare is not sent
	}
	now := s.clock.Now()
	var res guardedResult
	err := conn.QueryRow(ctx, s.sql.guarded, u.UserID, u.Receipt, now,
		doc, u.UserID, set, del, u.Guard, now.Add(-s.retention),
		known).Scan(&res.found, &res.ended, &res.dup, &res.wrote, &res.doc)

	if err := s.lostErr(ctx, conn, u.UserID, u.Receipt, err); err != nil {
		return res, err
	}
	switch {
	case guessed && strings.HasPrefix(sqlState(err), codeDataClass):
		// PostgreSQL cannot take the guess (a NUL in a string, a number
		// beyond its numeric): the guess is none. The patch and the ID
		// may raise these too: the read that follows tells.
		return res, errNoGuess
	case sqlState(err) == codeUnique:
		return res, errLock
	case badID(err):
		return res, fmt.Errorf("%w: %q", metadata.ErrUserNotFound, u.UserID)
	case err != nil:
		return res, s.fail(u.UserID, err)
	}
	return res, nil
}

// Errors that tell tryGuarded what to do next: errLock, take the locked
// path; errNoGuess, ask for the stored value, PostgreSQL having refused
// the guess.
var (
	errLock    = errors.New("pgstore: the guarded write takes the lock")
	errNoGuess = errors.New("pgstore: PostgreSQL refused the guess")
)
