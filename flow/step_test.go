package flow_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
)

// TestStuckUpdateFunction has an action whose update function blocks in
// its own code, ignoring every context. The logout still ends, one
// timeout after the action's deadline, with the session revoked, the
// step failed and the run marked for a retry; and once the function is
// released, a retry counts the session once. (That a stuck function
// holds up no other write of the user is memstore's test.)
func TestStuckUpdateFunction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var stuck atomic.Bool
		stuck.Store(true)
		block := func(cur metadata.Map) (metadata.Map, error) {
			if stuck.Load() {
				<-release
			}
			return increment(cur)
		}
		fx := setup(t, flow.Options{Timeout: time.Second},
			fnAction("count", func(ctx context.Context, _ *action.Event,
				api action.API) error {
				return api.User().UpdateAppMetadata(ctx, block)
			}))
		fx.publish(t, "count")

		start := time.Now()
		res, err := fx.runner.Run(t.Context(), event("s1"))
		if err != nil {
			t.Fatalf("Run() error = %v", err)
		}
		if got, want := time.Since(start), 2*time.Second; got != want {
			t.Errorf("Run() took %v, want %v (deadline, then as long "+
				"again for the write)", got, want)
		}
		want := []stepSummary{failed("count"), revoked}
		if diff := cmp.Diff(want, summarize(res)); diff != "" {
			t.Errorf("steps mismatch (-want +got):\n%s", diff)
		}
		if err := stepErr(t, res, "count"); !errors.Is(err,
			context.DeadlineExceeded) {
			t.Errorf("step error = %v, want DeadlineExceeded", err)
		}
		if !res.Retry {
			t.Errorf("Result.Retry = false, want true")
		}

		// Released, the stuck function's write gives up: its context
		// ended. A retry then counts the session, once.
		stuck.Store(false)
		close(release)
		synctest.Wait()
		res, err = fx.runner.Run(t.Context(), event("s1"))
		if err != nil || res.Repeat || res.Retry || len(res.Failed()) != 0 {
			t.Fatalf("retried Run() = %+v, %v; want a full run", res, err)
		}
		if got := fx.count(t); got != 1 {
			t.Errorf("stored n = %d, want 1", got)
		}
		if diff := cmp.Diff([]string{"u1/s1", "u1/s1"},
			fx.revoked()); diff != "" {
			t.Errorf("revoked mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestSwitchMovedDuringRun turns the second action off from inside the
// first: the run under way still runs it, and the next run skips it.
func TestSwitchMovedDuringRun(t *testing.T) {
	var fx *fixture
	fx = setup(t, flow.Options{},
		fnAction("switch-off", func(context.Context, *action.Event,
			action.API) error {
			return fx.reg.SetEnabled("count", false)
		}),
		counter("count"))
	fx.publish(t, "switch-off", "count")

	res, err := fx.runner.Run(t.Context(), event("s1"))
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	want := []stepSummary{ok("switch-off"), ok("count"), revoked}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("first run's steps mismatch (-want +got):\n%s", diff)
	}

	res, err = fx.runner.Run(t.Context(), event("s2"))
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	want = []stepSummary{ok("switch-off"), skipped("count"), revoked}
	if diff := cmp.Diff(want, summarize(res)); diff != "" {
		t.Errorf("next run's steps mismatch (-want +got):\n%s", diff)
	}
	if got := fx.count(t); got != 1 {
		t.Errorf("stored n = %d, want 1", got)
	}
}

// TestActionsGetTheirOwnEvent has an action change its event: the next
// action, the run's receipts and the caller's event see none of it, and
// one that changes it after its deadline races with nothing.
func TestActionsGetTheirOwnEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := setup(t, flow.Options{Timeout: time.Second},
			fnAction("swap-user", func(_ context.Context, ev *action.Event,
				_ action.API) error {
				ev.User.ID = "u2"
				return nil
			}),
			fnAction("late-swap", func(_ context.Context, ev *action.Event,
				_ action.API) error {
				time.Sleep(2 * time.Second) // past its deadline
				ev.User.ID = "u3"
				return nil
			}),
			counter("count"))
		fx.publish(t, "swap-user", "late-swap", "count")

		ev := event("s1")
		res, err := fx.runner.Run(t.Context(), ev)
		if err != nil {
			t.Fatalf("Run() error = %v", err)
		}
		want := []stepSummary{ok("swap-user"), failed("late-swap"),
			ok("count"), revoked}
		if diff := cmp.Diff(want, summarize(res)); diff != "" {
			t.Errorf("steps mismatch (-want +got):\n%s", diff)
		}
		if got := fx.count(t); got != 1 {
			t.Errorf("u1's stored n = %d, want 1", got)
		}
		if ev.User.ID != "u1" {
			t.Errorf("caller's event user = %q, want u1", ev.User.ID)
		}
		time.Sleep(2 * time.Second) // fake time: the late action finishes

		// The session's end was recorded for u1: a repeat runs nothing.
		res, err = fx.runner.Run(t.Context(), event("s1"))
		if err != nil || !res.Repeat {
			t.Errorf("repeated Run() = %+v, %v; want a repeat", res, err)
		}
	})
}

