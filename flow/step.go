package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// runAction runs the RunCustomAction block of entry e into step s, and
// adds the custom claims the action set to the run's result.
//
// A non-empty guard is the receipt of the session's end, which the run
// has not looked for: the step is speculative (see [action.Action.Pure]).
// Its first write carries the guard, its logs are held until the write
// shows the session live, and runAction reports true, leaving the step
// to be discarded, when the session has ended.
func (r *Runner) runAction(ctx context.Context, ev *action.Event,
	e *action.Entry, s *Step, rs *runState, guard string) (ended bool) {

	return r.runStep(ctx, ev, e, s, rs, guard, time.Now().Add(r.timeout))
}

// runStep is runAction, the step's deadline given: a speculative step
// run again keeps the deadline of its first run, and the wait for a
// write under way ends a timeout after it, so that running again never
// holds a logout longer than one step may.
func (r *Runner) runStep(ctx context.Context, ev *action.Event,
	e *action.Entry, s *Step, rs *runState, guard string,
	deadline time.Time) (ended bool) {

	// An action disabled when the run started is skipped.
	if s.Status == StatusSkipped {
		s.Status = StatusSkipped
		r.log(ctx, slog.LevelDebug, "flow: action disabled; skipped", rs.key,
			s.Action, slog.Int(LogKeyBlock, s.Block))
		return false
	}

	// Give the action its deadline and an API that records its calls.
	a := rs.newAPI()
	a.r, a.rs, a.key, a.name = r, rs, rs.key, s.Action

	// The action gets an event of its own, made before it starts: what
	// it changes there reaches neither the run nor the next action, and
	// an action abandoned at its deadline never reads the caller's.
	a.own = *ev
	a.firstCall, a.firstAttr = len(rs.calls), len(rs.attrs)
	if s.Block == 1 {
		a.receipt1 = rs.firstWrite
	}
	inline := e.Action().Inline
	if guard != "" {
		// The snapshot is the caller's, which an action left running
		// past its step must not read.
		a.guard, a.expect, a.spec = guard, ev.User.AppMetadata, specOpen
		if !inline {
			a.expect = metadata.Clone(a.expect)
		}
	}
	a.ctx.parent, a.ctx.deadline = ctx, deadline
	if !inline && !time.Now().Before(deadline) {
		// A step run again after its deadline starts over: its action
		// in its own goroutine must not find its context still live.
		a.ctx.end(context.DeadlineExceeded)
	}
	var err error
	if inline {
		err = a.execInline(e.Action().Run)
	} else {
		err = a.execAway(ctx, e.Action().Run, time.Until(deadline))
	}
	a.ctx.end(context.Canceled)

	// The step is over: an abandoned action can no longer write, and
	// what it did is final.
	a.close(min(r.timeout, time.Until(deadline.Add(r.timeout))))

	// A speculative step that its write did not settle settles now.
	spec := specNone
	if guard != "" {
		spec = a.specState()
	}
	switch spec {
	case specEnded:
		return true
	case specAgain:
		// Its update function ran on a value the store then did not
		// use: run the action again, knowing the session live.
		rs.calls, rs.attrs = rs.calls[:a.firstCall], rs.attrs[:a.firstAttr]
		rs.ranks = rs.ranks[:0]
		return r.runStep(ctx, ev, e, s, rs, "", deadline)
	case specOpen:
		// A caller who gave up stops the run at the next block anyway.
		if ctx.Err() == nil && r.hasEnded(ctx, rs.key, guard) {
			return true
		}
		a.settle(ctx, specNone)
	}

	if n := len(rs.calls); n > a.firstCall {
		s.Calls = rs.calls[a.firstCall:n:n]
	}
	s.AlreadyApplied = a.dups
	if a.werr != nil && mayPass(a.werr) {
		rs.res.Retry = true
	}
	if err == nil && a.werr != nil {
		err = fmt.Errorf("flow: action %q: a metadata write failed: %w",
			s.Action, a.werr)
	}
	for _, c := range s.Calls {
		if c.API == action.CallSetCustomClaim && c.Err == nil {
			if rs.res.Claims == nil {
				rs.res.Claims = make(map[string]any)
			}
			rs.res.Claims[c.Key] = c.Value
		}
	}

	// A failure is logged and recorded; the flow goes on.
	if err != nil {
		s.Status, s.Err = StatusFailed, err
		r.log(ctx, slog.LevelError, "flow: action failed", rs.key, s.Action,
			slog.Int(LogKeyBlock, s.Block), slog.Any(LogKeyError, err))
		return false
	}
	s.Status = StatusOK
	return false
}

