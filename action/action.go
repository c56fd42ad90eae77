// Package action defines what a Logout-flow action is and what it may do:
// the [Trigger] that runs it, the [Event] it receives, the [API] it acts
// through, and the [Registry] that holds actions by name, each with an
// enabled switch.
//
// An action is a plain Go function:
//
//	greet := action.Action{
//		Name:     "say-bye",
//		Triggers: []action.Trigger{action.Logout},
//		Run: func(ctx context.Context, ev *action.Event, api action.API) error {
//			api.Log(slog.LevelInfo, "bye")
//			return nil
//		},
//	}
//
// Package flow runs actions inside a flow; package actiontest runs one on
// its own and records every call it makes.
package action

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"unicode"
)

// Trigger names the event that runs a flow and its actions.
type Trigger string

// Session-end triggers: each ends one session, and a session ends once,
// by whichever comes first.
const (
	// Logout runs when a user signs out.
	Logout Trigger = "logout"

	// Expire runs when a session ends without a sign-out: it was idle
	// past its limit, or reached its absolute lifetime. The session's
	// use ended at its last activity ([Session.LastActiveAt]), not at
	// the moment its expiry was noticed.
	Expire Trigger = "expire"

	// Revoke runs when a session is ended by someone other than its
	// user clicking "sign out": an administrator, or the user's "sign
	// out everywhere" ending the user's other sessions.
	Revoke Trigger = "revoke"
)

// SessionEnds returns the triggers that end a session: [Logout], [Expire]
// and [Revoke], in that order. The slice is the caller's.
func SessionEnds() []Trigger {
	return []Trigger{Logout, Expire, Revoke}
}

// EndsSession reports whether t is one of [SessionEnds].
func (t Trigger) EndsSession() bool {
	switch t {
	case Logout, Expire, Revoke:
		return true
	}
	return false
}

// Func is the body of an action. It runs once per event, under a context
// whose deadline the flow sets. A flow gives each action its own copy of
// the event, so a change to ev's fields reaches nothing else; the maps
// it holds (app_metadata) are shared, and must not be changed. It must
// not keep api after it returns. An error it returns, like a panic, is
// reported in the run's result and never stops the flow; the flow logs
// its text, and a panic's value, as they are, so keep personal data out
// of them.
type Func func(ctx context.Context, ev *Event, api API) error

// Action is a named piece of Go code that a flow runs.
type Action struct {
	// Name identifies the action in a registry and in flows: ASCII
	// letters and digits, '-', '_' and '.', at most 64 bytes.
	Name string

	// Triggers lists the triggers whose flows may run the action.
	Triggers []Trigger

	// Run is the action's body.
	Run Func

	// Inline runs the action on the goroutine of the flow's run instead
	// of a goroutine of its own, which saves a hand-off between
	// goroutines, most of an action's cost in a flow. The action's
	// deadline then ends its context, as always, but nothing can cut
	// short an inline action that blocks without watching that context:
	// it holds the logout as long as it blocks. Set Inline only for an
	// action whose every wait ends with its context, as
	// track-logout-stats does: its only waits are store calls, and
	// stores return when their context ends (metadata.Store requires
	// it; a store of your own must too). An inline action that returns
	// after its deadline fails, and its writes and custom claims after
	// the deadline are refused, as an action in its own goroutine would
	// see them.
	Inline bool

	// Pure says that the action does nothing but through its API: its
	// logs, its writes and its claims are all it does, so that running
	// it for a session that has already ended does no harm once they
	// are discarded. The flow runner may then start a pure action that
	// is a flow's first block before it knows whether the session has
	// ended, and learn that in the action's first write, where the
	// store can tell (metadata.GuardedUpdater): one store call instead
	// of two. It holds the action's logs until that write has shown the
	// session live, and discards everything the action did, logs
	// included, if the session had ended; an update function of the
	// action may then also run on the event's snapshot of app_metadata
	// first, as on any value the store may retry it on. Leave it unset
	// for an action that calls anything outside its API (a web hook, a
	// queue, a counter of its own): the runner would call it for
	// repeats too. track-logout-stats is pure.
	Pure bool

	// Once says that a flow may list the action in one block only: a
	// second run of it in one logout would do its work twice, as a
	// second track-logout-stats would count the session twice. flow.New
	// refuses a flow that lists such an action again.
	Once bool
}

// Handles reports whether a is registered for trigger t.
func (a Action) Handles(t Trigger) bool {
	return slices.Contains(a.Triggers, t)
}

// Errors returned by [Registry] methods, wrapped with the action's name.
var (
	ErrInvalidAction = errors.New("action: invalid action")
	ErrDuplicate     = errors.New("action: already registered")
	ErrUnknown       = errors.New("action: unknown action")
)

// Entry is one registered action with its enabled switch. Flows keep the
// entries of the actions they run and read the switch at every run, so a
// change takes effect from the next run on.
type Entry struct {
	action   Action
	disabled atomic.Bool
}

// Action returns the registered action.
func (e *Entry) Action() Action { return e.action }

// Enabled reports whether the action runs.
func (e *Entry) Enabled() bool { return !e.disabled.Load() }

// SetEnabled turns the action on or off.
func (e *Entry) SetEnabled(on bool) { e.disabled.Store(!on) }

// Registry holds actions by name. It is safe for concurrent use; its zero
// value is empty and ready to use.
type Registry struct {
	mu      sync.RWMutex
	entries map[string]*Entry
}

// NewRegistry returns a registry holding actions, all enabled.
func NewRegistry(actions ...Action) (*Registry, error) {
	r := new(Registry)
	for _, a := range actions {
		if err := r.Register(a); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds a, enabled. It refuses an invalid name, an action with no
// trigger, with a trigger that ends no session (flows run only for
// those, [SessionEnds]), or with no body, and a name already registered.
func (r *Registry) Register(a Action) error {
	if err := checkName(a.Name); err != nil {
		return err
	}
	if len(a.Triggers) == 0 {
		return fmt.Errorf("%w %q: no trigger", ErrInvalidAction, a.Name)
	}
	for _, t := range a.Triggers {
		if !t.EndsSession() {
			return fmt.Errorf("%w %q: trigger %q ends no session; an "+
				"action runs for %q", ErrInvalidAction, a.Name, t,
				SessionEnds())
		}
	}
	if a.Run == nil {
		return fmt.Errorf("%w %q: no Run function", ErrInvalidAction, a.Name)
	}
	a.Triggers = slices.Clone(a.Triggers)

	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entries[a.Name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicate, a.Name)
	}
	if r.entries == nil {
		r.entries = make(map[string]*Entry)
	}
	r.entries[a.Name] = &Entry{action: a}
	return nil
}

// Lookup returns the entry of the named action.
func (r *Registry) Lookup(name string) (*Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	return e, ok
}

// SetEnabled turns the named action on or off, from the next run on.
func (r *Registry) SetEnabled(name string, on bool) error {
	e, ok := r.Lookup(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknown, name)
	}
	e.SetEnabled(on)
	return nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w %q: name must be 1 to 64 bytes",
			ErrInvalidAction, name)
	}
	for _, c := range name {
		ok := c < unicode.MaxASCII &&
			(unicode.IsLetter(c) || unicode.IsDigit(c) ||
				c == '-' || c == '_' || c == '.')
		if !ok {
			return fmt.Errorf("%w %q: name may hold only letters, "+
				"digits, '-', '_' and '.'", ErrInvalidAction, name)
		}
	}
	return nil
}
