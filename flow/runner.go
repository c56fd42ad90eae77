package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// DefaultTimeout is the deadline of one action when [Options.Timeout] is
// zero.
const DefaultTimeout = 5 * time.Second

// Revoker ends sessions for the auth server: the RevokeSession block
// calls it. It must be safe for concurrent use, and revoking a session
// that has already ended must succeed. It gets the context given to
// [Runner.Run], with no deadline of the runner's own, and should return
// when that context ends.
type Revoker interface {
	Revoke(ctx context.Context, userID, sessionID string) error
}

// RevokerFunc adapts a function to [Revoker].
type RevokerFunc func(ctx context.Context, userID, sessionID string) error

// Revoke calls f.
func (f RevokerFunc) Revoke(ctx context.Context, userID, sessionID string) error {
	return f(ctx, userID, sessionID)
}

// Options configures a [Runner]. The zero value of each field means its
// default, but Store and Revoker are required.
type Options struct {
	// Store keeps app_metadata. Required.
	Store metadata.Store

	// Revoker ends sessions. Required.
	Revoker Revoker

	// Logger receives the runner's and the actions' logs; nil is silent.
	Logger *slog.Logger

	// DeferEnd records the end of each session after Run has returned,
	// which saves the caller one store round trip per logout: worth it
	// on a store across a network, such as pgstore. The ends gathered
	// within DeferEndDelay are recorded together, 256 at most, from one
	// goroutine (up to four while a full batch waits): in one call of
	// a store that is a [metadata.BatchRecorder], else one after
	// another.
	//
	// A repeat of the session in this process waits for the record,
	// the delay included, and runs nothing, as without DeferEnd. A
	// repeat that reaches another replica before the record lands runs
	// the flow again: its writes carry receipts and count nothing
	// twice, but the Revoker is called again. An end whose record
	// fails, or cannot start within Timeout of its Run's return, is
	// not recorded (the runner logs a warning): a later repeat runs the
	// flow again in the same way. Call [Runner.Wait] before the process
	// exits, so that no record is left unwritten.
	DeferEnd bool

	// DeferEndDelay is how long DeferEnd gathers the ends of sessions
	// before recording them together: zero means DefaultDeferEndDelay,
	// a negative value records what has gathered while the last record
	// was under way, with no wait,
	// and a delay over half of Timeout counts as half of Timeout, so
	// that each record has time left. The records of a batch end
	// Timeout after the newest of its ends' Run returned.
	DeferEndDelay time.Duration

	// Timeout is the deadline of each action, and of each store call
	// the runner makes outside an action (asking whether the session has
	// ended, recording its end); zero or less means DefaultTimeout. It
	// bounds each call, not the Run, which makes them one after
	// another: a stalled store can hold a Run for about twice Timeout
	// per block. The revoker runs under the caller's context alone: give
	// Run a context with a deadline to bound it, and the whole Run.
	Timeout time.Duration
}

// Errors returned by [NewRunner], [Runner.Publish] and [Runner.Run],
// wrapped with context. Test for them with [errors.Is].
var (
	// ErrNoStore and ErrNoRevoker are returned by NewRunner when the
	// required option is missing.
	ErrNoStore   = errors.New("flow: no store")
	ErrNoRevoker = errors.New("flow: no revoker")

	// ErrNoFlow is returned by Run when no flow is published for the
	// event's trigger.
	ErrNoFlow = errors.New("flow: no flow published")

	// ErrBadEvent is returned by Run for an event it cannot run: nil,
	// whose trigger ends no session, or whose user ID or session ID
	// [action.CheckID] refuses (empty, too long, not UTF-8 text, or
	// holding a control character). Nothing runs.
	ErrBadEvent = errors.New("flow: bad event")

	// ErrRevoke is returned by Run, with the revoker's error, when the
	// RevokeSession block failed: the user is still signed in.
	ErrRevoke = errors.New("flow: revoking the session failed")

	// ErrPanic is wrapped by the error of a step whose action or revoker
	// panicked; the message holds the panic value.
	ErrPanic = errors.New("flow: panic")

	// ErrStepOver is returned to an action that calls its API after its
	// step is over, typically one abandoned at its deadline: the call
	// is refused and nothing reaches the store.
	ErrStepOver = errors.New("flow: step is over")

	// ErrNestedWrite is returned to an action that writes app_metadata
	// from inside its own update function.
	ErrNestedWrite = errors.New("flow: app_metadata write inside an " +
		"update function")

	// ErrInvalidClaim is returned by SetCustomClaim for an empty key or
	// a value that cannot be encoded as JSON.
	ErrInvalidClaim = errors.New("flow: invalid custom claim")
)