// mayPass reports whether a failed metadata write may succeed if tried
// again: not when the store refused the patch or the user, or holds a
// value it cannot read, nor when the action misused its API or refused
// its own write.
func mayPass(err error) bool {
	if _, ok := errors.AsType[refusal](err); ok {
		return false
	}
	for _, final := range []error{metadata.ErrInvalidPatch,
		metadata.ErrTooLarge, metadata.ErrUserNotFound, metadata.ErrCorrupt,
		ErrStepOver, ErrNestedWrite} {
		if errors.Is(err, final) {
			return false
		}
	}
	return true
}

// newAPI returns a fresh API for an action step of the run: the one made
// with the run for its first step, then new ones, since an action
// abandoned at its deadline keeps its own.
func (rs *runState) newAPI() *stepAPI {
	if !rs.firstUsed {
		rs.firstUsed = true
		return &rs.api
	}
	return new(stepAPI)
}

// execInline runs an inline action on the caller's goroutine, under a
// context that ends on its own at the deadline. An action that returns
// after its deadline without an error of its own has failed all the
// same.
func (a *stepAPI) execInline(run action.Func) error {
	a.ctx.self = true
	err := callAction(&a.ctx, run, &a.own, a)
	if cerr := a.ctx.Err(); err == nil &&
		errors.Is(cerr, context.DeadlineExceeded) {
		err = fmt.Errorf("flow: action %q returned after its deadline: %w",
			a.name, cerr)
	}
	return err
}

// execAway runs the action in a goroutine of its own, so that an action
// ignoring its context cannot hold the logout past the deadline. It
// waits for the action, its deadline or the caller, whichever comes
// first. An action that finished just as the wait ended has finished;
// else it is abandoned, its context ended, and its error says so.
func (a *stepAPI) execAway(ctx context.Context, run action.Func,
	timeout time.Duration) error {

	a.wake = make(chan struct{}, 2)
	timer := time.AfterFunc(timeout, a.timeUp)
	go a.exec(run)
	select {
	case <-a.wake:
	case <-ctx.Done():
	}
	timer.Stop()
	finished, err := a.outcome()
	if !finished {
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		a.ctx.end(cause)
		if finished, err = a.outcome(); !finished {
			err = fmt.Errorf("flow: action %q did not finish: %w",
				a.name, cause)
		}
	}
	return err
}

// exec runs the action in its own goroutine, then wakes the runner.
func (a *stepAPI) exec(run action.Func) {
	growStack()

	// An action that ends its goroutine with runtime.Goexit never
	// returns: it has finished all the same, and the runner need not
	// wait for its deadline.
	err := errGoexitAction
	defer func() {
		a.mu.Lock()
		a.err, a.finished = err, true
		a.mu.Unlock()
		a.wake <- struct{}{}
	}()
	err = callAction(&a.ctx, run, &a.own, a)
}

// errGoexitAction is the error of an action that called runtime.Goexit.
var errGoexitAction = errors.New("flow: action ended its goroutine " +
	"(runtime.Goexit) without returning")

// stackHint is how much stack an action's goroutine is given at once;
// see growStack.
const stackHint = 4 << 10

// growStack grows a new goroutine's stack to stackHint before the action
// runs. A goroutine starts with a small stack, which the runtime doubles,
// copying it, each time a call needs more; growing it while it holds one
// frame costs little, where growing it under a typical action's deep
// calls (store, merge, time formatting) took a sixth of a logout's CPU
// time in BenchmarkFlowLogout. track-logout-stats on the memory store
// fits in 4 KiB.
//
//go:noinline
func growStack() {
	var pad [stackHint - 1024]byte
	touch(&pad)
}

// touch keeps growStack's frame from being optimised away.
//
//go:noinline
func touch(p *[stackHint - 1024]byte) { p[0] = 1 }

