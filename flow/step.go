package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// callsHint is the room made for an action's calls at its first call, so
// that a typical action (a few logs and a write) appends without growing.
const callsHint = 4

// runAction runs the RunCustomAction block of entry e into step s, and
// adds the custom claims the action set to res.
func (r *Runner) runAction(ctx context.Context, ev *action.Event,
	e *action.Entry, s *Step, res *Result) {

	// A disabled action is skipped, from the run after its switch moved.
	if !e.Enabled() {
		s.Status = StatusSkipped
		r.log(ctx, slog.LevelDebug, "flow: action disabled; skipped", ev,
			s.Action, slog.Int(LogKeyBlock, s.Block))
		return
	}

	// Give the action its deadline and an API that records its calls.
	sctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	api := &stepAPI{r: r, ctx: sctx, ev: ev, name: s.Action}

	// Run it in a goroutine of its own, so that an action ignoring its
	// context cannot hold the logout past the deadline.
	done := make(chan error, 1)
	run := e.Action().Run
	go func() { done <- callAction(sctx, run, ev, api) }()

	// Wait for the action or its deadline, whichever comes first. An
	// action that finished just as the deadline passed has finished.
	var err error
	select {
	case err = <-done:
	case <-sctx.Done():
		select {
		case err = <-done:
		default:
			err = fmt.Errorf("flow: action %q did not finish: %w",
				s.Action, sctx.Err())
		}
	}

	// The step is over: an abandoned action can no longer write, and
	// what it did is final.
	api.close()
	s.Calls, s.AlreadyApplied = api.calls, api.dups
	if err == nil && api.werr != nil {
		err = fmt.Errorf("flow: action %q: a metadata write failed: %w",
			s.Action, api.werr)
	}
	for _, c := range api.calls {
		if c.API == action.CallSetCustomClaim && c.Err == nil {
			if res.Claims == nil {
				res.Claims = make(map[string]any)
			}
			res.Claims[c.Key] = c.Value
		}
	}

	// A failure is logged and recorded; the flow goes on.
	if err != nil {
		s.Status, s.Err = StatusFailed, err
		r.log(ctx, slog.LevelError, "flow: action failed", ev, s.Action,
			slog.Int(LogKeyBlock, s.Block), slog.Any(LogKeyError, err))
		return
	}
	s.Status = StatusOK
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
	ctx  context.Context // the step's, ending at its deadline
	ev   *action.Event
	name string // the action's

	// wmu is held across each store call, so that close waits for a
	// write under way and writes happen one at a time. Writes count
	// under it, to number receipts.
	wmu    sync.Mutex
	writes int

	// inFn is set while an update function runs, inside a store call:
	// a write from there would wait for itself.
	inFn atomic.Bool

	// mu guards what follows; closed changes under wmu and mu both.
	mu     sync.Mutex
	closed bool
	calls  []action.Call
	dups   int   // writes found already applied
	werr   error // the first write that failed
}

var (
	_ action.API        = (*stepAPI)(nil)
	_ action.UserAPI    = (*userAPI)(nil)
	_ action.SessionAPI = (*sessionAPI)(nil)
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
	c := action.Call{API: action.CallLog, Level: level, Message: msg}
	if len(attrs) > 0 {
		c.Attrs = slices.Clone(attrs)
	}
	if !a.record(c) {
		return
	}
	a.r.log(a.ctx, level, msg, a.ev, a.name, attrs...)
}

// record appends c to the calls, unless the step is over.
func (a *stepAPI) record(c action.Call) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.append(c)
	return true
}

// append adds c to the calls; mu must be held.
func (a *stepAPI) append(c action.Call) {
	if a.calls == nil {
		a.calls = make([]action.Call, 0, callsHint)
	}
	a.calls = append(a.calls, c)
}

// close ends the step, waiting for a write under way.
func (a *stepAPI) close() {
	a.wmu.Lock()
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.wmu.Unlock()
}