// Attribute keys of the records the runner logs, and that it adds to the
// records actions log through their API.
const (
	LogKeyAction    = "action"
	LogKeyUserID    = "user_id"
	LogKeySessionID = "session_id"
	LogKeyBlock     = "block"
	LogKeyVersion   = "version"
	LogKeyError     = "error"
	LogKeyReceipt   = "receipt"
)

// Status says what became of one block in a run.
type Status string

// Statuses of a [Step].
const (
	StatusOK      Status = "ok"      // ran and succeeded
	StatusSkipped Status = "skipped" // action disabled, or run stopped
	StatusFailed  Status = "failed"  // error, panic, deadline or store failure
)

// Step is what one block did in a run.
type Step struct {
	// Block is the block's position in the flow, from 1.
	Block int

	// Kind is "RunCustomAction" or "RevokeSession".
	Kind string

	// Action is the action's name, for a RunCustomAction.
	Action string

	Status Status

	// Err is why the block failed, or, for a block skipped because the
	// caller's context ended, that context's error.
	Err error

	// Calls are the API calls the action made, in order.
	Calls []action.Call

	// AlreadyApplied counts the action's metadata writes that an earlier
	// run of the same session had stored: their receipts matched, so
	// they were not applied again, and they returned no error to the
	// action. Such a write of UpdateAppMetadata is recorded with a nil
	// Patch, since its function was not called.
	AlreadyApplied int
}

// Result reports a run: what ran, what was skipped, what failed, and every
// API call each action made.
type Result struct {
	Trigger action.Trigger

	// Version is the published version of the flow that ran, from 1; 0
	// in a repeat that package session builds, for a session it knows
	// as ended, without running anything.
	Version int

	// Repeat is true when the session had already ended by an earlier run
	// (or by one running at the same time): nothing ran again. Steps then
	// are those of the run that did the work when it ran in this process
	// at the same time (a copy), and empty when the session had ended
	// before.
	Repeat bool

	// Retry is true when a metadata write of an action failed with an
	// error that may pass (the store was down, slow or cut off; not a
	// refused patch, a value the store cannot read, nor the action's
	// own update function refusing). The session was revoked as usual,
	// but its end was not recorded, so that running the same event
	// again applies the failed write and counts the session: the writes
	// that succeeded carry receipts and are not applied twice. Run the
	// event again later, by any trigger that ends the session.
	Retry bool

	// Steps holds one entry per block, in order.
	Steps []Step

	// Claims are the custom claims the actions set with
	// SetCustomClaim, for the auth server to put on the session's
	// access token; a later call for a key wins. Nil when none was set.
	Claims map[string]any
}

// Failed returns the steps that failed.
func (r *Result) Failed() []Step {
	var out []Step
	for _, s := range r.Steps {
		if s.Status == StatusFailed {
			out = append(out, s)
		}
	}
	return out
}

// clone returns a copy of r that shares no slice or map with it.
func (r *Result) clone() *Result {
	c := *r
	c.Steps = slices.Clone(r.Steps)
	for i := range c.Steps {
		c.Steps[i].Calls = slices.Clone(c.Steps[i].Calls)
	}
	c.Claims = maps.Clone(r.Claims)
	return &c
}