// timeUp wakes the runner at the step's deadline.
func (a *stepAPI) timeUp() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// outcome reports whether the action has returned, and its error.
func (a *stepAPI) outcome() (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.finished, a.err
}

// callAction runs an action's body, turning a panic into an error.
func callAction(ctx context.Context, run action.Func, ev *action.Event,
	api action.API) (err error) {

	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w in action: %v", ErrPanic, v)
		}
	}()
	return run(ctx, ev, api)
}

// stepAPI is the [action.API] of one step. It records every call, and
// refuses every call once the step is over.
type stepAPI struct {
	r    *Runner
	rs   *runState
	ctx  stepCtx      // the step's, ending at its deadline
	key  flightKey    // the run's user and session
	own  action.Event // the action's copy of the event
	name string       // the action's

	// firstCall and firstAttr are where the step's calls and their
	// attributes start in rs.calls and rs.attrs; receipt1, when set, is
	// the receipt of its first write, made with the run.
	firstCall, firstAttr int
	receipt1             string

	// guard, in a speculative step, is the receipt of the session's
	// end, which its writes carry until one settles the speculation;
	// expect is the event's snapshot of app_metadata, their guess of
	// the stored value. Both are set before the action starts.
	guard  string
	expect metadata.Map

	// wake is signalled when the action returns and at the deadline.
	wake chan struct{}

	// wmu is held across each store call, so that writes happen one
	// at a time. The write under way is kept in fn or view, patch and
	// applied for update and updateView, each made once as updateFn and
	// viewFn.
	wmu      sync.Mutex
	fn       metadata.UpdateFunc
	view     metadata.ViewFunc
	patch    metadata.Map
	applied  metadata.Map
	updateFn metadata.UpdateFunc
	viewFn   metadata.ViewFunc
	guardFn  metadata.ViewFunc

	// fnRan tells that the action's update function ran during the
	// write under way.
	fnRan bool

	// inFn is set while an update function runs, inside a store call:
	// a write from there would wait for itself.
	inFn atomic.Bool

	// mu guards what follows, and the run's calls and attrs while the
	// step lasts. writing is set while a store call is under way; close
	// then makes ended, which the write closes once it has recorded its
	// call.
	mu      sync.Mutex
	closed  bool
	writing bool
	ended   chan struct{}

	// abandoned is set when close stopped waiting for the write under
	// way: that write then records nothing.
	abandoned bool

	// spec is how far the speculation of a speculative step has gone;
	// held are the records of the logs it holds until the session shows
	// live, built only where the logger wants them.
	spec specState
	held []slog.Record

	dups     int   // writes found already applied
	werr     error // the first write that failed
	finished bool  // the action has returned,
	err      error // with this error
}

var (
	_ action.API        = (*stepAPI)(nil)
	_ action.UserAPI    = (*userAPI)(nil)
	_ action.SessionAPI = (*sessionAPI)(nil)
	_ context.Context   = (*stepCtx)(nil)
)

// userAPI and sessionAPI are views of a stepAPI: converting the pointer
// costs nothing.
type (
	userAPI    stepAPI
	sessionAPI stepAPI
)

// User implements [action.API].
func (a *stepAPI) User() action.UserAPI { return (*userAPI)(a) }

// Session implements [action.API].
func (a *stepAPI) Session() action.SessionAPI { return (*sessionAPI)(a) }

// Log implements [action.API]. A call after the step is over is dropped.
func (a *stepAPI) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	a.mu.Lock()
	if a.closed || a.spec >= specEnded {
		a.mu.Unlock()
		return
	}
	c := action.Call{API: action.CallLog, Level: level, Message: msg}
	if len(attrs) > 0 {
		// Keep a copy: the caller may reuse its slice.
		rs := a.rs
		n := len(rs.attrs)
		rs.attrs = append(rs.attrs, attrs...)
		c.Attrs = rs.attrs[n:len(rs.attrs):len(rs.attrs)]
	}
	a.append(c)
	if a.spec == specOpen {
		// Not a word of a session that may have ended.
		if rec, ok := a.r.newRecord(&a.ctx, level, msg, a.key, a.name,
			attrs...); ok {
			a.held = append(a.held, rec)
		}
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	a.r.log(&a.ctx, level, msg, a.key, a.name, attrs...)
}

