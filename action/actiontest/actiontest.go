// Package actiontest runs an action on its own, the way a console's Test
// tab does: give it an event, run it on a [Recorder], and read back every
// API call it made, in order, and the app_metadata it left.
//
//	r, err := actiontest.Run(ctx, a, actiontest.LogoutEvent("u1", login, nil),
//		actiontest.Options{})
//	for _, c := range r.Calls() { ... }
//
// The recorder stores app_metadata in memory, merging and validating each
// write as a real store does, so that an action tested here behaves the
// same inside a flow.
package actiontest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// SessionID is the session ID of the events [LogoutEvent] builds.
const SessionID = "test-session"

// Errors returned by [Run], wrapped with details.
var (
	// ErrPanic is returned when the action panicked.
	ErrPanic = errors.New("actiontest: action panicked")

	// ErrTrigger is returned for an action that is not registered for
	// the event's trigger, or that has no Run function.
	ErrTrigger = errors.New("actiontest: action cannot run on the event")
)

// Options configures a [Recorder]. The zero value means the defaults.
type Options struct {
	// Limits bounds the app_metadata the recorder accepts, as a store's
	// limits do.
	Limits metadata.Limits

	// Logger receives the action's logs as well; nil is silent.
	Logger *slog.Logger

	// Retries makes every UpdateAppMetadata call its function this many
	// times more, as a store does after conflicting writes, before the
	// call whose patch counts. It tests that the function has no side
	// effects.
	Retries int
}

// Recorder is an [action.API] that keeps app_metadata in memory and
// records every call made through it, in order. It is safe for concurrent
// use.
type Recorder struct {
	opts Options

	mu     sync.Mutex
	md     metadata.Map // nil until something is stored
	claims map[string]any
	calls  []action.Call
}

// The recorder is the whole API an action sees.
var (
	_ action.API        = (*Recorder)(nil)
	_ action.UserAPI    = (*Recorder)(nil)
	_ action.SessionAPI = (*Recorder)(nil)
)

// NewRecorder returns a recorder whose stored app_metadata starts as a
// deep copy of the event's; ev may be nil, and nothing is stored then.
//
// The seed is not validated: it stands for what a store returns, and an
// action must cope with whatever a store holds, as the SPEC asks of
// track-logout-stats for a NaN or a string where a count should be. So a
// seed no patch could write (NaN, a reserved or empty key) is stored as it
// is, for the action to read; what the action writes is validated as a
// store does (see [Recorder.SetAppMetadata]). A seed that holds itself is
// copied down to one level below [metadata.MaxDepth] and shared below
// that. To seed only what a store could hold, check the event's
// app_metadata with [metadata.Validate] first, as cmd/actiontest does.
func NewRecorder(ev *action.Event, opts Options) *Recorder {
	r := &Recorder{opts: opts}
	if ev != nil {
		r.md = copyPatch(ev.User.AppMetadata)
	}
	return r
}

// Run runs a on ev with a new recorder and returns the recorder, with the
// error the action returned. A panic is recovered into an error wrapping
// [ErrPanic]; an action not registered for the event's trigger (an empty
// trigger meaning [action.Logout]) does not run, and the error wraps
// [ErrTrigger].
//
// Run checks nothing else of ev, unlike a flow's runner, which refuses an
// event without a user ID or a session ID: a nil event, an event without
// IDs and one whose app_metadata a store could not hold (see
// [NewRecorder]) all run, so that an action's own handling of them can be
// tested. cmd/actiontest, which stands for a real auth server, refuses
// them.
func Run(ctx context.Context, a action.Action, ev *action.Event,
	opts Options) (r *Recorder, err error) {
	r = NewRecorder(ev, opts)

	// Refuse what a flow would refuse to build.
	trigger := action.Logout
	if ev != nil && ev.Trigger != "" {
		trigger = ev.Trigger
	}
	if a.Run == nil || !a.Handles(trigger) {
		return r, fmt.Errorf("%w: action %q, trigger %q", ErrTrigger,
			a.Name, trigger)
	}

	// Run it as a flow would, a panic being a failure like any other.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: %v", ErrPanic, a.Name, p)
		}
	}()
	return r, a.Run(ctx, ev, r)
}

// LogoutEvent returns a logout event for user userID, whose session, with
// ID [SessionID], began at lastLoginAt; a zero lastLoginAt leaves
// last_login_at absent. appMetadata is the user's snapshot and seeds a
// recorder's store; the event keeps the map, not a copy.
func LogoutEvent(userID string, lastLoginAt time.Time, appMetadata metadata.Map) *action.Event {
	login := action.At(lastLoginAt) // absent for the zero time
	return &action.Event{
		Trigger: action.Logout,
		User: action.User{
			ID:          userID,
			LastLoginAt: login,
			AppMetadata: appMetadata,
		},
		Session: action.Session{ID: SessionID, CreatedAt: login},
	}
}

