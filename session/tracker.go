package session

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
)

// DefaultInterval is how often a busy session's activity is written to
// the store when [Options.Interval] is zero.
const DefaultInterval = time.Minute

// Clock tells the time. Both clocks of github.com/benbjohnson/clock fit;
// a [Sweeper] also uses their Ticker.
type Clock interface {
	Now() time.Time
}

// Runner runs the published flow of an event's trigger; *[flow.Runner]
// is one.
type Runner interface {
	Run(ctx context.Context, ev *action.Event) (*flow.Result, error)
}

// Attribute keys of the records this package logs.
const (
	LogKeyUserID    = "user_id"
	LogKeySessionID = "session_id"
	LogKeyTrigger   = "trigger"
	LogKeyError     = "error"
	LogKeyBatches   = "batches"
	LogKeyExpired   = "expired"
	LogKeyFailed    = "failed"
)

// Options configures a [Tracker]. The zero value of each field means its
// default, but Runner is required.
type Options struct {
	// Runner runs the session-end flows. Required.
	Runner Runner

	// Store keeps the sessions; nil means a new [MemStore] on Clock.
	Store Store

	// Clock gives now; nil means the real clock.
	Clock Clock

	// Interval is the most often a session's activity is written to the
	// store: touches in between only update the tracker's memory. Zero
	// means DefaultInterval; a negative value writes every touch.
	Interval time.Duration

	// Logger receives the tracker's logs; nil is silent.
	Logger *slog.Logger
}

// Tracker follows the sessions of one auth-server process, from
// [Tracker.Start] through each request's [Tracker.Touch] to
// [Tracker.End], and ends them through the session-end flows. It is safe
// for concurrent use.
//
// The tracker keeps each session it has seen in memory, and writes a
// session's activity to the store at most once per interval; a [Sweeper]
// reads the store to find the idle ones. Activity is exact (to the
// millisecond) in the process that saw it, and at most one interval
// stale in the others.
type Tracker struct {
	runner   Runner
	store    Store
	clock    Clock
	interval int64 // nanoseconds
	logger   *slog.Logger

	seed   maphash.Seed
	shards [shards]shard
}

// shards spreads sessions over this many maps, each with its own lock,
// so that touches rarely wait for one another.
const shards = 64

type shard struct {
	mu sync.RWMutex
	m  map[string]*entry
	_  [32]byte // keeps neighbouring locks off one cache line
}

// entry is a live session in memory. Times are Unix nanoseconds.
type entry struct {
	id, userID string
	start      int64

	active  atomic.Int64 // last activity seen here
	written atomic.Int64 // last activity written, or being written
	ended   atomic.Bool

	// retry is set when a flow revoked the session but left its end
	// unrecorded (flow.Result Retry), to the trigger whose flow the
	// sweeper runs again: that flow's, or Expire for a logout. Until
	// then the session is revoked: no touch moves its activity on.
	retry atomic.Pointer[action.Trigger]
}

// revoked reports whether a flow revoked the session, leaving a write to
// retry.
func (e *entry) revoked() bool { return e.retry.Load() != nil }

// BUG(logoutflow): A session ended by a flow run straight through the
// [flow.Runner], not through [Tracker.End], stays live in the tracker and
// its store until the sweeper expires it; that expiry is a repeat and
// counts nothing, but touches until then still succeed.

// BUG(logoutflow): An expiry measured in one process sees another
// process's activity only as of its last store write: the duration may
// fall short by up to [Options.Interval].

// TODO(logoutflow): Touch of a session unknown to this process reads the
// store every time; a short negative cache would spare the store a storm
// of requests on an ended session.

// NewTracker returns a tracker with no session. It returns an error
// wrapping [ErrBadInput] when Runner is missing.
func NewTracker(opts Options) (*Tracker, error) {
	if opts.Runner == nil {
		return nil, fmt.Errorf("%w: no runner", ErrBadInput)
	}
	t := &Tracker{
		runner: opts.Runner,
		store:  opts.Store,
		clock:  opts.Clock,
		logger: opts.Logger,
		seed:   maphash.MakeSeed(),
	}
	if t.clock == nil {
		t.clock = clock.New()
	}
	if t.store == nil {
		t.store = NewMemStore(MemStoreOptions{Clock: t.clock})
	}
	switch {
	case opts.Interval == 0:
		t.interval = int64(DefaultInterval)
	case opts.Interval > 0:
		t.interval = int64(opts.Interval)
	}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*entry)
	}
	return t, nil
}