// specState says how far a speculative step has gone.
type specState uint8

const (
	// specNone: the step is not speculative, or the session has shown
	// live; its logs go out as they come.
	specNone specState = iota

	// specOpen: the step is speculative and nothing has shown whether
	// the session has ended; its logs are held.
	specOpen

	// specEnded: a write found the session ended; the step is to be
	// discarded, and refuses every call.
	specEnded

	// specAgain: a write found its receipt recorded after the action's
	// update function had run on a value the store did not use; the
	// step is to be discarded and run again.
	specAgain
)

// specState returns how far the step's speculation has gone.
func (a *stepAPI) specState() specState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spec
}

// settle ends the step's speculation in state st; for specNone, the
// session live, it hands the logs it held to the logger.
func (a *stepAPI) settle(ctx context.Context, st specState) {
	a.mu.Lock()
	held := a.held
	a.spec, a.held = st, nil
	a.mu.Unlock()
	if st != specNone || len(held) == 0 {
		return
	}
	h := a.r.logger.Handler()
	for _, rec := range held {
		_ = h.Handle(ctx, rec)
	}
}

// record appends c to the calls, unless the step is over.
func (a *stepAPI) record(c action.Call) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.spec >= specEnded {
		return false
	}
	a.append(c)
	return true
}

// append adds c to the run's calls; mu must be held.
func (a *stepAPI) append(c action.Call) {
	a.rs.calls = append(a.rs.calls, c)
}

// close ends the step, waiting for a write under way: what the step
// wrote is then stored, and recorded, before the next block runs. (It
// waits on a channel, not on wmu, so that a test's synctest bubble sees
// the wait as durable and moves its fake clock on.)
//
// It waits grace at most. A write still under way then (a store that
// ignores its context, an update function stuck in its own code) is
// abandoned: its call goes unrecorded, and it counts as a failed write
// that may pass, so that the run leaves the session's end unrecorded;
// if the write lands later, its receipt keeps a retry from applying it
// twice.
func (a *stepAPI) close(grace time.Duration) {
	a.mu.Lock()
	a.closed = true
	if a.writing {
		a.ended = make(chan struct{})
	}
	ended := a.ended
	a.mu.Unlock()
	if ended == nil {
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-ended:
	case <-t.C:
		a.mu.Lock()
		if a.writing {
			a.abandoned = true
			if a.werr == nil {
				a.werr = fmt.Errorf("flow: action %q: a metadata write "+
					"was still under way %v after the step ended: %w",
					a.name, grace, context.DeadlineExceeded)
			}
		}
		a.mu.Unlock()
	}
}

// SetAppMetadata implements [action.UserAPI].
func (u *userAPI) SetAppMetadata(ctx context.Context, patch metadata.Map) error {
	return (*stepAPI)(u).write(ctx, patch, nil, nil)
}

// UpdateAppMetadata implements [action.UserAPI].
func (u *userAPI) UpdateAppMetadata(ctx context.Context, fn metadata.UpdateFunc) error {
	if fn == nil {
		return fmt.Errorf("%w: nil update function", metadata.ErrInvalidPatch)
	}
	return (*stepAPI)(u).write(ctx, nil, fn, nil)
}

// UpdateAppMetadataView implements [action.UserAPI].
func (u *userAPI) UpdateAppMetadataView(ctx context.Context, fn metadata.ViewFunc) error {
	if fn == nil {
		return fmt.Errorf("%w: nil update function", metadata.ErrInvalidPatch)
	}
	return (*stepAPI)(u).write(ctx, nil, nil, fn)
}