// Runner runs the published flow of each trigger. It is safe for
// concurrent use.
type Runner struct {
	store   metadata.Store
	revoker Revoker

	// recorder is the store as a metadata.ReceiptRecorder, when it is
	// one: it records the end of sessions; batcher, as a
	// metadata.BatchRecorder, records those that DeferEnd gathers.
	recorder metadata.ReceiptRecorder
	batcher  metadata.BatchRecorder

	// guarded is the store as a metadata.GuardedUpdater, when it is
	// one: the first write of a pure action that starts a flow then
	// checks that the session has not ended (see speculative).
	guarded metadata.GuardedUpdater

	logger  *slog.Logger // nil: silent
	timeout time.Duration

	// deferEnd is Options.DeferEnd; pending counts the session ends
	// being recorded after their Run returned, and the goroutines
	// recording them; ends are those waiting for a batch, endDelay how
	// long a batch gathers them.
	deferEnd bool
	pending  pending
	ends     endQueue
	endDelay time.Duration

	// live maps each trigger to its published flow. The map is never
	// changed once stored: Publish stores a new one.
	live    atomic.Pointer[map[action.Trigger]*published]
	pubMu   sync.Mutex // serialises Publish
	version int        // last version given, under pubMu

	flights flights
}

// published is a flow made live, with its version.
type published struct {
	flow    *Flow
	version int
}

// NewRunner returns a runner with no flow published. It returns an error
// wrapping [ErrNoStore] or [ErrNoRevoker] when a required option is
// missing.
func NewRunner(opts Options) (*Runner, error) {
	if opts.Store == nil {
		return nil, ErrNoStore
	}
	if f, ok := opts.Revoker.(RevokerFunc); opts.Revoker == nil ||
		ok && f == nil {
		return nil, ErrNoRevoker
	}
	r := &Runner{
		store:    opts.Store,
		revoker:  opts.Revoker,
		logger:   opts.Logger,
		timeout:  opts.Timeout,
		deferEnd: opts.DeferEnd,
	}
	r.recorder, _ = opts.Store.(metadata.ReceiptRecorder)
	r.batcher, _ = opts.Store.(metadata.BatchRecorder)
	r.guarded, _ = opts.Store.(metadata.GuardedUpdater)
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	switch r.endDelay = opts.DeferEndDelay; {
	case r.endDelay == 0:
		r.endDelay = DefaultDeferEndDelay
	case r.endDelay < 0:
		r.endDelay = 0
	}
	r.endDelay = min(r.endDelay, r.timeout/2)
	r.flights.init()
	r.ends.init()
	return r, nil
}

// Publish makes f the live flow of its trigger, atomically: a run already
// under way finishes on the version it started with, and the next run uses
// f. It returns the version number f got: 1 for the runner's first
// publication, one more at each. A nil or unbuilt flow (not from [New])
// is refused with an error wrapping [ErrInvalidFlow].
func (r *Runner) Publish(f *Flow) (int, error) {
	if f == nil {
		return 0, fmt.Errorf("%w: nil flow", ErrInvalidFlow)
	}
	if f.trigger == "" || len(f.blocks) == 0 {
		return 0, fmt.Errorf("%w: flow not built with flow.New",
			ErrInvalidFlow)
	}

	// Copy the live map with f in it, so that runs reading the old map
	// are never disturbed.
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	r.version++
	next := make(map[action.Trigger]*published)
	if old := r.live.Load(); old != nil {
		maps.Copy(next, *old)
	}
	next[f.trigger] = &published{flow: f, version: r.version}
	r.live.Store(&next)
	return r.version, nil
}

// BUG(logoutflow): Runs of one session join each other only within one
// process. Two replicas that receive the same session's logout at the
// same instant may both run the flow and both call the Revoker; the
// counts stay exact, since every write carries a receipt that the shared
// store applies once, but the Revoker must be idempotent.

