package sessionstats_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// levelMsg is one log record as the worked examples state it.
type levelMsg struct {
	Level slog.Level
	Msg   string
}

// levelMsgs keeps the level and message of every record it handles.
type levelMsgs struct {
	mu  sync.Mutex
	got []levelMsg
}

func (h *levelMsgs) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelMsgs) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelMsgs) WithGroup(string) slog.Handler            { return h }
func (h *levelMsgs) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, levelMsg{r.Level, r.Message})
	return nil
}

// TestWorkedExamplesThroughFlow plays each row of the SPEC's worked
// examples through a whole flow [RunCustomAction(track-logout-stats),
// RevokeSession] on the in-memory store, and reads the store afterwards.
func TestWorkedExamplesThroughFlow(t *testing.T) {
	login := time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	tenAM := login.Add(2 * time.Hour)
	history := metadata.Map{
		sessionstats.KeySessionCount:        3,
		sessionstats.KeyTotalSessionSeconds: 9000,
	}
	summary := levelMsg{slog.LevelInfo, "session recorded"}
	tooShort := levelMsg{slog.LevelInfo,
		"session too short to record: written as 0 s"}
	missing := levelMsg{slog.LevelWarn,
		"last_login_at missing: session recorded as 0 s"}
	figures := func(at string, dur, count, total int64) metadata.Map {
		return metadata.Map{
			sessionstats.KeyLastLogoutAt:        at,
			sessionstats.KeyLastSessionDuration: dur,
			sessionstats.KeySessionCount:        count,
			sessionstats.KeyTotalSessionSeconds: total,
		}
	}

	tests := []struct {
		name     string
		now      time.Time
		login    action.Timestamp
		before   metadata.Map
		want     metadata.Map
		wantLogs []levelMsg
	}{
		{
			name:     "two hours",
			now:      tenAM,
			login:    action.At(login),
			before:   history,
			want:     figures("2026-05-20T10:00:00.000Z", 7200, 4, 16200),
			wantLogs: []levelMsg{summary},
		},
		{
			name:     "last_login_at absent",
			now:      tenAM,
			before:   history,
			want:     figures("2026-05-20T10:00:00.000Z", 0, 4, 9000),
			wantLogs: []levelMsg{missing, summary},
		},
		{
			name:     "59 s",
			now:      login.Add(59 * time.Second),
			login:    action.At(login),
			want:     figures("2026-05-20T08:00:59.000Z", 0, 1, 0),
			wantLogs: []levelMsg{tooShort, summary},
		},
		{
			name:     "60 s",
			now:      login.Add(60 * time.Second),
			login:    action.At(login),
			want:     figures("2026-05-20T08:01:00.000Z", 60, 1, 60),
			wantLogs: []levelMsg{summary},
		},
		{
			name:     "login 5 min in the future",
			now:      login.Add(-5 * time.Minute),
			login:    action.At(login),
			want:     figures("2026-05-20T07:55:00.000Z", 0, 1, 0),
			wantLogs: []levelMsg{tooShort, summary},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			clk := clock.NewMock()
			clk.Set(tc.now)
			store := memstore.New(memstore.Options{Clock: clk})
			if err := store.Put(ctx, "u1", tc.before); err != nil {
				t.Fatal(err)
			}
			logs := new(levelMsgs)
			var atRevoke metadata.Map
			revoker := flow.RevokerFunc(func(ctx context.Context, uid, _ string) error {
				var err error
				atRevoke, err = store.Get(ctx, uid)
				return err
			})
			runner := statsRunner(t, flow.Options{
				Store: store, Revoker: revoker, Logger: slog.New(logs),
			}, clk)

			res, err := runner.Run(ctx, &action.Event{
				Trigger: action.Logout,
				User: action.User{ID: "u1", LastLoginAt: tc.login,
					AppMetadata: tc.before},
				Session: action.Session{ID: "s1"},
			})
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			if f := res.Failed(); len(f) != 0 {
				t.Errorf("Run() failed steps: %+v", f)
			}

			// The figures are stored, and were so before the revoker ran.
			got, err := store.Get(ctx, "u1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("stored app_metadata mismatch (-want +got):\n%s",
					diff)
			}
			if diff := cmp.Diff(tc.want, atRevoke); diff != "" {
				t.Errorf("app_metadata seen by the revoker mismatch "+
					"(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLogs, logs.got); diff != "" {
				t.Errorf("logs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// failAfterOnce stores the first write whose receipt starts with
// prefix, then reports it failed: the ambiguous store failure.
type failAfterOnce struct {
	metadata.Store
	prefix string
	done   bool
}

func (s *failAfterOnce) Update(ctx context.Context, user, receipt string,
	fn metadata.UpdateFunc) error {

	err := s.Store.Update(ctx, user, receipt, fn)
	if err == nil && !s.done && strings.HasPrefix(receipt, s.prefix) {
		s.done = true
		return errors.New("reply lost")
	}
	return err
}

// TestRetryAfterAmbiguousWrite retries a logout whose figures write was
// stored but reported failed: the retry counts nothing more, and logs no
// summary of figures it did not compute.
func TestRetryAfterAmbiguousWrite(t *testing.T) {
	ctx := t.Context()
	login := time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	clk := clock.NewMock()
	clk.Set(login.Add(2 * time.Hour))
	mem := memstore.New(memstore.Options{Clock: clk})
	if err := mem.Put(ctx, "u1", nil); err != nil {
		t.Fatal(err)
	}
	logs := new(levelMsgs)
	runner := statsRunner(t, flow.Options{
		Store: &failAfterOnce{Store: mem, prefix: "s1/"},
		Revoker: flow.RevokerFunc(func(context.Context, string,
			string) error {
			return nil
		}),
		Logger: slog.New(logs),
	}, clk)
	ev := &action.Event{
		User:    action.User{ID: "u1", LastLoginAt: action.At(login)},
		Session: action.Session{ID: "s1"},
	}
	if res, err := runner.Run(ctx, ev); err != nil || !res.Retry {
		t.Fatalf("Run() = %+v, %v; want a result to retry", res, err)
	}
	logs.got = nil
	if res, err := runner.Run(ctx, ev); err != nil || res.Retry ||
		res.Steps[0].AlreadyApplied != 1 {
		t.Fatalf("retried Run() = %+v, %v; want the write found applied",
			res, err)
	}
	want := []levelMsg{
		{slog.LevelDebug, "flow: write already applied by an earlier run"},
		{slog.LevelDebug, "session recorded by an earlier run"},
	}
	if diff := cmp.Diff(want, logs.got); diff != "" {
		t.Errorf("retry's logs mismatch (-want +got):\n%s", diff)
	}
	md, err := mem.Get(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if f := sessionstats.Read(md); f.SessionCount != 1 ||
		f.TotalSessionSeconds != 7200 {
		t.Errorf("figures = %+v, want 1 session of 7200 s", f)
	}
}

// statsRunner returns a runner with opts whose Logout flow is
// [track-logout-stats, RevokeSession], the action on clk.
func statsRunner(tb testing.TB, opts flow.Options,
	clk sessionstats.Clock) *flow.Runner {

	tb.Helper()
	runner, err := flow.NewRunner(opts)
	if err != nil {
		tb.Fatal(err)
	}
	reg, err := action.NewRegistry(sessionstats.New(
		sessionstats.Options{Clock: clk}))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := runner.Publish(flow.Must(action.Logout, reg,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{})); err != nil {
		tb.Fatal(err)
	}
	return runner
}

// TestFlowRefusesStatsTwice: a flow listing track-logout-stats twice
// would count each session twice, and flow.New refuses it.
func TestFlowRefusesStatsTwice(t *testing.T) {
	reg, err := action.NewRegistry(sessionstats.New(sessionstats.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	stats := flow.RunCustomAction{Action: sessionstats.Name}
	_, err = flow.New(action.Logout, reg, stats, stats, flow.RevokeSession{})
	if !errors.Is(err, flow.ErrInvalidFlow) {
		t.Errorf("New() error = %v, want ErrInvalidFlow", err)
	}
}