// write stores patch, or the patch fn computes, with a receipt naming the
// session, the action and the write's rank in this run, so that the same
// write retried by a later run is applied once. It records the call with
// the patch applied.
func (a *stepAPI) write(ctx context.Context, patch metadata.Map,
	fn metadata.UpdateFunc, view metadata.ViewFunc) error {

	// A write from inside an update function would wait for itself.
	if a.inFn.Load() {
		err := fmt.Errorf("%w: action %q", ErrNestedWrite, a.name)
		a.record(action.Call{API: action.CallSetAppMetadata,
			Patch: patch, Err: err})
		return err
	}

	// One write at a time; none once the step is over, and the step
	// does not end with one half done.
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.mu.Lock()
	if a.spec >= specEnded {
		a.mu.Unlock()
		return errDiscarded
	}
	if a.closed {
		a.mu.Unlock()
		return fmt.Errorf("%w: action %q wrote app_metadata after its "+
			"step", ErrStepOver, a.name)
	}
	a.writing = true
	rank := a.rs.rank(a.name)
	spec := a.spec
	a.mu.Unlock()
	defer a.endWrite()
	receipt := a.receipt1
	if rank > 1 || receipt == "" {
		receipt = a.key.session + "/" + a.name + "/" + strconv.Itoa(rank)
	}

	// Once the step's context has ended (its deadline passed, or the
	// caller gave up), no write reaches the store, whatever context the
	// action passes: the step is over for its writes, as it is for an
	// action in its own goroutine, abandoned then. Such a write is
	// recorded, and fails the step, but is not one to retry: an action
	// that overran its deadline would overrun it again.
	if cerr := a.ctx.Err(); cerr != nil {
		return a.recordWrite(receipt, patch, patch, fmt.Errorf(
			"%w: action %q wrote app_metadata after its context "+
				"ended: %w", ErrStepOver, a.name, cerr))
	}

	// The store call ends at the step's deadline, whatever context the
	// action passed.
	ctx, stop := a.bound(ctx)
	defer stop()

	// update remembers what an update function returned, to record it.
	a.fn, a.view, a.patch, a.applied = fn, view, patch, patch
	var err error
	switch {
	case spec == specOpen:
		err = a.writeGuarded(ctx, receipt)
	case view != nil:
		if a.viewFn == nil {
			a.viewFn = a.updateView
		}
		err = metadata.UpdateView(ctx, a.r.store, a.key.user, receipt,
			a.viewFn)
	default:
		if a.updateFn == nil {
			a.updateFn = a.update
		}
		err = a.r.store.Update(ctx, a.key.user, receipt, a.updateFn)
	}
	applied := a.applied
	a.fn, a.view, a.patch, a.applied = nil, nil, nil, nil
	if err == errDiscarded {
		return err // the step is to be discarded: nothing to record
	}
	return a.recordWrite(receipt, patch, applied, err)
}

// errDiscarded is what a speculative step's action gets from a write,
// and from every write after it, once a write has found the session
// ended, or must run again: the runner discards the step.
var errDiscarded = errors.New("flow: the session had ended, or the " +
	"action must run again: this run of the action is discarded")

// writeGuarded is the write of a speculative step, wmu held: the store
// checks in the same atomic step that the session has not ended. A
// write that is stored, or that an earlier run stored without this
// step's update function running, shows the session live and settles
// the speculation; one the guard bars, or that found its receipt after
// the update function ran on a guess, ends the step, discarded.
func (a *stepAPI) writeGuarded(ctx context.Context, receipt string) error {
	// Each method value is made once, not at every write.
	var fn metadata.ViewFunc
	if a.view != nil {
		if a.viewFn == nil {
			a.viewFn = a.updateView
		}
		fn = a.viewFn
	} else {
		if a.guardFn == nil {
			a.guardFn = a.guardedUpdate
		}
		fn = a.guardFn
	}
	a.fnRan = false
	err := a.r.guarded.UpdateGuarded(ctx, metadata.GuardedUpdate{
		UserID: a.key.user, Receipt: receipt, Guard: a.guard,
		Expect: a.expect, Fn: fn,
	})
	dup := errors.Is(err, metadata.ErrDuplicate)
	switch {
	case errors.Is(err, metadata.ErrBarred):
		a.settle(&a.ctx, specEnded)
		return errDiscarded
	case dup && a.fnRan:
		a.settle(&a.ctx, specAgain)
		return errDiscarded
	case err == nil || dup:
		a.settle(&a.ctx, specNone)
	case a.fn != nil || a.view != nil:
		// The store may have computed the last patch from the guess:
		// it says nothing of what was tried on the stored value.
		a.applied = nil
	}
	return err
}