// Store returns the tracker's store.
func (t *Tracker) Store() Store { return t.store }

// Start records a new session of the user, begun now, and writes it to
// the store. Starting a session again for the same user changes nothing;
// starting one that has ended returns an error wrapping [ErrEnded].
func (t *Tracker) Start(ctx context.Context, userID, sessionID string) error {
	if err := checkIDs(userID, sessionID); err != nil {
		return err
	}
	if e := t.lookup(sessionID); e != nil {
		switch {
		case e.userID != userID:
			return fmt.Errorf("%w: session %q belongs to another user",
				ErrBadInput, sessionID)
		case e.ended.Load(), e.revoked():
			return fmt.Errorf("%w: %q", ErrEnded, sessionID)
		}
		return nil
	}

	// Store it first: a session the store refuses is not tracked.
	now := t.clock.Now()
	rec := Record{ID: sessionID, UserID: userID, Start: now,
		LastActive: now}
	if err := t.store.Put(ctx, rec); err != nil {
		return fmt.Errorf("session: starting %q: %w", sessionID, err)
	}
	t.adopt(rec)
	return nil
}

// Touch reports activity on the session, now. It is cheap enough for
// every request: it updates the tracker's memory, and writes to the
// store only when the last write is an interval old. A session unknown
// to this process (started by another, or before a restart) is read
// from the store once.
//
// A touch after the session ended changes nothing and returns an error
// wrapping [ErrEnded] or [ErrUnknown]; so does a touch of a session
// never started. Such a touch reads the store each time (a negative
// cache is still to be written): a storm of requests with a stale or
// forged cookie is a storm of store reads. A failed write returns its
// error; the next touch tries again.
func (t *Tracker) Touch(ctx context.Context, sessionID string) error {
	e := t.lookup(sessionID)
	if e == nil {
		var err error
		if e, err = t.load(ctx, sessionID); err != nil {
			return err
		}
	}
	if e.ended.Load() || e.revoked() {
		return fmt.Errorf("%w: %q", ErrEnded, sessionID)
	}

	// Remember the activity, to the millisecond (durations count whole
	// seconds); write it when the last write is old enough and no other
	// touch is writing it.
	now := t.clock.Now().UnixNano()
	if now-e.active.Load() >= int64(time.Millisecond) {
		raise(&e.active, now)
	}
	last := e.written.Load()
	if now-last < t.interval || !e.written.CompareAndSwap(last, now) {
		return nil
	}
	return t.write(ctx, e, last, now)
}

// write stores the activity at now; on failure it restores the write
// time last, so that the next touch tries again.
func (t *Tracker) write(ctx context.Context, e *entry, last, now int64) error {
	err := t.store.Put(ctx, e.record(now))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrEnded):
		// Another process ended it: forget it here too.
		t.forget(e)
		return fmt.Errorf("session: touch %q: %w", e.id, err)
	}
	e.written.CompareAndSwap(now, last)
	t.log(ctx, slog.LevelWarn, "session: cannot write activity", e,
		slog.Any(LogKeyError, err))
	return fmt.Errorf("session: touch %q: %w", e.id, err)
}

// Event returns the event of the session's end by trigger, as
// [Tracker.End] runs it: the user, the session's start as last_login_at
// and created_at, and its last activity as last_active_at, the later of
// this process's and the store's. A server that detects expiry itself
// runs it through its own [flow.Runner], or calls End. For a session a
// flow revoked but left to retry, it is the event that completes it, of
// the trigger End would run, whatever trigger is asked for.
func (t *Tracker) Event(ctx context.Context, sessionID string,
	trigger action.Trigger) (*action.Event, error) {

	if !trigger.EndsSession() {
		return nil, fmt.Errorf("%w: trigger %q does not end a session",
			ErrBadInput, trigger)
	}
	if err := action.CheckID(sessionID); err != nil {
		return nil, fmt.Errorf("%w: session ID: %w", ErrBadInput, err)
	}
	e, err := t.current(ctx, sessionID)
	if err != nil {
		return nil, err
	}

	// A session left to retry is completed by its own trigger, as End
	// would complete it.
	if again := e.retry.Load(); again != nil {
		trigger = *again
	}
	return e.event(trigger), nil
}