// Run runs the live flow of ev.Trigger (Logout when empty) for ev's
// session and returns what each block did.
//
// The flow is read once, when the run starts: a flow published meanwhile
// applies from the next run on. Each action runs under the runner's
// timeout; a failing action (error, panic, deadline, store failure) is
// logged and recorded in the result, and the flow goes on. The session
// is revoked after every action, so whatever they wrote is stored first.
// An action runs in a goroutine of its own, unless it is
// [action.Action.Inline]: an inline action runs on the caller's
// goroutine, its context ends at its deadline, and it fails if it
// returns after that, but nothing cuts it short. An action in its own
// goroutine past its deadline is abandoned, but a store call it has
// under way is waited for, one more timeout at most, so that the step's
// record is final and its write, if any, stored before the next block. A
// write still under way then (a store that ignores its context, an
// update function stuck in its own code) is abandoned too, and the run
// sets [Result.Retry].
//
// A session counts once: a run for a session that has already ended, or
// that joins a run of the same session under way in this process, runs
// nothing and returns a result with Repeat set, and no error (or the error
// of the run it joined). The run asks the store whether the session has
// ended before the first block, unless that block is an
// [action.Action.Pure] action and the store a [metadata.GuardedUpdater]:
// the action's first write then asks it, in the same store call, with the
// event's User.AppMetadata as its guess of the stored value, and a write
// the session's end bars makes the run a repeat, whose action logged
// nothing and whose result holds nothing of what it did (see Pure). An
// action that writes nothing, or whose write fails, has its logs held until
// the store has been asked after the step. A run that joined one whose own
// caller gave up before the session was revoked (its context ended) runs
// the flow itself instead. Metadata writes carry receipts, so that a run
// retried after a failure does not apply a write twice. When a write failed
// in a way that may pass, the session is revoked but its end is not
// recorded, and the result has [Result.Retry] set: running the same event
// again applies the failed write, so no session goes uncounted because the
// store failed once. The end of a session whose user the store does not
// have cannot be recorded (the runner logs a warning): a repeat of it runs
// the flow again and calls the Revoker again, counting nothing.
//
// Run returns an error wrapping [ErrBadEvent] or [ErrNoFlow], and a nil
// result, when it cannot start; it returns the result and an error
// wrapping [ErrRevoke] when the RevokeSession block failed: the user is
// then still signed in.
//
// When ctx ends before a block starts, the run stops there: the blocks
// left are recorded as skipped, with ctx's error, the session is not
// revoked (the user is not signed out), and Run returns an error wrapping
// ctx.Err(). Retrying the logout later is safe and counts once. An action
// running when ctx ends sees its context end, and fails. A run that was
// waiting for another run of its session returns an empty result and
// ctx's error.
func (r *Runner) Run(ctx context.Context, ev *action.Event) (*Result, error) {
	// Refuse what cannot run before looking anything up.
	if ev == nil {
		return nil, fmt.Errorf("%w: nil event", ErrBadEvent)
	}
	if err := action.CheckID(ev.User.ID); err != nil {
		return nil, fmt.Errorf("%w: user ID: %w", ErrBadEvent, err)
	}
	if err := action.CheckID(ev.Session.ID); err != nil {
		return nil, fmt.Errorf("%w: session ID: %w", ErrBadEvent, err)
	}
	trigger := ev.Trigger
	if trigger == "" {
		trigger = action.Logout
	}
	if !trigger.EndsSession() {
		return nil, fmt.Errorf("%w: trigger %q ends no session", ErrBadEvent,
			trigger)
	}

	// Read the live flow once: the whole run uses this version.
	var p *published
	if live := r.live.Load(); live != nil {
		p = (*live)[trigger]
	}
	if p == nil {
		return nil, fmt.Errorf("%w for trigger %q", ErrNoFlow, trigger)
	}

	// A run of the same session under way in this process does the work
	// for both.
	rs := newRunState(ev, p)

	// The run reads the caller's event only until it returns: each
	// action gets a copy of its own, made before it starts, and the run
	// keeps the IDs. An action abandoned at its deadline may still be
	// running when the caller reuses its event.
	key := rs.key
	f, done, leader := r.flights.join(key, &rs.flight)
	for !leader {
		res, err, again := f.wait(ctx, done, trigger, p.version)
		if !again {
			return res, err
		}
		f, done, leader = r.flights.join(key, &rs.flight)
	}

	// The flight ends however the run ends: an inline action calling
	// runtime.Goexit (t.FailNow in a test) ends the caller's goroutine
	// without a return, and no later run of the session may wait for
	// it.
	returned := false
	defer func() {
		if !returned {
			r.flights.finish(key, f, nil, errGoexit, false)
		}
	}()
	res, err := r.run(ctx, ev, trigger, p, rs)
	returned = true
	if rs.endDeferred {
		r.queueEnd(ctx, key, f, rs.endReceipt, res, err)
		return res, err
	}

	// A run stopped by its own caller giving up says nothing of the
	// session to the runs that joined it: they run the flow themselves.
	retake := err != nil && ctx.Err() != nil
	r.flights.finish(key, f, res, err, retake)
	return res, err
}