// SetAppMetadata implements [action.UserAPI].
func (u *userAPI) SetAppMetadata(ctx context.Context, patch metadata.Map) error {
	return (*stepAPI)(u).write(ctx, patch, nil)
}

// UpdateAppMetadata implements [action.UserAPI].
func (u *userAPI) UpdateAppMetadata(ctx context.Context, fn metadata.UpdateFunc) error {
	if fn == nil {
		return fmt.Errorf("%w: nil update function", metadata.ErrInvalidPatch)
	}
	return (*stepAPI)(u).write(ctx, nil, fn)
}

// write stores patch, or the patch fn computes, with a receipt naming the
// session, the action and the write's rank in this run, so that the same
// write retried by a later run is applied once. It records the call with
// the patch applied.
func (a *stepAPI) write(ctx context.Context, patch metadata.Map,
	fn metadata.UpdateFunc) error {

	// A write from inside an update function would wait for itself.
	if a.inFn.Load() {
		err := fmt.Errorf("%w: action %q", ErrNestedWrite, a.name)
		a.record(action.Call{API: action.CallSetAppMetadata,
			Patch: patch, Err: err})
		return err
	}

	// Hold wmu across the store call: the step cannot end with a write
	// half done, and a write after its end never starts.
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if a.closed {
		return fmt.Errorf("%w: action %q wrote app_metadata after its "+
			"step", ErrStepOver, a.name)
	}
	a.writes++
	receipt := a.ev.Session.ID + "/" + a.name + "/" +
		strconv.Itoa(a.writes)

	// The store call ends at the step's deadline, whatever context the
	// action passed.
	ctx, stop := a.bound(ctx)
	defer stop()

	// Remember what an update function returned, to record it.
	applied := patch
	err := a.r.store.Update(ctx, a.ev.User.ID, receipt,
		func(cur metadata.Map) (metadata.Map, error) {
			if fn == nil {
				return patch, nil
			}
			a.inFn.Store(true)
			defer a.inFn.Store(false)
			p, err := fn(cur)
			applied = p
			return p, err
		})

	// A receipt already recorded means an earlier run stored this write:
	// it succeeded.
	a.mu.Lock()
	defer a.mu.Unlock()
	if errors.Is(err, metadata.ErrDuplicate) {
		a.dups++
		a.append(action.Call{API: action.CallSetAppMetadata, Patch: patch})
		a.r.log(a.ctx, slog.LevelDebug, "flow: write already applied by "+
			"an earlier run", a.ev, a.name,
			slog.String(LogKeyReceipt, receipt))
		return nil
	}
	a.append(action.Call{API: action.CallSetAppMetadata, Patch: applied,
		Err: err})
	if err != nil && a.werr == nil {
		a.werr = err
	}
	return err
}

// bound returns a context for a store call: ctx itself when it is the
// step's, else one that also ends with the step.
func (a *stepAPI) bound(ctx context.Context) (context.Context, func()) {
	if ctx == nil || ctx == a.ctx {
		return a.ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(a.ctx, cancel)
	return ctx, func() {
		unhook()
		cancel()
	}
}

// SetCustomClaim implements [action.SessionAPI]. It refuses an empty key
// and a value that cannot be encoded as JSON, with an error wrapping
// [ErrInvalidClaim].
func (s *sessionAPI) SetCustomClaim(key string, value any) error {
	var err error
	if key == "" {
		err = fmt.Errorf("%w: empty key", ErrInvalidClaim)
	} else if verr := metadata.Validate(metadata.Map{key: value}); verr != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidClaim, verr)
	}

	a := (*stepAPI)(s)
	c := action.Call{API: action.CallSetCustomClaim, Key: key, Value: value,
		Err: err}
	if !a.record(c) {
		return fmt.Errorf("%w: action %q set a claim after its step",
			ErrStepOver, a.name)
	}
	return err
}
