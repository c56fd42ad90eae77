package flow_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
)

// inlineAction returns an inline action for Logout running fn.
func inlineAction(name string, fn action.Func) action.Action {
	a := fnAction(name, fn)
	a.Inline = true
	return a
}

// TestInlineAction runs inline actions that end every way an action can,
// in fake time: each failure is the step's, the flow goes on, and the
// session is revoked unless the caller gave up.
func TestInlineAction(t *testing.T) {
	const timeout = 3 * time.Second
	tests := []struct {
		name string
		run  action.Func

		// caller is the deadline of the caller's context; 0: none.
		caller time.Duration

		want    []stepSummary
		wantErr error  // wrapped by the step's error; nil: none
		message string // in the step's error
		runErr  error  // wrapped by Run's error; nil: none
		stored  int64  // the count stored by the write before the wait
		retry   bool   // Result.Retry
	}{
		{
			name: "returns at once",
			run: func(ctx context.Context, _ *action.Event,
				api action.API) error {
				return api.User().UpdateAppMetadata(ctx, increment)
			},
			want:   []stepSummary{ok("in"), revoked},
			stored: 1,
		},
		{
			name: "waits on Done until the deadline",
			run: func(ctx context.Context, _ *action.Event,
				api action.API) error {
				if err := api.User().UpdateAppMetadata(ctx,
					increment); err != nil {
					return err
				}
				<-ctx.Done()
				return ctx.Err()
			},
			want:    []stepSummary{failed("in"), revoked},
			wantErr: context.DeadlineExceeded,
			stored:  1,
		},
		{
			name: "polls Err until the deadline",
			run: func(ctx context.Context, _ *action.Event,
				_ action.API) error {
				for ctx.Err() == nil {
					<-time.After(timeout / 10)
				}
				return ctx.Err()
			},
			want:    []stepSummary{failed("in"), revoked},
			wantErr: context.DeadlineExceeded,
		},
		{
			name: "returns nil after its deadline",
			run: func(ctx context.Context, _ *action.Event,
				api action.API) error {
				if err := api.User().UpdateAppMetadata(ctx,
					increment); err != nil {
					return err
				}
				<-time.After(2 * timeout) // ignoring ctx
				return nil
			},
			want:    []stepSummary{failed("in"), revoked},
			wantErr: context.DeadlineExceeded,
			message: "returned after its deadline",
			stored:  1,
		},
		{
			// The write comes after the deadline: it is refused, as it
			// is to an action abandoned at its deadline, and not left
			// for a retry, which would overrun the deadline again.
			name: "writes after its deadline",
			run: func(ctx context.Context, _ *action.Event,
				api action.API) error {
				<-time.After(2 * timeout) // ignoring ctx
				return api.User().UpdateAppMetadata(
					context.Background(), increment)
			},
			want:    []stepSummary{failed("in"), revoked},
			wantErr: context.DeadlineExceeded,
			message: "after its context ended",
		},
		{
			name: "panics",
			run: func(context.Context, *action.Event, action.API) error {
				panic("kaboom")
			},
			want:    []stepSummary{failed("in"), revoked},
			wantErr: flow.ErrPanic,
			message: "kaboom",
		},
		{
			name: "outlived by the caller's deadline",
			run: func(ctx context.Context, _ *action.Event,
				_ action.API) error {
				<-ctx.Done()
				return ctx.Err()
			},
			caller: time.Second,
			want: []stepSummary{failed("in"),
				{"RevokeSession", "", flow.StatusSkipped, true}},
			wantErr: context.DeadlineExceeded,
			runErr:  context.DeadlineExceeded,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fx := setup(t, flow.Options{Timeout: timeout},
					inlineAction("in", tc.run))
				fx.publish(t, "in")
				ctx := t.Context()
				if tc.caller > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.caller)
					defer cancel()
				}

				res, err := fx.runner.Run(ctx, event("s1"))
				if !errors.Is(err, tc.runErr) {
					t.Fatalf("Run() error = %v, want %v", err, tc.runErr)
				}
				if diff := cmp.Diff(tc.want, summarize(res)); diff != "" {
					t.Errorf("steps mismatch (-want +got):\n%s", diff)
				}
				serr := res.Steps[0].Err
				if !errors.Is(serr, tc.wantErr) ||
					!strings.Contains(errText(serr), tc.message) {
					t.Errorf("step error = %v, want one wrapping %v, "+
						"holding %q", serr, tc.wantErr, tc.message)
				}
				if res.Retry != tc.retry {
					t.Errorf("Retry = %t, want %t", res.Retry, tc.retry)
				}
				if got := fx.count(t); got != tc.stored {
					t.Errorf("stored n = %d, want %d", got, tc.stored)
				}
				wantRevoked := 1
				if tc.runErr != nil {
					wantRevoked = 0
				}
				if got := len(fx.revoked()); got != wantRevoked {
					t.Errorf("revoked %v, want %d", fx.revoked(),
						wantRevoked)
				}
			})
		})
	}
}