// guardedUpdate is update for a guarded write of SetAppMetadata or
// UpdateAppMetadata, which the store calls with a view.
func (a *stepAPI) guardedUpdate(cur metadata.View) (metadata.Map, error) {
	if a.fn == nil {
		return a.patch, nil
	}
	return a.update(cur.Map())
}

// endWrite ends the write under way, and lets a close waiting for it go
// on. It runs however the write ends, a panicking store included.
func (a *stepAPI) endWrite() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.writing = false
	if a.ended != nil {
		close(a.ended)
	}
}

// recordWrite records the write's call, given the store's answer, and
// returns the write's error.
func (a *stepAPI) recordWrite(receipt string, patch, applied metadata.Map,
	err error) error {

	// The action sees its update function's own error as it returned
	// it; the step keeps it marked as a refusal, which mayPass knows.
	shown := err
	if r, ok := err.(refusal); ok {
		shown = r.err
	}

	a.mu.Lock()
	defer a.mu.Unlock()

	// A write the step gave up waiting for records nothing: the run has
	// moved on, and its calls belong to later steps now.
	if a.abandoned {
		return shown
	}

	// A receipt already recorded means an earlier run stored this write:
	// it succeeded.
	if errors.Is(err, metadata.ErrDuplicate) {
		a.dups++
		a.append(action.Call{API: action.CallSetAppMetadata, Patch: patch})
		a.r.log(&a.ctx, slog.LevelDebug, "flow: write already applied by "+
			"an earlier run", a.key, a.name,
			slog.String(LogKeyReceipt, receipt))
		return nil
	}
	a.append(action.Call{API: action.CallSetAppMetadata, Patch: applied,
		Err: shown})
	if err != nil && a.werr == nil {
		a.werr = err
	}
	return shown
}

// refusal marks the error an action's own update function returned,
// which the store hands back unchanged: the action refusing its write,
// which no retry mends.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

// refused returns err, the error of an update function, marked as a
// refusal.
func refused(err error) error {
	if err == nil {
		return nil
	}
	return refusal{err}
}

// update is the function a write hands the store: the write's patch,
// or the patch its update function computes. wmu is held.
func (a *stepAPI) update(cur metadata.Map) (metadata.Map, error) {
	if a.fn == nil {
		return a.patch, nil
	}
	a.inFn.Store(true)
	defer a.inFn.Store(false)
	a.fnRan = true
	p, err := a.fn(cur)
	a.applied = p
	return p, refused(err)
}

// updateView is update for a write of UpdateAppMetadataView.
func (a *stepAPI) updateView(cur metadata.View) (metadata.Map, error) {
	a.inFn.Store(true)
	defer a.inFn.Store(false)
	a.fnRan = true
	p, err := a.view(cur)
	a.applied = p
	return p, refused(err)
}

// bound returns a context for a store call: ctx itself when it is the
// step's, else one that also ends with the step.
func (a *stepAPI) bound(ctx context.Context) (context.Context, func()) {
	if ctx == nil || ctx == context.Context(&a.ctx) {
		return &a.ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(&a.ctx, cancel)
	return ctx, func() {
		unhook()
		cancel()
	}
}

// SetCustomClaim implements [action.SessionAPI]. It refuses an empty key
// and a value that cannot be encoded as JSON, with an error wrapping
// [ErrInvalidClaim], and, as a write, a claim set once the step's
// context has ended, with one wrapping [ErrStepOver].
func (s *sessionAPI) SetCustomClaim(key string, value any) error {
	a := (*stepAPI)(s)
	var err error
	if key == "" {
		err = fmt.Errorf("%w: empty key", ErrInvalidClaim)
	} else if verr := metadata.Validate(metadata.Map{key: value}); verr != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidClaim, verr)
	} else if cerr := a.ctx.Err(); cerr != nil {
		// An inline action past its deadline is still running its step:
		// its claim is refused, as an abandoned action's would be.
		err = fmt.Errorf("%w: action %q set a claim after its context "+
			"ended: %w", ErrStepOver, a.name, cerr)
	}

	c := action.Call{API: action.CallSetCustomClaim, Key: key, Value: value,
		Err: err}
	if !a.record(c) {
		return fmt.Errorf("%w: action %q set a claim after its step",
			ErrStepOver, a.name)
	}
	return err
}