// errGoexit is the error of the runs that joined one whose goroutine
// ended without returning.
var errGoexit = errors.New("flow: the run of the same session ended " +
	"its goroutine (runtime.Goexit in an inline action)")

// Wait waits for the session ends that [Options.DeferEnd] left to record
// after their Run returned: it returns once none is left. Call it at
// shutdown, after the last Run. It may also be called while runs go on,
// from any number of goroutines: it then returns at a moment when no end
// is being recorded, which a steady stream of runs may put off for as
// long as it lasts, and runs that return later may leave ends of their
// own. While it waits, ends are recorded without [Options.DeferEndDelay].
// It returns once every record under way has returned, and the
// goroutines that recorded them are gone: each record gives up at its
// context's deadline, [Options.Timeout] after the newest Run of its
// batch returned; so Wait called after the last Run returns within
// about Timeout, unless the store ignores its context, which the
// [metadata.Store] contract forbids, and then Wait waits for it.
func (r *Runner) Wait() {
	q := &r.ends
	q.mu.Lock()
	q.hurry++
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	r.pending.wait()

	// A wake that no delay took would cut the next batch's delay short.
	q.mu.Lock()
	q.hurry--
	if q.hurry == 0 {
		select {
		case <-q.wake:
		default:
		}
	}
	q.mu.Unlock()
}

// recordEnd records that the session k has ended, so that a repeat runs
// nothing. The session is revoked whatever happens here, a panic of the
// store's included; a repeat that still runs finds every write's receipt
// and counts nothing twice.
func (r *Runner) recordEnd(ctx context.Context, k flightKey,
	receipt string) {

	sctx := r.storeCtx(ctx)
	err := r.storeEnd(sctx, k, receipt)
	sctx.end(context.Canceled)
	if err != nil && !errors.Is(err, metadata.ErrDuplicate) {
		r.log(ctx, slog.LevelWarn, "flow: cannot record the end of the "+
			"session", k, "", slog.Any(LogKeyError, err))
	}
}

// storeEnd records the end receipt of the session k in the store,
// turning a panic into an error.
func (r *Runner) storeEnd(ctx context.Context, k flightKey,
	receipt string) (err error) {

	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w in the store, recording the end: %v",
				ErrPanic, v)
		}
	}()
	if r.recorder != nil {
		return r.recorder.RecordReceipt(ctx, k.user, receipt)
	}
	return r.store.Update(ctx, k.user, receipt, noPatch)
}

// run is Run once the event is checked and this call leads its session.
func (r *Runner) run(ctx context.Context, ev *action.Event,
	trigger action.Trigger, p *published, rs *runState) (res *Result,
	err error) {

	res = &rs.res
	res.Trigger, res.Version = trigger, p.version
	k := rs.key

	// Running never panics: a panic of the store's or of this package's
	// code becomes the run's error.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w in flow run: %v", ErrPanic, v)
		}
	}()

	// Lay the steps out. Enabled switches are read once, as the run
	// starts: a switch moved during the run applies from the next one.
	blocks := p.flow.blocks
	if len(blocks) <= len(rs.steps) {
		res.Steps = rs.steps[:len(blocks)]
	} else {
		res.Steps = make([]Step, len(blocks))
	}
	for i, b := range blocks {
		s := &res.Steps[i]
		s.Block, s.Kind = i+1, b.kind()
		if e := p.flow.entries[i]; e != nil {
			s.Action = e.Action().Name
			if !e.Enabled() {
				s.Status = StatusSkipped
			}
		}
	}

	// A session that has ended already counts once: run nothing. A pure
	// first action learns it in its first write, on a store that can
	// tell; else the store is asked now. When it cannot tell, run
	// anyway: the writes' receipts still keep the counts exact.
	spec := r.speculative(p, res.Steps)
	if !spec && r.hasEnded(ctx, k, rs.endReceipt) {
		return r.repeat(ctx, res, k), nil
	}

	// Run each block in turn, unless the caller has given up.
	for i, b := range blocks {
		step := &res.Steps[i]
		if cerr := ctx.Err(); cerr != nil {
			return res, stop(res, i, cerr)
		}

		switch b.(type) {
		case RunCustomAction:
			guard := ""
			if spec && i == 0 {
				guard = rs.endReceipt
			}
			if r.runAction(ctx, ev, p.flow.entries[i], step, rs, guard) {
				return r.repeat(ctx, res, k), nil
			}
		case RevokeSession:
			if err := r.revoke(ctx, k.user, k.session, step); err != nil {
				return res, err
			}
		}
	}

	// A write that may succeed later leaves the session's end
	// unrecorded, so that a retry of the event counts the session.
	if res.Retry {
		r.log(ctx, slog.LevelWarn, "flow: a metadata write failed; the "+
			"end of the session is not recorded, so that running the "+
			"event again completes it", k, "")
		return res, nil
	}

	// The session has ended: record it, now or once Run has returned.
	if r.deferEnd {
		rs.endDeferred = true
		return res, nil
	}
	r.recordEnd(ctx, k, rs.endReceipt)
	return res, nil
}

