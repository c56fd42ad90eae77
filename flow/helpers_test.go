package flow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
)

// logout lists the Logout trigger, for actions.
var logout = []action.Trigger{action.Logout}

// fnAction returns an action for Logout running fn.
func fnAction(name string, fn action.Func) action.Action {
	return action.Action{Name: name, Triggers: logout, Run: fn}
}

// counter returns an action that adds 1 to the stored key "n" in an
// atomic update, as accumulating actions do.
func counter(name string) action.Action {
	return fnAction(name, func(ctx context.Context, _ *action.Event,
		api action.API) error {
		return api.User().UpdateAppMetadata(ctx, increment)
	})
}

// increment is the update of counter.
func increment(cur metadata.Map) (metadata.Map, error) {
	n, _ := metadata.Int(cur["n"])
	return metadata.Map{"n": n + 1}, nil
}

// revoker records the sessions it revokes, and calls hook first when set.
type revoker struct {
	mu    sync.Mutex
	calls []string // "user/session"
	hook  func(ctx context.Context, userID, sessionID string) error
}

func (r *revoker) Revoke(ctx context.Context, userID, sessionID string) error {
	r.mu.Lock()
	r.calls = append(r.calls, userID+"/"+sessionID)
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		return hook(ctx, userID, sessionID)
	}
	return nil
}

// revoked returns the sessions revoked so far, in order.
func (r *revoker) revoked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// fixture is a runner on a memory store with one user, "u1".
type fixture struct {
	store  *memstore.Store
	reg    *action.Registry
	rev    *revoker
	runner *flow.Runner
}

// setup returns a fixture whose registry holds actions. opts.Store and
// opts.Revoker, when nil, are the fixture's.
func setup(tb testing.TB, opts flow.Options, actions ...action.Action) *fixture {
	tb.Helper()
	fx := &fixture{store: memstore.New(memstore.Options{}), rev: new(revoker)}
	if err := fx.store.Put(context.Background(), "u1", nil); err != nil {
		tb.Fatalf("Put: %v", err)
	}
	reg, err := action.NewRegistry(actions...)
	if err != nil {
		tb.Fatalf("NewRegistry: %v", err)
	}
	fx.reg = reg
	if opts.Store == nil {
		opts.Store = fx.store
	}
	if opts.Revoker == nil {
		opts.Revoker = fx.rev
	}
	if fx.runner, err = flow.NewRunner(opts); err != nil {
		tb.Fatalf("NewRunner: %v", err)
	}
	return fx
}

// publish publishes the Logout flow running the named actions, then
// RevokeSession, and returns its version.
func (fx *fixture) publish(tb testing.TB, names ...string) int {
	tb.Helper()
	var blocks []flow.Block
	for _, n := range names {
		blocks = append(blocks, flow.RunCustomAction{Action: n})
	}
	blocks = append(blocks, flow.RevokeSession{})
	f, err := flow.New(action.Logout, fx.reg, blocks...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	v, err := fx.runner.Publish(f)
	if err != nil {
		tb.Fatalf("Publish: %v", err)
	}
	return v
}

// stored returns u1's app_metadata.
func (fx *fixture) stored(tb testing.TB) metadata.Map {
	tb.Helper()
	m, err := fx.store.Get(context.Background(), "u1")
	if err != nil {
		tb.Fatalf("Get: %v", err)
	}
	return m
}

// count returns u1's stored "n".
func (fx *fixture) count(tb testing.TB) int64 {
	tb.Helper()
	n, _ := metadata.Int(fx.stored(tb)["n"])
	return n
}

// event returns a logout of session sid of u1.
func event(sid string) *action.Event {
	return &action.Event{
		Trigger: action.Logout,
		User:    action.User{ID: "u1"},
		Session: action.Session{ID: sid},
	}
}

// stepSummary is what a test checks of a step, besides its calls.
type stepSummary struct {
	Kind, Action string
	Status       flow.Status
	Failed       bool // Err != nil
}

// summarize returns the summaries of res's steps.
func summarize(res *flow.Result) []stepSummary {
	var out []stepSummary
	for _, s := range res.Steps {
		out = append(out, stepSummary{s.Kind, s.Action, s.Status, s.Err != nil})
	}
	return out
}

// ok, skipped and failed build step summaries; revoked is the
// RevokeSession step that succeeded.
func ok(name string) stepSummary {
	return stepSummary{"RunCustomAction", name, flow.StatusOK, false}
}

func skipped(name string) stepSummary {
	return stepSummary{"RunCustomAction", name, flow.StatusSkipped, false}
}

func failed(name string) stepSummary {
	return stepSummary{"RunCustomAction", name, flow.StatusFailed, true}
}

var revoked = stepSummary{"RevokeSession", "", flow.StatusOK, false}

// stepErr returns the error of res's step for the named action.
func stepErr(tb testing.TB, res *flow.Result, name string) error {
	tb.Helper()
	for _, s := range res.Steps {
		if s.Action == name {
			return s.Err
		}
	}
	tb.Fatalf("no step for action %q", name)
	return nil
}

// records is a slog.Handler that keeps every record, with its attributes
// as a map, for tests to read.
type records struct {
	mu    sync.Mutex
	level slog.Level
	recs  []logged
}

// logged is one record kept by records.
type logged struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (h *records) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level
}

func (h *records) Handle(_ context.Context, r slog.Record) error {
	l := logged{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		l.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, l)
	h.mu.Unlock()
	return nil
}

func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// all returns the records kept so far.
func (h *records) all() []logged {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.recs)
}

// errInjected is the error of the faults tests inject.
var errInjected = errors.New("injected fault")

// bothModes runs test twice, as subtests each in a synctest bubble of
// its own: for actions in a goroutine of their own, then inline.
func bothModes(t *testing.T, test func(t *testing.T, inline bool)) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprintf("inline=%t", inline), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { test(t, inline) })
		})
	}
}