// End ends the session by trigger (one of [action.SessionEnds]): it runs
// the trigger's flow, which counts the session and revokes it, then
// marks the session ended here and in the store, so that no touch brings
// it back. It returns the flow's result.
//
// A session that has already ended runs nothing: End returns a result
// with [flow.Result] Repeat set, and no error. That holds whatever ended
// it, as long as the tracker or its store knows: an earlier End, the
// sweeper, [Tracker.EndAll] or another process sharing the store (the
// store must be a [Finder] for what it alone knows; [MemStore] is one,
// and remembers an ended session for its retention period), a logout
// sent straight to the runner (the runner then says it is a repeat). A
// logout clicked in a tab left open after the session expired is such a
// repeat: the user is signed out.
//
// End never returns a nil result with a nil error. Its errors, and what
// each means for the user:
//
//   - [ErrBadInput] (a trigger that ends no session, an empty ID), nil
//     result: nothing ran.
//   - [ErrUnknown], nil result: neither this process nor the store knows
//     the session as live or as ended: it was never started here, or it
//     ended long enough ago to be forgotten (past the store's retention,
//     or in a store that is not a [Finder]). The session is not live:
//     treat the user as signed out, and drop the auth server's own
//     session. If the auth server does hold it as live (it never called
//     [Tracker.Start]), it was not counted: run the flow through the
//     runner with an event it builds, as for a server without a tracker.
//   - the store's error, nil result, when it could not be read for a
//     session this process does not hold: nothing ran, and the session
//     may be live: the user is not signed out; try again.
//   - [flow.ErrNoFlow] (no flow published for trigger: a configuration
//     error) or [flow.ErrBadEvent], nil result: nothing ran; the user is
//     not signed out.
//   - any other error of the flow run ([flow.ErrRevoke], [flow.ErrPanic],
//     the error of ctx when it ended), with the run's result (never nil
//     from a *flow.Runner): the flow did not revoke the session, which
//     stays live: the user is not signed out. End can be called again;
//     it counts once. (A session that an earlier End revoked, leaving a
//     write to retry, stays revoked whatever this run did: the user was
//     signed out then, and the next sweep completes it.)
//   - [ErrNotMarked], with the flow's result: the session was counted and
//     revoked (the user is signed out), but the store could not mark it
//     ended; a later sweep finds it, runs nothing, and marks it. Test for
//     it first: the store's error it wraps may be ctx's.
//
// When the flow revoked the session but a metadata write failed in a way
// that may pass ([flow.Result] Retry), End returns the result and no
// error: the user is signed out, the session is kept revoked here and in
// the store (when the store cannot keep it so, a warning is logged and
// only this process knows: should it stop before completing it, other
// processes take the session's touches, which then count),
// and the sweeper's next sweep runs a flow again, which applies the
// write, once (see [SweepReport.Completed]). An End of such a session
// before that sweep completes it the same way, whatever its trigger:
// by the flow the sweep would run, measured as the first End was.
func (t *Tracker) End(ctx context.Context, sessionID string,
	trigger action.Trigger) (*flow.Result, error) {

	if !trigger.EndsSession() {
		return nil, fmt.Errorf("%w: trigger %q does not end a session",
			ErrBadInput, trigger)
	}
	if err := action.CheckID(sessionID); err != nil {
		return nil, fmt.Errorf("%w: session ID: %w", ErrBadInput, err)
	}
	if sessionID == "" {
		return nil, fmt.Errorf("%w: empty session ID", ErrBadInput)
	}
	e, ended, err := t.toEnd(ctx, sessionID)
	switch {
	case err != nil:
		return nil, err
	case ended:
		return &flow.Result{Trigger: trigger, Repeat: true}, nil
	}
	return t.end(ctx, e, trigger)
}