// speculative reports whether the run's first block may run before the
// runner knows whether the session has ended: it is an enabled
// [action.Action.Pure] action, and the store can tell in the action's
// first write (a [metadata.GuardedUpdater]).
func (r *Runner) speculative(p *published, steps []Step) bool {
	e := p.flow.entries[0]
	return r.guarded != nil && e != nil && e.Action().Pure &&
		steps[0].Status != StatusSkipped
}

// hasEnded reports whether the store holds the end receipt of the
// session k. When the store cannot tell, it logs a warning and reports
// false.
func (r *Runner) hasEnded(ctx context.Context, k flightKey,
	receipt string) bool {

	sctx := r.storeCtx(ctx)
	done, err := r.store.HasReceipt(sctx, k.user, receipt)
	sctx.end(context.Canceled)
	if err != nil {
		r.log(ctx, slog.LevelWarn, "flow: cannot check whether the "+
			"session has ended; running the flow", k, "",
			slog.Any(LogKeyError, err))
		return false
	}
	return done
}

// storeCtx returns the context of a store call the runner makes itself,
// outside any step (asking whether the session has ended, recording its
// end): ctx's values, ending with ctx or at the runner's timeout, so
// that a stalled store holds a logout no longer than an action may. The
// caller ends it once the call returns.
func (r *Runner) storeCtx(ctx context.Context) *stepCtx {
	return &stepCtx{parent: ctx, deadline: time.Now().Add(r.timeout),
		self: true}
}

// repeat makes res the result of a run that found the session ended:
// nothing ran.
func (r *Runner) repeat(ctx context.Context, res *Result,
	k flightKey) *Result {

	r.log(ctx, slog.LevelDebug, "flow: session already ended", k, "")
	*res = Result{Trigger: res.Trigger, Version: res.Version, Repeat: true}
	return res
}

// Room that a run makes, in its single allocation, for a typical flow:
// one action and RevokeSession, the action making a write and a log
// with a few attributes, as track-logout-stats does. A bigger flow
// allocates what it needs beyond. (The run's state then fits 1 KiB.)
const (
	inlineSteps = 2
	inlineCalls = 2
	inlineAttrs = 3
)

// runState is what one run needs, made in one allocation: its flight,
// its result, room for the steps, the calls and the log attributes the
// result holds, the API of its first action, and its receipts.
type runState struct {
	key    flightKey // the event's user and session IDs
	flight flight
	res    Result
	steps  [inlineSteps]Step

	// calls and attrs are what the steps recorded, in order, first in
	// callBuf and attrBuf. Each step's Calls is the part it appended,
	// capped, so that no later append reaches it; steps append one at
	// a time, each under its own API's lock.
	calls   []action.Call
	attrs   []slog.Attr
	callBuf [inlineCalls]action.Call
	attrBuf [inlineAttrs]slog.Attr

	// ranks counts the writes of each action in the run, first in
	// rankBuf, to number their receipts: an action in two blocks of a
	// flow numbers its writes across both, so that the second block's
	// are not taken for the first's. Steps count one at a time, each
	// under its own API's lock.
	ranks   []actionRank
	rankBuf [inlineSteps]actionRank

	// api is the API of the run's first action step; firstUsed says it
	// is taken.
	api       stepAPI
	firstUsed bool

	// endReceipt marks the session as ended. When the first block is an
	// action, endReceipt and firstWrite, the receipt of that action's
	// first write, are the two halves of one string.
	endReceipt string
	firstWrite string

	// endDeferred says that run left the end receipt for Run to record
	// after it returns (Options.DeferEnd).
	endDeferred bool
}

