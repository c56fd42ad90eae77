package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/session"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// t0 is when the fixtures' clock starts.
var t0 = time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)

var errInjected = errors.New("injected fault")

// fixture is a whole setup on the fake clock: a memory metadata store,
// a runner with a [track-logout-stats, RevokeSession] flow for each
// session-end trigger, a tracker and its session store.
type fixture struct {
	clk      *clock.Mock
	md       *faultMetadata
	sessions *faultSessions
	rev      *revoker
	reg      *action.Registry
	runner   *recordingRunner
	tracker  *session.Tracker
}

// setup returns a fixture whose tracker has opts, with Runner, Store and
// Clock filled in, and whose metadata store holds users.
func setup(tb testing.TB, opts session.Options, users ...string) *fixture {
	tb.Helper()
	fx := &fixture{clk: clock.NewMock(), rev: new(revoker)}
	fx.clk.Set(t0)
	ctx := context.Background()

	// The user records and the flows of every session end.
	mem := memstore.New(memstore.Options{Clock: fx.clk})
	for _, u := range users {
		if err := mem.Put(ctx, u, nil); err != nil {
			tb.Fatalf("Put(%q): %v", u, err)
		}
	}
	fx.md = &faultMetadata{Store: mem}
	reg, err := action.NewRegistry(
		sessionstats.New(sessionstats.Options{Clock: fx.clk}))
	if err != nil {
		tb.Fatalf("NewRegistry: %v", err)
	}
	fx.reg = reg
	fx.runner = &recordingRunner{Runner: fx.newRunner(tb)}

	// The tracker, on a session store that can fail.
	fx.sessions = &faultSessions{
		Store: session.NewMemStore(session.MemStoreOptions{Clock: fx.clk}),
	}
	opts.Runner, opts.Store, opts.Clock = fx.runner, fx.sessions, fx.clk
	if fx.tracker, err = session.NewTracker(opts); err != nil {
		tb.Fatalf("NewTracker: %v", err)
	}
	return fx
}

// newRunner returns a runner on the fixture's stores with a
// [track-logout-stats, RevokeSession] flow for each session-end trigger.
func (fx *fixture) newRunner(tb testing.TB) *flow.Runner {
	tb.Helper()
	r, err := flow.NewRunner(flow.Options{Store: fx.md, Revoker: fx.rev})
	if err != nil {
		tb.Fatalf("NewRunner: %v", err)
	}
	for _, tr := range action.SessionEnds() {
		f := flow.Must(tr, fx.reg,
			flow.RunCustomAction{Action: sessionstats.Name},
			flow.RevokeSession{})
		if _, err := r.Publish(f); err != nil {
			tb.Fatalf("Publish(%s): %v", tr, err)
		}
	}
	return r
}

// figures returns the user's stored session figures.
func (fx *fixture) figures(tb testing.TB, user string) sessionstats.Figures {
	tb.Helper()
	md, err := fx.md.Get(context.Background(), user)
	if err != nil {
		tb.Fatalf("Get(%q): %v", user, err)
	}
	return sessionstats.Read(md)
}

// start starts the session of user, failing the test on an error.
func (fx *fixture) start(tb testing.TB, user, sid string) {
	tb.Helper()
	if err := fx.tracker.Start(context.Background(), user, sid); err != nil {
		tb.Fatalf("Start(%q, %q): %v", user, sid, err)
	}
}

// touch touches the session, failing the test on an error.
func (fx *fixture) touch(tb testing.TB, sid string) {
	tb.Helper()
	if err := fx.tracker.Touch(context.Background(), sid); err != nil {
		tb.Fatalf("Touch(%q): %v", sid, err)
	}
}

// live returns the IDs of the live sessions in the store.
func (fx *fixture) live(tb testing.TB) []string {
	tb.Helper()
	recs, err := fx.sessions.List(context.Background(), session.Query{})
	if err != nil {
		tb.Fatalf("List: %v", err)
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// recordingRunner runs a flow runner and keeps, for each session, the
// duration each run wrote.
type recordingRunner struct {
	*flow.Runner

	mu        sync.Mutex
	durations map[string][]int64
}

func (r *recordingRunner) Run(ctx context.Context,
	ev *action.Event) (*flow.Result, error) {

	res, err := r.Runner.Run(ctx, ev)
	if res == nil {
		return res, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range res.Steps {
		for _, c := range s.Calls {
			if d, ok := c.Patch[sessionstats.KeyLastSessionDuration]; ok {
				if r.durations == nil {
					r.durations = make(map[string][]int64)
				}
				r.durations[ev.Session.ID] = append(
					r.durations[ev.Session.ID], d.(int64))
			}
		}
	}
	return res, err
}

// written returns the durations written, by session.
func (r *recordingRunner) written() map[string][]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]int64, len(r.durations))
	for k, v := range r.durations {
		out[k] = append([]int64(nil), v...)
	}
	return out
}

// revoker records the sessions it revokes, and fails those fail names,
// once each.
type revoker struct {
	mu      sync.Mutex
	fail    map[string]bool
	revoked []string
}

func (r *revoker) Revoke(_ context.Context, _, sid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail[sid] {
		delete(r.fail, sid)
		return errInjected
	}
	r.revoked = append(r.revoked, sid)
	return nil
}

// faultMetadata fails, once, each Update whose receipt starts with a
// prefix of fail.
type faultMetadata struct {
	metadata.Store

	mu   sync.Mutex
	fail []string
}

func (s *faultMetadata) Update(ctx context.Context, user, receipt string,
	fn metadata.UpdateFunc) error {

	s.mu.Lock()
	for i, p := range s.fail {
		if strings.HasPrefix(receipt, p) {
			s.fail = append(s.fail[:i], s.fail[i+1:]...)
			s.mu.Unlock()
			return errInjected
		}
	}
	s.mu.Unlock()
	return s.Store.Update(ctx, user, receipt, fn)
}

// faultSessions is a session store that fails, once, the Put that ends
// a session named in failEnd, counts Puts, and records each List's
// limit and length.
type faultSessions struct {
	session.Store

	mu      sync.Mutex
	failEnd map[string]bool
	puts    int
	lists   []listCall
}

// listCall is one List a store served.
type listCall struct {
	Limit, Len int
}

func (s *faultSessions) Put(ctx context.Context, r session.Record) error {
	s.mu.Lock()
	s.puts++
	fail := !r.Ended.IsZero() && s.failEnd[r.ID]
	if fail {
		delete(s.failEnd, r.ID)
	}
	s.mu.Unlock()
	if fail {
		return errInjected
	}
	return s.Store.Put(ctx, r)
}

func (s *faultSessions) List(ctx context.Context,
	q session.Query) ([]session.Record, error) {

	recs, err := s.Store.List(ctx, q)
	s.mu.Lock()
	s.lists = append(s.lists, listCall{q.Limit, len(recs)})
	s.mu.Unlock()
	return recs, err
}

// Find forwards to the store it wraps, when that is a [session.Finder].
func (s *faultSessions) Find(ctx context.Context,
	id string) (session.Record, bool, error) {

	if f, ok := s.Store.(session.Finder); ok {
		return f.Find(ctx, id)
	}
	return session.Record{}, false, nil
}

// writes returns the number of Puts so far.
func (s *faultSessions) writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}