// TestUpdateFunctionMisuse runs both atomic updates of the API, each given
// no function, and each whose function writes from inside itself: the
// first is refused, the inner write of the second is refused while the
// outer one is stored, and every call is recorded.
func TestUpdateFunctionMisuse(t *testing.T) {
	// update calls one of the two atomic updates with fn, viewing the
	// value for UpdateAppMetadataView.
	type update func(ctx context.Context, u action.UserAPI,
		fn metadata.UpdateFunc) error
	plain := func(ctx context.Context, u action.UserAPI,
		fn metadata.UpdateFunc) error {
		return u.UpdateAppMetadata(ctx, fn)
	}
	viewed := func(ctx context.Context, u action.UserAPI,
		fn metadata.UpdateFunc) error {
		if fn == nil {
			return u.UpdateAppMetadataView(ctx, nil)
		}
		return u.UpdateAppMetadataView(ctx,
			func(v metadata.View) (metadata.Map, error) {
				return fn(v.Map())
			})
	}
	for name, call := range map[string]update{
		"UpdateAppMetadata": plain, "UpdateAppMetadataView": viewed,
	} {
		t.Run(name, func(t *testing.T) {
			var nilErr, innerErr error
			misuse := fnAction("misuse", func(ctx context.Context,
				_ *action.Event, api action.API) error {
				nilErr = call(ctx, api.User(), nil)
				return call(ctx, api.User(),
					func(metadata.Map) (metadata.Map, error) {
						innerErr = api.User().SetAppMetadata(ctx,
							metadata.Map{"inner": true})
						return metadata.Map{"outer": true}, nil
					})
			})
			fx := setup(t, flow.Options{}, misuse)
			fx.publish(t, "misuse")
			res := runS1(t, fx, []stepSummary{ok("misuse"), revoked})

			if !errors.Is(nilErr, metadata.ErrInvalidPatch) {
				t.Errorf("nil function: %v, want ErrInvalidPatch", nilErr)
			}
			if !errors.Is(innerErr, flow.ErrNestedWrite) {
				t.Errorf("inner write: %v, want ErrNestedWrite", innerErr)
			}
			if diff := cmp.Diff(metadata.Map{"outer": true},
				fx.stored(t)); diff != "" {
				t.Errorf("stored mismatch (-want +got):\n%s", diff)
			}
			want := []action.Call{
				{API: action.CallSetAppMetadata,
					Patch: metadata.Map{"inner": true},
					Err:   flow.ErrNestedWrite},
				{API: action.CallSetAppMetadata,
					Patch: metadata.Map{"outer": true}},
			}
			if diff := cmp.Diff(want, res.Steps[0].Calls,
				cmpopts.EquateErrors()); diff != "" {
				t.Errorf("calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUpdateFunctionRefuses has an action's update function return an
// error of its own: the step fails, but nothing is left to retry, since
// the function would refuse again; the session's end is recorded.
func TestUpdateFunctionRefuses(t *testing.T) {
	errRefused := errors.New("refusing")
	for name, view := range map[string]bool{"UpdateAppMetadata": false,
		"UpdateAppMetadataView": true} {
		t.Run(name, func(t *testing.T) {
			refuse := fnAction("refuse", func(ctx context.Context,
				_ *action.Event, api action.API) error {
				if view {
					return api.User().UpdateAppMetadataView(ctx,
						func(metadata.View) (metadata.Map, error) {
							return nil, errRefused
						})
				}
				return api.User().UpdateAppMetadata(ctx,
					func(metadata.Map) (metadata.Map, error) {
						return nil, errRefused
					})
			})
			fx := setup(t, flow.Options{}, refuse)
			fx.publish(t, "refuse")
			res := runS1(t, fx, []stepSummary{failed("refuse"), revoked})
			if err := stepErr(t, res, "refuse"); !errors.Is(err, errRefused) {
				t.Errorf("step error = %v, want the function's", err)
			}
			if res.Retry {
				t.Errorf("Retry = true, want false: the function refuses")
			}
			again, err := fx.runner.Run(t.Context(), event("s1"))
			if err != nil || !again.Repeat {
				t.Errorf("second Run() = %+v, %v; want a repeat", again, err)
			}
		})
	}
}
