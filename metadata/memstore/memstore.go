// Package memstore keeps app_metadata in memory: the embedded default
// [metadata.Store] of a single auth-server process, and the store tests
// run against.
//
// Each user has a lock of its own, so updates of different users never
// wait for one another. [Store.Update] holds it only to read the stored
// value and to store the new one: the update function runs unlocked, on
// a copy, and runs again when another write of the user landed in
// between. Stored maps are never changed once stored (every write stores
// a new map).
//
// Receipts are kept for a retention period set by [Options.Retention]
// and dated by [Options.Clock]; the memory they take stays bounded by
// the writes of about three periods, those of users who never write
// again included.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/metadata"
)

var (
	_ metadata.ReceiptRecorder = (*Store)(nil)
	_ metadata.BatchRecorder   = (*Store)(nil)
	_ metadata.Viewer          = (*Store)(nil)
	_ metadata.GuardedUpdater  = (*Store)(nil)
)

// DefaultRetention is how long receipts are kept when
// [Options.Retention] is zero.
const DefaultRetention = 24 * time.Hour

// Clock tells the time. Both clocks of github.com/benbjohnson/clock fit.
type Clock interface {
	Now() time.Time
}

// Options configures a [Store]. The zero value means the defaults.
type Options struct {
	// Limits bounds what the store accepts.
	Limits metadata.Limits

	// Clock dates receipts; nil means the real clock.
	Clock Clock

	// Retention is how long a receipt is remembered, from the update
	// that recorded it; zero or less means DefaultRetention. A retried
	// write that arrives later is applied again. The flow records its
	// receipts as a session ends, so set it longer than the latest a
	// repeat or a retry of a logout can arrive after that, whatever the
	// length of the sessions.
	Retention time.Duration
}

// shards spreads users over this many maps, each with its own lock, so
// that looking a user up rarely waits.
const shards = 64

// Store is an in-memory [metadata.Store]. It is safe for concurrent use.
// Create one with [New]; users exist once [Store.Put] has created them.
type Store struct {
	lim       metadata.Limits
	clock     Clock
	retention time.Duration
	seed      maphash.Seed    // of the shards
	rseeds    [2]maphash.Seed // of the receipts' keys
	shards    [shards]shard
}

var _ metadata.Store = (*Store)(nil)

type shard struct {
	mu    sync.RWMutex
	users map[string]*user

	// sweepAt is when, in Unix nanoseconds, the shard's users are next
	// swept of their old receipts; see sweep.
	sweepAt atomic.Int64

	// Each shard has a cache line of its own, so that two cores working
	// on users of neighbouring shards do not pass one line back and
	// forth at every lock.
	_ [64 - 40]byte
}

// user is one user's record, guarded by its own lock.
type user struct {
	mu sync.Mutex

	// data is never changed once stored: a write replaces it whole,
	// and counts one more version. size is its encoded size, which
	// keeps a write from measuring what its patch does not touch.
	data    metadata.Map
	size    int
	version uint64

	receipts receipts
}

// New returns an empty store.
func New(opts Options) *Store {
	s := &Store{
		lim:       opts.Limits,
		clock:     opts.Clock,
		retention: opts.Retention,
		seed:      maphash.MakeSeed(),
		rseeds:    [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
	}
	if s.clock == nil {
		s.clock = clock.New()
	}
	if s.retention <= 0 {
		s.retention = DefaultRetention
	}
	for i := range s.shards {
		s.shards[i].users = make(map[string]*user)
	}
	return s
}

// Put creates the user, or replaces the user's app_metadata whole, with
// m after validating it as a patch (see [metadata.Validate]) and checking
// its size. A nil m creates a user with nothing stored yet. The store
// keeps a copy of m. The user's receipts are kept. A Put for a user who
// exists wipes what updates stored, figures included: call it only for
// a user known to be new. A Get that finds no user, then a Put, is not
// safe where two callers may do it at once.
func (s *Store) Put(ctx context.Context, userID string, m metadata.Map) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: put %q: %w", userID, err)
	}

	// Validate and copy before taking any lock.
	var data metadata.Map
	size := metadata.EncodedSize(nil)
	if m != nil {
		var err error
		data, size, err = metadata.ApplySized(nil, size, m, s.lim)
		if err != nil {
			return fmt.Errorf("memstore: put %q: %w", userID, err)
		}
	}

	// Create the user or take the existing record.
	sh := s.shard(userID)
	sh.mu.Lock()
	u, ok := sh.users[userID]
	if !ok {
		u = &user{data: data, size: size}
		sh.users[userID] = u
	}
	sh.mu.Unlock()
	if ok {
		u.mu.Lock()
		u.data, u.size = data, size
		u.version++
		u.mu.Unlock()
	}
	return nil
}

