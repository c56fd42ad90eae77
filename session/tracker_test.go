package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/session"
)

func TestTouchCoalesces(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		touches  []time.Duration // each after the previous
		want     int             // store writes after Start's
	}{
		{"within one interval", time.Minute,
			[]time.Duration{time.Second, 10 * time.Second, 40 * time.Second},
			0},
		{"one write per interval", time.Minute,
			[]time.Duration{30 * time.Second, 30 * time.Second,
				30 * time.Second, 30 * time.Second}, 2},
		{"default interval is a minute", 0,
			[]time.Duration{59 * time.Second, time.Second}, 1},
		{"negative writes every touch", -1,
			[]time.Duration{time.Second, time.Second, 0}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := setup(t, session.Options{Interval: tc.interval}, "u1")
			fx.start(t, "u1", "s1")
			before := fx.sessions.writes()
			for _, d := range tc.touches {
				fx.clk.Add(d)
				fx.touch(t, "s1")
			}
			if got := fx.sessions.writes() - before; got != tc.want {
				t.Errorf("store writes = %d, want %d", got, tc.want)
			}

			// Whatever was written, memory holds the last activity.
			ev, err := fx.tracker.Event(t.Context(), "s1", action.Expire)
			if err != nil {
				t.Fatalf("Event() error: %v", err)
			}
			got, _ := ev.Session.LastActiveAt.Time()
			if !got.Equal(fx.clk.Now()) {
				t.Errorf("last activity = %v, want %v", got, fx.clk.Now())
			}
		})
	}
}

func TestTouchConcurrentWritesOnce(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	fx.start(t, "u1", "s1")
	before := fx.sessions.writes()
	fx.clk.Add(time.Minute)

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := fx.tracker.Touch(t.Context(), "s1"); err != nil {
				t.Errorf("Touch() error: %v", err)
			}
		})
	}
	wg.Wait()
	if got := fx.sessions.writes() - before; got != 1 {
		t.Errorf("store writes = %d, want 1", got)
	}
}