// toEnd returns the session to end, with the freshest activity of memory
// and the store, or reports that it has ended. It returns an error
// wrapping [ErrUnknown] for a session that neither memory nor the store
// knows, and the store's error when the store cannot tell and memory
// does not hold the session.
func (t *Tracker) toEnd(ctx context.Context,
	sessionID string) (e *entry, ended bool, err error) {

	// An end under way, or one the store missed, is known here.
	e = t.lookup(sessionID)
	if e != nil && e.ended.Load() {
		return nil, true, nil
	}
	recs, err := t.store.List(ctx, Query{ID: sessionID})
	switch {
	case err != nil && e != nil:
		t.log(ctx, slog.LevelWarn, "session: cannot read the session; "+
			"using this process's activity", e, slog.Any(LogKeyError, err))
		return e, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("session: reading %q: %w", sessionID,
			err)
	case len(recs) > 0:
		return t.adopt(recs[0]), false, nil
	}

	// Not live in the store: ended (here, by another process, or by a
	// sweep racing this End), or never known.
	found, ferr := t.hasEnded(ctx, sessionID)
	switch {
	case found:
		if e != nil {
			t.forget(e)
		}
		return nil, true, nil
	case e != nil:
		// This process saw it live, but the store cannot say it ended:
		// run its flow, and the runner tells whether it had ended.
		return e, false, nil
	case ferr != nil:
		return nil, false, fmt.Errorf("%w: %q (cannot tell whether it "+
			"ended: %w)", ErrUnknown, sessionID, ferr)
	}
	return nil, false, fmt.Errorf("%w: %q", ErrUnknown, sessionID)
}

// hasEnded reports whether the store knows the session as ended. A store
// that is not a [Finder] cannot tell.
func (t *Tracker) hasEnded(ctx context.Context, sessionID string) (bool,
	error) {

	f, ok := t.store.(Finder)
	if !ok {
		return false, nil
	}
	r, found, err := f.Find(ctx, sessionID)
	if err != nil {
		return false, fmt.Errorf("session: finding %q: %w", sessionID, err)
	}
	return found && !r.Ended.IsZero(), nil
}

// EndAll ends every live session of the user by trigger, as
// [Tracker.End] does for each: Revoke for "sign out everywhere" or an
// administrator's revocation. It returns how many it ended (not those
// another run had ended already, nor those whose flow revoked them but
// left a metadata write to retry, which the next sweep completes), and
// the errors of those that did not end, joined. Sessions are read from
// the store, so those of other processes end too. For "sign out
// everywhere", end the session the user clicked from by [action.Logout]
// first: it is a sign-out.
//
// When no flow is published for trigger, no session can end: EndAll
// stops at the first and returns an error wrapping [flow.ErrNoFlow].
func (t *Tracker) EndAll(ctx context.Context, userID string,
	trigger action.Trigger) (int, error) {

	if err := action.CheckID(userID); err != nil {
		return 0, fmt.Errorf("%w: EndAll: user ID: %w", ErrBadInput, err)
	}
	if !trigger.EndsSession() {
		return 0, fmt.Errorf("%w: trigger %q does not end a session",
			ErrBadInput, trigger)
	}
	recs, err := t.store.List(ctx, Query{UserID: userID})
	if err != nil {
		return 0, fmt.Errorf("session: listing the sessions of a user: %w",
			err)
	}

	// End each on its own: one failure does not keep the others live.
	// A missing flow is no failure of one session: none can end.
	var ended int
	var errs []error
	for _, r := range recs {
		res, err := t.end(ctx, t.adopt(r), trigger)
		switch {
		case errors.Is(err, flow.ErrNoFlow):
			errs = append(errs, err)
			return ended, errors.Join(errs...)
		case err != nil:
			errs = append(errs, err)
			continue
		case res != nil && (res.Repeat || res.Retry):
			// Ended already, by another run, or revoked with its end
			// left to retry: not ended by this call.
			continue
		}
		ended++
	}
	return ended, errors.Join(errs...)
}