// newRunState returns the state of a run of p for ev.
func newRunState(ev *action.Event, p *published) *runState {
	rs := new(runState)
	rs.calls, rs.attrs = rs.callBuf[:0], rs.attrBuf[:0]
	rs.ranks = rs.rankBuf[:0]
	rs.key = flightKey{user: ev.User.ID, session: ev.Session.ID}

	// One allocation builds both receipts: "<sid>/<action>/1<sid>/end".
	sid := ev.Session.ID
	if e := p.flow.entries[0]; e != nil {
		write := len(sid) + len("/") + len(e.Action().Name) + len("/1")
		key := sid + "/" + e.Action().Name + "/1" + sid + sessionEndSuffix
		rs.firstWrite, rs.endReceipt = key[:write], key[write:]
	} else {
		rs.endReceipt = sid + sessionEndSuffix
	}
	return rs
}

// actionRank is how many writes an action has made in a run.
type actionRank struct {
	name string
	n    int
}

// rank counts one more write of the named action in the run and returns
// its rank among the action's writes, from 1.
func (rs *runState) rank(name string) int {
	for i := range rs.ranks {
		if rs.ranks[i].name == name {
			rs.ranks[i].n++
			return rs.ranks[i].n
		}
	}
	rs.ranks = append(rs.ranks, actionRank{name: name, n: 1})
	return 1
}

// sessionEndSuffix ends the receipt that marks a session as ended,
// after the session ID. The receipts of a session's writes,
// "<session>/<action>/<rank>", and of its end, "<session>/end", so share
// the prefix "<session>/", which a store may read them by (pgstore's
// hints do). They never clash: a write's ends with its rank, digits.
const sessionEndSuffix = "/end"

// noPatch is the update that records a receipt and writes nothing.
func noPatch(metadata.Map) (metadata.Map, error) { return nil, nil }

// stop records the blocks from index i on as skipped because the caller's
// context ended, and returns the run's error.
func stop(res *Result, i int, cerr error) error {
	for j := i; j < len(res.Steps); j++ {
		res.Steps[j].Status, res.Steps[j].Err = StatusSkipped, cerr
	}
	return fmt.Errorf("flow: run stopped before block %d, session not "+
		"revoked: %w", i+1, cerr)
}

// revoke runs the RevokeSession block into step. It returns the run's
// error when the revoker fails or panics.
func (r *Runner) revoke(ctx context.Context, uid, sid string,
	step *Step) error {

	err := r.callRevoker(ctx, uid, sid)
	if err != nil {
		step.Status, step.Err = StatusFailed, err
		return fmt.Errorf("%w: %w", ErrRevoke, err)
	}
	step.Status = StatusOK
	return nil
}

// callRevoker calls the revoker, turning a panic into an error.
func (r *Runner) callRevoker(ctx context.Context, uid, sid string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w in revoker: %v", ErrPanic, v)
		}
	}()
	return r.revoker.Revoke(ctx, uid, sid)
}

// log writes one record when the logger wants it, with the user and
// session of k, and the action's name when not empty. It builds nothing
// when the logger discards the level.
func (r *Runner) log(ctx context.Context, level slog.Level, msg string,
	k flightKey, name string, attrs ...slog.Attr) {

	if rec, ok := r.newRecord(ctx, level, msg, k, name, attrs...); ok {
		_ = r.logger.Handler().Handle(ctx, rec)
	}
}

// newRecord builds the record that log writes, and reports false,
// having built nothing, when the logger discards the level.
func (r *Runner) newRecord(ctx context.Context, level slog.Level, msg string,
	k flightKey, name string, attrs ...slog.Attr) (slog.Record, bool) {

	if r.logger == nil || !r.logger.Handler().Enabled(ctx, level) {
		return slog.Record{}, false
	}
	rec := slog.NewRecord(time.Now(), level, msg, 0)
	if name != "" {
		rec.AddAttrs(slog.String(LogKeyAction, name))
	}
	rec.AddAttrs(slog.String(LogKeyUserID, k.user),
		slog.String(LogKeySessionID, k.session))
	rec.AddAttrs(attrs...)
	return rec, true
}