// Get returns a deep copy of the user's app_metadata, nil when nothing
// is stored yet.
func (s *Store) Get(ctx context.Context, userID string) (metadata.Map, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: get %q: %w", userID, err)
	}
	u := s.lookup(userID)
	if u == nil {
		return nil, fmt.Errorf("%w: %q", metadata.ErrUserNotFound, userID)
	}

	// The stored map is never changed, so it can be copied unlocked.
	u.mu.Lock()
	data := u.data
	u.mu.Unlock()
	return metadata.Clone(data), nil
}

// Update implements [metadata.Store.Update]. It calls fn with no lock
// held, on a copy of the stored map, once when no other write of the
// user lands while fn runs, and again on the fresher value when one
// does. A context that ends before the write is stored makes Update
// return its error, wrapped, and store nothing.
func (s *Store) Update(ctx context.Context, userID, receipt string, fn metadata.UpdateFunc) error {
	return s.write(ctx, userID, receipt, compute{fn: fn})
}

// UpdateView implements [metadata.Viewer]: it is Update with a function
// that reads the stored map in place, through a view, instead of a copy
// of it. Stored maps never change, so the function may read one while
// other writes land.
func (s *Store) UpdateView(ctx context.Context, userID, receipt string,
	fn metadata.ViewFunc) error {
	return s.write(ctx, userID, receipt, compute{view: fn})
}

// UpdateGuarded implements [metadata.GuardedUpdater]: it is UpdateView,
// barred by u.Guard. It checks the guard and the receipt before it calls
// the function, so that a barred or duplicate write calls nothing, and
// again as it stores the value. It has the stored value at hand, and
// does not look at u.Expect.
func (s *Store) UpdateGuarded(ctx context.Context,
	u metadata.GuardedUpdate) error {
	return s.write(ctx, u.UserID, u.Receipt,
		compute{view: u.Fn, guard: u.Guard})
}

// compute is the function of a write: fn, given a copy of the stored
// value, or view, given a view of it; neither writes nothing. guard,
// when set, is a receipt that bars the write.
type compute struct {
	fn    metadata.UpdateFunc
	view  metadata.ViewFunc
	guard string
}

// patch returns the patch of the write on stored.
func (c compute) patch(stored metadata.Map) (metadata.Map, error) {
	switch {
	case c.fn != nil:
		return c.fn(metadata.Clone(stored))
	case c.view != nil:
		return c.view(metadata.ViewOf(stored))
	}
	return nil, nil
}

// writable returns the user's shard and record for a write named op,
// or the error of a context that has ended or of an unknown user.
func (s *Store) writable(ctx context.Context, op, userID string) (*shard,
	*user, error) {

	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("memstore: %s %q: %w", op, userID, err)
	}
	sh := s.shard(userID)
	u := sh.lookup(userID)
	if u == nil {
		return nil, nil, fmt.Errorf("%w: %q", metadata.ErrUserNotFound,
			userID)
	}
	return sh, u, nil
}

// write is Update and UpdateView.
func (s *Store) write(ctx context.Context, userID, receipt string, c compute) error {
	sh, u, err := s.writable(ctx, "update", userID)
	if err != nil {
		return err
	}
	now := s.clock.Now().UnixNano()
	err = s.update(ctx, u, userID, receipt, c, now)

	// Once a retention period, forget the old receipts of the shard's
	// users, those who never write again too. The user's lock is free
	// by now: a sweep takes the shard's lock, then each user's.
	if receipt != "" && err == nil {
		s.sweep(sh, now)
	}
	return err
}

// RecordReceipt implements [metadata.ReceiptRecorder]: it records the
// receipt as an Update whose function returns no patch would, in one
// locked step that reads nothing of the stored value.
func (s *Store) RecordReceipt(ctx context.Context, userID, receipt string) error {
	sh, u, err := s.writable(ctx, "record", userID)
	if err != nil {
		return err
	}
	if receipt == "" {
		return nil
	}
	key, now := s.keyOf(receipt), s.clock.Now().UnixNano()
	u.mu.Lock()
	recorded := u.receipts.add(key, now, s.retention)
	u.mu.Unlock()
	if !recorded {
		return duplicate(userID, receipt)
	}
	s.sweep(sh, now)
	return nil
}

// RecordReceipts implements [metadata.BatchRecorder]: it records each
// receipt as RecordReceipt does. A context that ends stops it: the
// receipts not yet recorded get the context's error.
func (s *Store) RecordReceipts(ctx context.Context,
	rs []metadata.UserReceipt) []error {

	errs := make([]error, len(rs))
	for i, r := range rs {
		errs[i] = s.RecordReceipt(ctx, r.UserID, r.Receipt)
	}
	return errs
}