// end runs the flow of trigger for e and marks it ended. It never
// returns a nil result with a nil error.
func (t *Tracker) end(ctx context.Context, e *entry,
	trigger action.Trigger) (*flow.Result, error) {

	// A session revoked with a write left to retry has ended already:
	// this run completes that end, whatever ends it now, as the sweeper
	// would, measured as it was, not up to now.
	if again := e.retry.Load(); again != nil {
		trigger = *again
	}

	// Run the flow: it counts the session once and revokes it.
	res, err := t.runner.Run(ctx, e.event(trigger))
	switch {
	case err != nil:
		return res, fmt.Errorf("session: ending %q by %s: %w", e.id,
			trigger, err)
	case res == nil:
		// Only a Runner other than *flow.Runner can say nothing.
		return nil, fmt.Errorf("session: ending %q by %s: the runner "+
			"returned no result and no error", e.id, trigger)
	}

	// A figures write that may pass left the session's end unrecorded:
	// keep the session live, so that the sweeper runs its flow again
	// and counts it. It was revoked, so no request touches it.
	if res.Retry {
		// A logout is the session's last use; its flow, run again later,
		// would measure up to then: run the expiry's instead, which
		// measures up to the last activity.
		again := trigger
		if trigger == action.Logout {
			again = action.Expire
			raise(&e.active, t.clock.Now().UnixNano())
		}
		e.retry.CompareAndSwap(nil, &again)
		t.log(ctx, slog.LevelWarn, "session: revoked, but a metadata "+
			"write failed; kept for the sweeper to complete", e,
			slog.String(LogKeyTrigger, string(trigger)))

		// Tell the store, so that every process refuses its touches
		// and any sweeper can complete it.
		rec := e.record(e.active.Load())
		rec.Revoked, rec.Completion = t.clock.Now(), *e.retry.Load()
		if err := t.store.Put(ctx, rec); err != nil {
			t.log(ctx, slog.LevelWarn, "session: cannot mark it revoked "+
				"in the store; only this process will complete it", e,
				slog.Any(LogKeyError, err))
		}
		return res, nil
	}

	// The session has ended: no touch brings it back, here or in the
	// store. Until the store knows, memory keeps it as ended.
	e.ended.Store(true)
	rec := e.record(e.active.Load())
	rec.Ended = t.clock.Now()
	if err := t.store.Put(ctx, rec); err != nil {
		t.log(ctx, slog.LevelWarn, "session: ended, but cannot mark it "+
			"ended in the store", e, slog.String(LogKeyTrigger,
			string(trigger)), slog.Any(LogKeyError, err))
		return res, fmt.Errorf("%w: %q: %w", ErrNotMarked, e.id, err)
	}
	t.forget(e)
	return res, nil
}

// lookup returns the live session in memory, or nil.
func (t *Tracker) lookup(sessionID string) *entry {
	sh := &t.shards[maphash.String(t.seed, sessionID)%shards]
	sh.mu.RLock()
	e := sh.m[sessionID]
	sh.mu.RUnlock()
	return e
}

// load reads a session unknown here from the store and keeps it.
func (t *Tracker) load(ctx context.Context, sessionID string) (*entry, error) {
	if sessionID == "" {
		return nil, fmt.Errorf("%w: empty session ID", ErrBadInput)
	}
	recs, err := t.store.List(ctx, Query{ID: sessionID})
	if err != nil {
		return nil, fmt.Errorf("session: reading %q: %w", sessionID, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, sessionID)
	}
	return t.adopt(recs[0]), nil
}

// current returns the session with the freshest activity of memory and
// the store: another process may have written a later one. When the
// store cannot tell, memory's is used.
func (t *Tracker) current(ctx context.Context,
	sessionID string) (*entry, error) {

	e := t.lookup(sessionID)
	if e == nil {
		return t.load(ctx, sessionID)
	}
	recs, err := t.store.List(ctx, Query{ID: sessionID})
	switch {
	case err != nil:
		t.log(ctx, slog.LevelWarn, "session: cannot read the session; "+
			"using this process's activity", e, slog.Any(LogKeyError, err))
		return e, nil
	case len(recs) == 0:
		// Ended elsewhere, or lost by the store: it is not live.
		t.forget(e)
		return nil, fmt.Errorf("%w: %q", ErrUnknown, sessionID)
	}
	return t.adopt(recs[0]), nil
}

