package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
)

// Record is what a [Store] keeps of one session.
type Record struct {
	// ID names the session; it is unique across users.
	ID string

	// UserID is the session's user.
	UserID string

	// Start is when the session began: the last_login_at of its events.
	Start time.Time

	// LastActive is the last activity written for the session.
	LastActive time.Time

	// Ended is when the session ended; zero while it is live.
	Ended time.Time

	// Revoked is when a flow revoked the live session but left a
	// metadata write to retry (Retry set in its flow.Result); zero
	// otherwise. Such a session takes no more activity, and a sweeper,
	// in any process, completes it by running the flow of Completion.
	// Completion is Expire or Revoke: a logout is completed as an
	// expiry, measured up to the logout. (A store that does not keep
	// the two leaves the session to the process that revoked it: should
	// that process stop first, the others take the session's touches,
	// and count them.)
	Revoked    time.Time
	Completion action.Trigger
}

// Query selects live sessions from a [Store]. Its zero value selects
// them all. Filters combine with AND, except IdleBefore and
// StartedBefore: when both are set, a session matching either matches.
type Query struct {
	// ID selects the one session of that ID, when not empty.
	ID string

	// UserID selects that user's sessions, when not empty.
	UserID string

	// IdleBefore selects sessions last active before it, when not zero.
	IdleBefore time.Time

	// StartedBefore selects sessions that began before it, when not
	// zero.
	StartedBefore time.Time

	// After selects sessions whose ID sorts after it, for paging: pass
	// the last ID of the previous page.
	After string

	// Limit caps the records returned; zero or less means no cap.
	Limit int
}

// Store keeps sessions for a [Tracker], and for every process that
// shares it. Implementations are safe for concurrent use.
type Store interface {
	// Put creates the session r, or updates it: LastActive only ever
	// moves forward, Start and UserID stay as first stored, and a
	// non-zero Ended ends it. A session that has ended stays ended: a
	// Put that would change it returns an error wrapping [ErrEnded]
	// (ending it again succeeds). A non-zero Revoked marks the session
	// revoked, with its Completion, as first stored; a Put that would
	// then move LastActive on without ending the session returns an
	// error wrapping [ErrEnded] too. A revoked record whose Completion
	// is neither Expire nor Revoke returns one wrapping [ErrBadInput],
	// and so does a Put for an ID stored with another user.
	Put(ctx context.Context, r Record) error

	// List returns the live sessions q selects, sorted by ID.
	List(ctx context.Context, q Query) ([]Record, error)
}

// Finder is a [Store] that can also read a session that has ended, so
// that a [Tracker] tells a session that ended from one it never knew:
// [Tracker.End] of a session ended by the sweeper, by [Tracker.EndAll]
// or by another process is then a repeat, not an error. [MemStore] is
// one; a store shared by several processes should be one too. A wrapper
// of a store should forward Find, or the tracker cannot see it.
type Finder interface {
	Store

	// Find returns the session of that ID, live or ended (its Ended is
	// then not zero), and whether the store has it: false for a session
	// never stored, or forgotten since it ended.
	Find(ctx context.Context, id string) (Record, bool, error)
}

// Errors of this package, wrapped with context. Test for them with
// [errors.Is].
var (
	// ErrBadInput is returned for a user or session ID that
	// [action.CheckID] refuses by every call but Touch, which refuses
	// an empty ID but reports any other such session as unknown (none
	// can be live: Start refuses it), to stay as cheap as it is; for a
	// trigger
	// that does not end a session, a missing option that is required,
	// or a session ID stored with another user.
	ErrBadInput = errors.New("session: bad input")

	// ErrUnknown is returned for a session that this process and the
	// store do not know as live: never started, or already ended. By
	// [Tracker.End], only for one they do not know at all: never
	// started, or forgotten since it ended; an ended session they know
	// is a repeat, with no error.
	ErrUnknown = errors.New("session: unknown or ended session")

	// ErrEnded is returned for a session known to have ended: a touch
	// after the end never brings it back. A tracker that has forgotten
	// an ended session, and a store that no longer lists it, report it
	// with [ErrUnknown] instead; either way it stays ended.
	ErrEnded = errors.New("session: session has ended")

	// ErrNotMarked is returned, with a result, when a session's flow
	// ended it (counted and revoked: the user is signed out) but the
	// store could not mark it ended; a later sweep marks it.
	ErrNotMarked = errors.New("session: ended, but not marked ended " +
		"in the store")
)

// DefaultRetention is how long a [MemStore] remembers an ended session
// when [MemStoreOptions.Retention] is zero.
const DefaultRetention = 24 * time.Hour