// Calls returns the calls made so far, in order. Their patches and
// attributes are copies: changing them changes no record.
func (r *Recorder) Calls() []action.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := slices.Clone(r.calls)
	for i := range calls {
		calls[i].Patch = copyPatch(calls[i].Patch)
		calls[i].Attrs = slices.Clone(calls[i].Attrs)
	}
	return calls
}

// AppMetadata returns a deep copy of the stored app_metadata, nil when
// nothing is stored.
func (r *Recorder) AppMetadata() metadata.Map {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyPatch(r.md)
}

// Claims returns the custom claims set so far, nil when none is.
func (r *Recorder) Claims() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.claims == nil {
		return nil
	}
	return metadata.Clone(r.claims)
}

// Log records the call and passes it on to [Options.Logger], if any.
func (r *Recorder) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	r.record(action.Call{
		API:     action.CallLog,
		Level:   level,
		Message: msg,
		Attrs:   slices.Clone(attrs),
	})
	if r.opts.Logger != nil {
		r.opts.Logger.LogAttrs(context.Background(), level, msg, attrs...)
	}
}

// User returns the recorder itself.
func (r *Recorder) User() action.UserAPI { return r }

// Session returns the recorder itself.
func (r *Recorder) Session() action.SessionAPI { return r }

// SetAppMetadata validates patch and merges it into the stored
// app_metadata with [metadata.Apply] under the recorder's limits, and
// records the call. A refused patch is recorded with its error, and
// nothing of it is stored.
func (r *Recorder) SetAppMetadata(ctx context.Context, patch metadata.Map) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply(ctx, patch)
}

// UpdateAppMetadata calls fn with a deep copy of the stored app_metadata
// (nil when nothing is stored), a fresh one at each call, as a store
// passes its own copy: fn changing current changes nothing stored. It
// applies the patch fn returns as [Recorder.SetAppMetadata] does. The
// call is recorded as a setAppMetadata with that patch. An error of fn is
// recorded and returned unchanged. fn runs under the recorder's lock: it
// must not call the recorder.
func (r *Recorder) UpdateAppMetadata(ctx context.Context, fn metadata.UpdateFunc) error {
	return r.update(ctx, func() (metadata.Map, error) {
		return fn(copyPatch(r.md))
	})
}

// UpdateAppMetadataView is [Recorder.UpdateAppMetadata] with fn reading
// the stored app_metadata through a view of it, as a store that is a
// [metadata.Viewer] gives.
func (r *Recorder) UpdateAppMetadataView(ctx context.Context, fn metadata.ViewFunc) error {
	return r.update(ctx, func() (metadata.Map, error) {
		return fn(metadata.ViewOf(r.md))
	})
}

// update runs patch as a store would after conflicts, keeping the last
// result, then applies and records it.
func (r *Recorder) update(ctx context.Context,
	patch func() (metadata.Map, error)) error {

	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		r.calls = append(r.calls, action.Call{
			API: action.CallSetAppMetadata, Err: err,
		})
		return err
	}
	var p metadata.Map
	var err error
	for range 1 + max(r.opts.Retries, 0) {
		p, err = patch()
	}
	if err != nil {
		r.calls = append(r.calls, action.Call{
			API: action.CallSetAppMetadata, Patch: p, Err: err,
		})
		return err
	}
	return r.apply(ctx, p)
}

// apply stores and records one write; r.mu is held.
func (r *Recorder) apply(ctx context.Context, patch metadata.Map) error {
	err := ctx.Err()
	if err == nil {
		var md metadata.Map
		md, err = metadata.Apply(r.md, patch, r.opts.Limits)
		if err == nil {
			r.md = md
		}
	}
	r.calls = append(r.calls, action.Call{
		API:   action.CallSetAppMetadata,
		Patch: copyPatch(patch),
		Err:   err,
	})
	return err
}

// copyPatch returns a deep copy of a recorded patch or of the stored
// app_metadata, as [metadata.View.Map] makes one: down to one level below
// the deepest a valid patch nests, deeper values shared, not followed. A
// refused patch or an unchecked seed may hold itself, which
// [metadata.Clone] would follow until the stack overflowed.
func copyPatch(patch metadata.Map) metadata.Map {
	return metadata.ViewOf(patch).Map()
}

// SetCustomClaim records the call and keeps the claim. A claim needs a
// key and a value that JSON can encode, checked as [metadata.Validate]
// checks a patch.
func (r *Recorder) SetCustomClaim(key string, value any) error {
	// Check the claim as if it were a one-key patch.
	claim := metadata.Map{key: value}
	err := metadata.Validate(claim)
	if err != nil {
		err = fmt.Errorf("actiontest: custom claim: %w", err)
	} else {
		value = metadata.Clone(claim)[key]
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		if r.claims == nil {
			r.claims = make(map[string]any)
		}
		r.claims[key] = value
	}
	r.calls = append(r.calls, action.Call{
		API: action.CallSetCustomClaim, Key: key, Value: value, Err: err,
	})
	return err
}

func (r *Recorder) record(c action.Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}