// TestInlineActionAPIAfterItsStep checks that what an inline action does
// with its API once its step is over is refused. (That its context has
// ended then is TestActionContext's.)
func TestInlineActionAPIAfterItsStep(t *testing.T) {
	var keptAPI action.API
	keep := inlineAction("keep", func(_ context.Context,
		_ *action.Event, api action.API) error {
		keptAPI = api
		return nil
	})
	fx := setup(t, flow.Options{}, keep)
	fx.publish(t, "keep")
	if _, err := fx.runner.Run(t.Context(), event("s1")); err != nil {
		t.Fatalf("Run() error: %v", err)
	}

	err := keptAPI.User().SetAppMetadata(context.Background(),
		metadata.Map{"late": true})
	if !errors.Is(err, flow.ErrStepOver) {
		t.Errorf("late SetAppMetadata() = %v, want ErrStepOver", err)
	}
	if _, ok := fx.stored(t)["late"]; ok {
		t.Errorf("late write stored: %v", fx.stored(t))
	}
}

// errText is err's message, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestInlineActionGoexit has an inline action end its goroutine with
// runtime.Goexit, as t.FailNow does: the caller's goroutine ends, and
// the next run of the session runs instead of waiting for it forever.
func TestInlineActionGoexit(t *testing.T) {
	// In a bubble, a run left waiting for ever fails the test at once.
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		exit := inlineAction("exit", func(ctx context.Context,
			_ *action.Event, api action.API) error {
			if calls.Add(1) == 1 {
				runtime.Goexit()
			}
			return api.User().UpdateAppMetadata(ctx, increment)
		})
		fx := setup(t, flow.Options{}, exit)
		fx.publish(t, "exit")

		ended := make(chan struct{})
		go func() {
			defer close(ended)
			_, _ = fx.runner.Run(context.Background(), event("s1"))
			t.Error("Run returned after runtime.Goexit")
		}()
		<-ended

		res := runS1(t, fx, []stepSummary{ok("exit"), revoked})
		if res.Repeat {
			t.Errorf("second Run() is a repeat, want a full run")
		}
		if got := fx.count(t); got != 1 {
			t.Errorf("stored n = %d, want 1", got)
		}
	})
}

// TestActionGoexit has an action in its own goroutine end it with
// runtime.Goexit: its step fails at once, not at its deadline, and the
// flow goes on.
func TestActionGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exit := fnAction("exit", func(context.Context, *action.Event,
			action.API) error {
			runtime.Goexit()
			return nil
		})
		fx := setup(t, flow.Options{}, exit, counter("count"))
		fx.publish(t, "exit", "count")
		start := time.Now()
		res := runS1(t, fx, []stepSummary{failed("exit"), ok("count"),
			revoked})
		if err := stepErr(t, res, "exit"); !strings.Contains(errText(err),
			"runtime.Goexit") {
			t.Errorf("step error = %v, want one naming runtime.Goexit", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("the run waited %v, want no wait", waited)
		}
	})
}

// TestClaimAfterDeadline sets a claim, overruns the step's deadline,
// then sets another: the late one is refused with ErrStepOver, inline or
// not, and only the first reaches the result.
func TestClaimAfterDeadline(t *testing.T) {
	const timeout = time.Second
	bothModes(t, func(t *testing.T, inline bool) {
		late := make(chan error, 1)
		claim := fnAction("claim", func(_ context.Context,
			_ *action.Event, api action.API) error {
			if err := api.Session().SetCustomClaim("before",
				1); err != nil {
				return err
			}
			time.Sleep(2 * timeout) // ignoring its context
			late <- api.Session().SetCustomClaim("after", 2)
			return nil
		})
		claim.Inline = inline
		fx := setup(t, flow.Options{Timeout: timeout}, claim)
		fx.publish(t, "claim")
		res, err := fx.runner.Run(t.Context(), event("s1"))
		if err != nil {
			t.Fatalf("Run() error: %v", err)
		}
		if err := <-late; !errors.Is(err, flow.ErrStepOver) {
			t.Errorf("late SetCustomClaim() = %v, want ErrStepOver",
				err)
		}
		want := map[string]any{"before": 1}
		if diff := cmp.Diff(want, res.Claims); diff != "" {
			t.Errorf("claims mismatch (-want +got):\n%s", diff)
		}
	})
}