// MemStoreOptions configures a [MemStore]. The zero value means the
// defaults.
type MemStoreOptions struct {
	// Clock dates what is forgotten; nil means the real clock.
	Clock Clock

	// Retention is how long an ended session is remembered, so that a
	// late write cannot bring it back; zero or less means
	// DefaultRetention.
	Retention time.Duration
}

// MemStore is an in-memory [Store], for one auth-server process. It is
// safe for concurrent use.
//
// TODO(logoutflow): List scans every session; an index by last activity
// would make a sweep's pages cheap. A shared store for several replicas
// (PostgreSQL, beside metadata/pgstore) is still to be written.
type MemStore struct {
	clock     Clock
	retention time.Duration

	mu   sync.Mutex
	recs map[string]*Record
}

var _ Finder = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore(opts MemStoreOptions) *MemStore {
	m := &MemStore{
		clock:     opts.Clock,
		retention: opts.Retention,
		recs:      make(map[string]*Record),
	}
	if m.clock == nil {
		m.clock = clock.New()
	}
	if m.retention <= 0 {
		m.retention = DefaultRetention
	}
	return m
}

// Put implements [Store.Put].
func (m *MemStore) Put(ctx context.Context, r Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: put %q: %w", r.ID, err)
	}
	if r.ID == "" || r.UserID == "" {
		return fmt.Errorf("%w: a record needs a session ID and a user ID",
			ErrBadInput)
	}
	if !r.Revoked.IsZero() && r.Completion != action.Expire &&
		r.Completion != action.Revoke {
		return fmt.Errorf("%w: session %q revoked with completion %q, "+
			"want expire or revoke", ErrBadInput, r.ID, r.Completion)
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	// A new session is stored as it is.
	cur, ok := m.recs[r.ID]
	if !ok {
		m.recs[r.ID] = &r
		return nil
	}

	// An existing one belongs to its user, and stays ended once ended.
	if cur.UserID != r.UserID {
		return fmt.Errorf("%w: session %q belongs to another user",
			ErrBadInput, r.ID)
	}
	if !cur.Ended.IsZero() {
		if !r.Ended.IsZero() {
			return nil
		}
		return fmt.Errorf("%w: session %q", ErrEnded, r.ID)
	}

	// A revoked session takes no more activity; its end completes it.
	if !cur.Revoked.IsZero() && r.Ended.IsZero() &&
		r.LastActive.After(cur.LastActive) {
		return fmt.Errorf("%w: session %q was revoked", ErrEnded, r.ID)
	}
	if r.LastActive.After(cur.LastActive) {
		cur.LastActive = r.LastActive
	}
	if cur.Revoked.IsZero() && !r.Revoked.IsZero() {
		cur.Revoked, cur.Completion = r.Revoked, r.Completion
	}
	cur.Ended = r.Ended
	return nil
}

// Find implements [Finder.Find]. An ended session is found until the
// retention period has passed since its end.
func (m *MemStore) Find(ctx context.Context, id string) (Record, bool,
	error) {

	if err := ctx.Err(); err != nil {
		return Record{}, false, fmt.Errorf("session: find %q: %w", id, err)
	}
	forget := m.clock.Now().Add(-m.retention)
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	switch {
	case !ok:
		return Record{}, false, nil
	case !r.Ended.IsZero() && r.Ended.Before(forget):
		delete(m.recs, id)
		return Record{}, false, nil
	}
	return *r, true, nil
}

// List implements [Store.List]. It forgets the ended sessions older than
// the retention period as it goes.
func (m *MemStore) List(ctx context.Context, q Query) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	forget := m.clock.Now().Add(-m.retention)
	m.mu.Lock()
	defer m.mu.Unlock()

	// One session by ID needs no scan.
	if q.ID != "" {
		r, ok := m.recs[q.ID]
		if !ok || !r.Ended.IsZero() || !q.matches(r) {
			return nil, nil
		}
		return []Record{*r}, nil
	}

	// Otherwise scan them all, then sort and cut the page.
	var out []Record
	for id, r := range m.recs {
		if !r.Ended.IsZero() {
			if r.Ended.Before(forget) {
				delete(m.recs, id)
			}
			continue
		}
		if q.matches(r) {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int {
		return strings.Compare(a.ID, b.ID)
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = slices.Clip(out[:q.Limit])
	}
	return out, nil
}

// matches reports whether the live session r matches q.
func (q *Query) matches(r *Record) bool {
	if q.ID != "" && r.ID != q.ID ||
		q.UserID != "" && r.UserID != q.UserID ||
		q.After != "" && r.ID <= q.After {
		return false
	}
	idle := !q.IdleBefore.IsZero() && r.LastActive.Before(q.IdleBefore)
	old := !q.StartedBefore.IsZero() && r.Start.Before(q.StartedBefore)
	if q.IdleBefore.IsZero() && q.StartedBefore.IsZero() {
		return true
	}
	return idle || old
}