func TestTouchErrors(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, fx *fixture)
		sid     string
		want    error
		live    []string // what the store still holds as live
	}{
		{"never started", func(*testing.T, *fixture) {}, "nope",
			session.ErrUnknown, nil},
		{"empty ID", func(*testing.T, *fixture) {}, "",
			session.ErrBadInput, nil},
		{"after a logout", func(t *testing.T, fx *fixture) {
			fx.start(t, "u1", "s1")
			if _, err := fx.tracker.End(t.Context(), "s1",
				action.Logout); err != nil {
				t.Fatalf("End() error: %v", err)
			}
		}, "s1", session.ErrUnknown, nil},
		{"ended, but the store missed it", func(t *testing.T, fx *fixture) {
			fx.start(t, "u1", "s1")
			fx.sessions.failEnd = map[string]bool{"s1": true}
			if _, err := fx.tracker.End(t.Context(), "s1",
				action.Logout); !errors.Is(err, errInjected) {
				t.Fatalf("End() error = %v, want errInjected", err)
			}
		}, "s1", session.ErrEnded, []string{"s1"}},
		{"ended by another process", func(t *testing.T, fx *fixture) {
			fx.start(t, "u1", "s1")
			other, err := session.NewTracker(session.Options{
				Runner: fx.runner, Store: fx.sessions, Clock: fx.clk})
			if err != nil {
				t.Fatalf("NewTracker: %v", err)
			}
			if _, err := other.End(t.Context(), "s1",
				action.Revoke); err != nil {
				t.Fatalf("End() error: %v", err)
			}
			fx.clk.Add(time.Hour) // a write is due
		}, "s1", session.ErrEnded, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := setup(t, session.Options{}, "u1")
			tc.prepare(t, fx)
			err := fx.tracker.Touch(t.Context(), tc.sid)
			if !errors.Is(err, tc.want) {
				t.Errorf("Touch(%q) error = %v, want %v", tc.sid, err,
					tc.want)
			}
			if diff := cmp.Diff(tc.live, fx.live(t),
				cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("live sessions mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTouchFromAnotherProcess: a session started by one tracker is
// touched and ended through another sharing the store.
func TestTouchFromAnotherProcess(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	fx.start(t, "u1", "s1")
	other, err := session.NewTracker(session.Options{Runner: fx.runner,
		Store: fx.sessions, Clock: fx.clk})
	if err != nil {
		t.Fatalf("NewTracker: %v", err)
	}
	fx.clk.Add(5 * time.Minute)
	if err := other.Touch(t.Context(), "s1"); err != nil {
		t.Fatalf("Touch() through the other tracker: %v", err)
	}
	fx.clk.Add(time.Hour)
	if _, err := fx.tracker.End(t.Context(), "s1",
		action.Expire); err != nil {
		t.Fatalf("End() error: %v", err)
	}
	if got := fx.figures(t, "u1").TotalSessionSeconds; got != 300 {
		t.Errorf("total = %d s, want 300", got)
	}
}

func TestStart(t *testing.T) {
	fx := setup(t, session.Options{}, "u1", "u2")
	fx.start(t, "u1", "s1")
	fx.start(t, "u1", "s1") // again: nothing changes
	if err := fx.tracker.Start(t.Context(), "u2",
		"s1"); !errors.Is(err, session.ErrBadInput) {
		t.Errorf("Start() of another user's session error = %v, want "+
			"ErrBadInput", err)
	}
	if _, err := fx.tracker.End(t.Context(), "s1",
		action.Logout); err != nil {
		t.Fatalf("End() error: %v", err)
	}
	if err := fx.tracker.Start(t.Context(), "u1",
		"s1"); !errors.Is(err, session.ErrEnded) {
		t.Errorf("Start() of an ended session error = %v, want ErrEnded",
			err)
	}
}

func TestBadInput(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	fx.start(t, "u1", "s1")
	ctx := t.Context()
	tr := fx.tracker
	tests := []struct {
		name string
		err  error
	}{
		{"NewTracker without runner", second(session.NewTracker(
			session.Options{}))},
		{"NewSweeper without tracker", second(session.NewSweeper(nil,
			session.SweeperOptions{}))},
		{"NewSweeper with a negative batch", second(session.NewSweeper(tr,
			session.SweeperOptions{BatchSize: -1}))},
		{"Start without user", tr.Start(ctx, "", "s2")},
		{"Start without session", tr.Start(ctx, "u1", "")},
		{"Start with NUL in the user ID", tr.Start(ctx, "u\x001", "s3")},
		{"Start with a session ID not UTF-8", tr.Start(ctx, "u1", "s\xff")},
		{"End with NUL in the session ID", second(tr.End(ctx, "s\x00",
			action.Logout))},
		{"Event with a session ID not UTF-8", second(tr.Event(ctx, "s\xff",
			action.Logout))},
		{"EndAll with a user ID over 1 KiB", second(tr.EndAll(ctx,
			strings.Repeat("u", action.MaxIDBytes+1), action.Revoke))},
		{"End by a trigger that ends nothing", second(tr.End(ctx, "s1",
			"login"))},
		{"End by an empty trigger", second(tr.End(ctx, "s1", ""))},
		{"Event by a trigger that ends nothing", second(tr.Event(ctx, "s1",
			"login"))},
		{"EndAll without user", second(tr.EndAll(ctx, "", action.Revoke))},
		{"EndAll by a trigger that ends nothing", second(tr.EndAll(ctx,
			"u1", "login"))},
		{"Put without IDs", fx.sessions.Put(ctx, session.Record{})},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, session.ErrBadInput) {
			t.Errorf("%s: error = %v, want ErrBadInput", tc.name, tc.err)
		}
	}
	if diff := cmp.Diff([]string{"s1"}, fx.live(t)); diff != "" {
		t.Errorf("live sessions mismatch (-want +got):\n%s", diff)
	}
}

// second returns the error of a call returning two values.
func second[T any](_ T, err error) error { return err }

func TestMemStore(t *testing.T) {
	ctx := context.Background()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	fx := setup(t, session.Options{})
	m := session.NewMemStore(session.MemStoreOptions{Clock: fx.clk})
	put := func(r session.Record) error {
		return m.Put(ctx, r)
	}

	// Activity only moves forward; the start stays as first stored.
	for _, err := range []error{
		put(session.Record{ID: "a", UserID: "u1", Start: at(0),
			LastActive: at(0)}),
		put(session.Record{ID: "b", UserID: "u2", Start: at(0),
			LastActive: at(time.Hour)}),
		put(session.Record{ID: "a", UserID: "u1", Start: at(time.Hour),
			LastActive: at(10 * time.Minute)}),
		put(session.Record{ID: "a", UserID: "u1", Start: at(0),
			LastActive: at(5 * time.Minute)}),
		put(session.Record{ID: "c", UserID: "u1", Start: at(0),
			LastActive: at(0)}),
		put(session.Record{ID: "c", UserID: "u1", Ended: at(time.Hour)}),
	} {
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if err := put(session.Record{ID: "c", UserID: "u1",
		LastActive: at(2 * time.Hour)}); !errors.Is(err, session.ErrEnded) {
		t.Errorf("Put after the end error = %v, want ErrEnded", err)
	}
	if err := put(session.Record{ID: "a",
		UserID: "u2"}); !errors.Is(err, session.ErrBadInput) {
		t.Errorf("Put for another user error = %v, want ErrBadInput", err)
	}

	a := session.Record{ID: "a", UserID: "u1", Start: at(0),
		LastActive: at(10 * time.Minute)}
	b := session.Record{ID: "b", UserID: "u2", Start: at(0),
		LastActive: at(time.Hour)}
	tests := []struct {
		name string
		q    session.Query
		want []session.Record
	}{
		{"all live", session.Query{}, []session.Record{a, b}},
		{"by ID", session.Query{ID: "b"}, []session.Record{b}},
		{"ended by ID", session.Query{ID: "c"}, nil},
		{"by user", session.Query{UserID: "u1"}, []session.Record{a}},
		{"idle", session.Query{IdleBefore: at(30 * time.Minute)},
			[]session.Record{a}},
		{"idle or old", session.Query{IdleBefore: at(time.Minute),
			StartedBefore: at(time.Second)}, []session.Record{a, b}},
		{"paged", session.Query{Limit: 1}, []session.Record{a}},
		{"after", session.Query{After: "a", Limit: 1}, []session.Record{b}},
	}
	for _, tc := range tests {
		got, err := m.List(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: List error: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: List mismatch (-want +got):\n%s", tc.name, diff)
		}
	}

	// Find reads a session live or ended, until the retention.
	type found struct {
		Record session.Record
		Found  bool
	}
	find := func(id string) found {
		r, ok, err := m.Find(ctx, id)
		if err != nil {
			t.Fatalf("Find(%q): %v", id, err)
		}
		return found{r, ok}
	}
	c := session.Record{ID: "c", UserID: "u1", Start: at(0),
		LastActive: at(0), Ended: at(time.Hour)}
	for _, tc := range []struct {
		id   string
		want found
	}{
		{"a", found{a, true}},
		{"c", found{c, true}},
		{"nope", found{}},
	} {
		if diff := cmp.Diff(tc.want, find(tc.id)); diff != "" {
			t.Errorf("Find(%q) mismatch (-want +got):\n%s", tc.id, diff)
		}
	}

	// An ended session is forgotten after the retention: its ID may
	// then start again.
	fx.clk.Add(session.DefaultRetention + 2*time.Hour)
	if diff := cmp.Diff(found{}, find("c")); diff != "" {
		t.Errorf("Find(c) after the retention mismatch (-want +got):\n%s",
			diff)
	}
	if _, err := m.List(ctx, session.Query{}); err != nil {
		t.Fatalf("List: %v", err)
	}
	if err := put(session.Record{ID: "c", UserID: "u1"}); err != nil {
		t.Errorf("Put after the retention error: %v", err)
	}
}

// TestEndRunnerSaysNothing: a runner that returns neither a result nor
// an error leaves the session live, and End says so with an error.
func TestEndRunnerSaysNothing(t *testing.T) {
	fx := setup(t, session.Options{}, "u1")
	tr, err := session.NewTracker(session.Options{Runner: silentRunner{},
		Store: fx.sessions, Clock: fx.clk})
	if err != nil {
		t.Fatalf("NewTracker: %v", err)
	}
	if err := tr.Start(t.Context(), "u1", "s1"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	res, err := tr.End(t.Context(), "s1", action.Logout)
	if res != nil || err == nil {
		t.Errorf("End() = %+v, %v; want nil and an error", res, err)
	}
	if diff := cmp.Diff([]string{"s1"}, fx.live(t)); diff != "" {
		t.Errorf("live sessions mismatch (-want +got):\n%s", diff)
	}
}

// silentRunner returns neither a result nor an error.
type silentRunner struct{}

func (silentRunner) Run(context.Context, *action.Event) (*flow.Result,
	error) {

	return nil, nil
}

// TestMemStoreRevoked marks a session revoked: it stays live, keeps the
// first revocation, takes no more activity (a Put that would move it on
// returns ErrEnded, one that does not is accepted), and ends as any
// other.
func TestMemStoreRevoked(t *testing.T) {
	ctx := context.Background()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	fx := setup(t, session.Options{})
	m := session.NewMemStore(session.MemStoreOptions{Clock: fx.clk})
	rec := func(active, revoked time.Duration, by action.Trigger,
		ended time.Duration) session.Record {
		r := session.Record{ID: "a", UserID: "u1", Start: at(0),
			LastActive: at(active), Completion: by}
		if revoked > 0 {
			r.Revoked = at(revoked)
		}
		if ended > 0 {
			r.Ended = at(ended)
		}
		return r
	}
	steps := []struct {
		name string
		put  session.Record
		want error
	}{
		{"start", rec(0, 0, "", 0), nil},
		{"revoke", rec(time.Hour, time.Hour, action.Expire, 0), nil},
		{"revoke again", rec(time.Hour, 2*time.Hour, action.Revoke, 0), nil},
		{"activity", rec(2*time.Hour, 0, "", 0), session.ErrEnded},
		{"no new activity", rec(30*time.Minute, 0, "", 0), nil},
		{"end", rec(3*time.Hour, 0, "", 3*time.Hour), nil},
	}
	for _, st := range steps {
		if err := m.Put(ctx, st.put); !errors.Is(err, st.want) {
			t.Fatalf("%s: Put error = %v, want %v", st.name, err, st.want)
		}
		if st.name == "no new activity" {
			got, err := m.List(ctx, session.Query{ID: "a"})
			want := []session.Record{rec(time.Hour, time.Hour,
				action.Expire, 0)}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("revoked session mismatch (-want +got):\n%s", diff)
			}
		}
	}
	for _, by := range []action.Trigger{"", action.Logout, "login"} {
		bad := session.Record{ID: "b", UserID: "u1", Start: at(0),
			LastActive: at(0), Revoked: at(time.Hour), Completion: by}
		if err := m.Put(ctx, bad); !errors.Is(err, session.ErrBadInput) {
			t.Errorf("Put of a record revoked with completion %q: error = "+
				"%v, want ErrBadInput", by, err)
		}
	}
	r, found, err := m.Find(ctx, "a")
	if err != nil || !found || !r.Ended.Equal(at(3*time.Hour)) ||
		!r.LastActive.Equal(at(3*time.Hour)) {
		t.Errorf("Find(a) = %+v, %t, %v; want it ended at 3h", r, found, err)
	}
}