// adopt keeps the live session r in memory, unless it is there already,
// and returns its entry, raised to r's activity.
func (t *Tracker) adopt(r Record) *entry {
	sh := &t.shards[maphash.String(t.seed, r.ID)%shards]
	sh.mu.Lock()
	e, ok := sh.m[r.ID]
	if !ok {
		e = &entry{id: r.ID, userID: r.UserID, start: r.Start.UnixNano()}
		sh.m[r.ID] = e
	}
	sh.mu.Unlock()
	if !r.LastActive.IsZero() {
		active := r.LastActive.UnixNano()
		raise(&e.active, active)
		raise(&e.written, active)
	}

	// A session another process revoked, or this one before a restart,
	// is measured as the store has it: activity seen here since then
	// did not count.
	if !r.Revoked.IsZero() {
		again := r.Completion
		if again != action.Revoke {
			again = action.Expire // as the tracker stores a logout
		}
		if e.retry.CompareAndSwap(nil, &again) {
			e.active.Store(r.LastActive.UnixNano())
		}
	}
	return e
}

// forget marks e ended and drops it from memory.
func (t *Tracker) forget(e *entry) {
	e.ended.Store(true)
	sh := &t.shards[maphash.String(t.seed, e.id)%shards]
	sh.mu.Lock()
	if sh.m[e.id] == e {
		delete(sh.m, e.id)
	}
	sh.mu.Unlock()
}

// trim drops from memory the sessions whose last activity is before
// cutoff, with nothing left to write, and returns how many. It keeps
// those that must go on refusing touches the store would accept: one
// revoked with its end left to retry, one ended that the store could
// not mark ended.
func (t *Tracker) trim(cutoff time.Time) int {
	c := cutoff.UnixNano()
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for id, e := range sh.m {
			if a := e.active.Load(); a < c && e.written.Load() >= a &&
				!e.revoked() && !e.ended.Load() {
				delete(sh.m, id)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// retries returns the sessions in memory whose flow revoked them but
// left a metadata write to retry.
func (t *Tracker) retries() []*entry {
	var es []*entry
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			if e.retry.Load() != nil {
				es = append(es, e)
			}
		}
		sh.mu.RUnlock()
	}
	return es
}

// activity returns the last activity this process saw of the session,
// or the zero time when it has none in memory.
func (t *Tracker) activity(sessionID string) time.Time {
	e := t.lookup(sessionID)
	if e == nil {
		return time.Time{}
	}
	return time.Unix(0, e.active.Load()).UTC()
}

// log writes one record with the session's user and ID, when a logger
// wants it.
func (t *Tracker) log(ctx context.Context, level slog.Level, msg string,
	e *entry, attrs ...slog.Attr) {

	if t.logger == nil || !t.logger.Enabled(ctx, level) {
		return
	}
	attrs = append(attrs, slog.String(LogKeyUserID, e.userID),
		slog.String(LogKeySessionID, e.id))
	t.logger.LogAttrs(ctx, level, msg, attrs...)
}

// record returns e as a live record last active at active.
func (e *entry) record(active int64) Record {
	return Record{
		ID:         e.id,
		UserID:     e.userID,
		Start:      time.Unix(0, e.start).UTC(),
		LastActive: time.Unix(0, active).UTC(),
	}
}

// event returns the event of e's end by trigger.
func (e *entry) event(trigger action.Trigger) *action.Event {
	start := action.At(time.Unix(0, e.start).UTC())
	ev := &action.Event{
		Trigger: trigger,
		User:    action.User{ID: e.userID, LastLoginAt: start},
		Session: action.Session{ID: e.id, CreatedAt: start},
	}

	// A session with no activity recorded (a record stored without
	// one) has no last activity: the action counts it as 0 s, with a
	// warning, rather than from 1970.
	if active := e.active.Load(); active > 0 {
		ev.Session.LastActiveAt = action.At(time.Unix(0, active).UTC())
	}
	return ev
}

// raise sets v to n when n is greater.
func raise(v *atomic.Int64, n int64) {
	for {
		cur := v.Load()
		if n <= cur || v.CompareAndSwap(cur, n) {
			return
		}
	}
}

// checkIDs refuses, with an error wrapping [ErrBadInput], a user or
// session ID that [action.CheckID] refuses: a session the flow could not
// run is never tracked.
func checkIDs(userID, sessionID string) error {
	if err := action.CheckID(userID); err != nil {
		return fmt.Errorf("%w: user ID: %w", ErrBadInput, err)
	}
	if err := action.CheckID(sessionID); err != nil {
		return fmt.Errorf("%w: session ID: %w", ErrBadInput, err)
	}
	return nil
}