// duplicate returns the error of a write whose receipt counts already.
func duplicate(userID, receipt string) error {
	return fmt.Errorf("%w: user %q, receipt %q", metadata.ErrDuplicate,
		userID, receipt)
}

// update is write for the user's record u.
//
// The function runs with no lock held, on a copy of the stored value or
// a view of it: a slow or stuck function holds up no other write of the
// user, and one that changes what it is given changes nothing stored.
// The write then lands only if no other write landed meanwhile; if one
// did, the function runs again on the fresher value, as
// [metadata.UpdateFunc] allows. The guard, if any, and the receipt are
// checked before the function runs, so that a barred write or a
// duplicate calls nothing, and again as the receipt is recorded with the
// value: RecordReceipt may have recorded either meanwhile.
func (s *Store) update(ctx context.Context, u *user, userID, receipt string,
	c compute, now int64) error {

	var key, guard receiptKey
	if receipt != "" {
		key = s.keyOf(receipt)
	}
	if c.guard != "" {
		guard = s.keyOf(c.guard)
	}
	for {
		// Read the value, unless the guard bars the write or the
		// receipt says it was applied already.
		u.mu.Lock()
		switch {
		case c.guard != "" && u.receipts.has(guard, now, s.retention):
			u.mu.Unlock()
			return barredBy(userID, c.guard)
		case receipt != "" && u.receipts.has(key, now, s.retention):
			u.mu.Unlock()
			return duplicate(userID, receipt)
		}
		stored, size, version := u.data, u.size, u.version
		u.mu.Unlock()

		// Compute and check the new value; the function's error goes
		// back as it is.
		patch, err := c.patch(stored)
		if err != nil {
			return err
		}
		data := stored
		if len(patch) > 0 {
			data, size, err = metadata.ApplySized(stored, size, patch,
				s.lim)
			if err != nil {
				return fmt.Errorf("memstore: update %q: %w", userID, err)
			}
		}

		// The caller may have given up while fn ran: then store nothing.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memstore: update %q: %w", userID, err)
		}

		// Store the value and its receipt in one locked step, unless
		// another write got there first: then compute again.
		u.mu.Lock()
		if u.version != version {
			u.mu.Unlock()
			continue
		}
		if c.guard != "" && u.receipts.has(guard, now, s.retention) {
			u.mu.Unlock()
			return barredBy(userID, c.guard)
		}
		if receipt != "" && !u.receipts.add(key, now, s.retention) {
			u.mu.Unlock()
			return duplicate(userID, receipt)
		}
		u.data, u.size = data, size
		u.version++
		u.mu.Unlock()
		return nil
	}
}

// barredBy returns the error of a write that the user's guard bars.
func barredBy(userID, guard string) error {
	return fmt.Errorf("%w: user %q, guard %q", metadata.ErrBarred, userID,
		guard)
}

// sweep drops the receipts older than the retention period of every
// user of sh, when its time has come: once a period at most, the first
// write of the period paying for it. A receipt so stays in memory three
// periods at most, whether its user writes again or not, as long as
// writes with receipts reach the shard (a shard that gets none holds no
// more than it held).
func (s *Store) sweep(sh *shard, now int64) {
	at := sh.sweepAt.Load()
	if now < at || !sh.sweepAt.CompareAndSwap(at, now+int64(s.retention)) {
		return
	}
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for _, u := range sh.users {
		u.mu.Lock()
		u.receipts.rotate(now, s.retention)
		u.mu.Unlock()
	}
}

// HasReceipt implements [metadata.Store.HasReceipt]. A receipt older than
// the retention period is reported as absent. An unknown user has no
// receipts.
func (s *Store) HasReceipt(ctx context.Context, userID, receipt string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memstore: receipt of %q: %w", userID, err)
	}
	u := s.lookup(userID)
	if u == nil || receipt == "" {
		return false, nil
	}
	key, now := s.keyOf(receipt), s.clock.Now().UnixNano()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.receipts.has(key, now, s.retention), nil
}

func (s *Store) shard(userID string) *shard {
	return &s.shards[maphash.String(s.seed, userID)%shards]
}

// lookup returns the user's record, or nil.
func (s *Store) lookup(userID string) *user {
	return s.shard(userID).lookup(userID)
}

// lookup returns the user's record, or nil.
func (sh *shard) lookup(userID string) *user {
	sh.mu.RLock()
	u := sh.users[userID]
	sh.mu.RUnlock()
	return u
}
