package flow_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
)

// ctxKey is the type of the context value the caller passes down.
type ctxKey struct{}

func TestActionContext(t *testing.T) {
	const timeout = 3 * time.Second
	tests := []struct {
		name   string
		caller time.Duration // the caller's own deadline; 0: none
		want   time.Duration // the deadline the action sees, from now
	}{
		{"the step's deadline", 0, timeout},
		{"the caller's, when earlier", time.Second, time.Second},
		{"the step's, when earlier", time.Minute, timeout},
	}
	for _, tc := range tests {
		for _, inline := range []bool{false, true} {
			name := tc.name
			if inline {
				name += ", inline"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					checkActionContext(t, timeout, tc.caller, tc.want,
						inline)
				})
			})
		}
	}
}

// checkActionContext runs an action, inline or not, that looks at its
// context, under a caller whose deadline is caller (none when 0), and
// checks what it saw: the caller's values, no error, a deadline of want
// from now; and, once the step is over, a context that has ended.
func checkActionContext(t *testing.T, timeout, caller, want time.Duration,
	inline bool) {

	// The action keeps its context and what it saw.
	var (
		kept     context.Context
		deadline time.Time
		hasDL    bool
		value    any
		errIn    error
	)
	look := fnAction("look", func(ctx context.Context, _ *action.Event,
		_ action.API) error {
		kept = ctx
		deadline, hasDL = ctx.Deadline()
		value, errIn = ctx.Value(ctxKey{}), ctx.Err()
		return nil
	})
	look.Inline = inline
	fx := setup(t, flow.Options{Timeout: timeout}, look)
	fx.publish(t, "look")

	ctx := context.WithValue(t.Context(), ctxKey{}, "passed")
	if caller > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, caller)
		defer cancel()
	}
	start := time.Now()
	if _, err := fx.runner.Run(ctx, event("s1")); err != nil {
		t.Fatalf("Run() error: %v", err)
	}

	if value != "passed" {
		t.Errorf("Value = %v, want the caller's", value)
	}
	if errIn != nil {
		t.Errorf("Err during the step = %v, want nil", errIn)
	}
	if !hasDL || !deadline.Equal(start.Add(want)) {
		t.Errorf("Deadline = %v, %t; want now + %v, true", deadline, hasDL,
			want)
	}
	select {
	case <-kept.Done():
	default:
		t.Errorf("Done not closed after the step")
	}
	if err := kept.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after the step = %v, want Canceled", err)
	}
}

func TestActionContextDoneAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// wait waits on its context, as a well-behaved action does.
		wait := fnAction("wait", func(ctx context.Context,
			_ *action.Event, _ action.API) error {
			<-ctx.Done()
			return ctx.Err()
		})
		fx := setup(t, flow.Options{Timeout: time.Second}, wait)
		fx.publish(t, "wait")

		res, err := fx.runner.Run(t.Context(), event("s1"))
		if err != nil {
			t.Fatalf("Run() error: %v", err)
		}
		if err := stepErr(t, res, "wait"); !errors.Is(err,
			context.DeadlineExceeded) {
			t.Errorf("step error = %v, want DeadlineExceeded", err)
		}
	})
}

// TestDerivedContexts derives contexts from an action's context, and
// registers functions on it with context.AfterFunc, as drivers do for
// each query: none of them starts a goroutine, and each ends, or runs,
// once the step is over or its deadline has passed.
func TestDerivedContexts(t *testing.T) {
	const derived = 100
	tests := []struct {
		name    string
		inline  bool
		wait    bool  // the action waits on a derived context
		wantErr error // what the derived contexts end with
	}{
		{"step over", false, false, context.Canceled},
		{"step over, inline", true, false, context.Canceled},
		{"deadline", false, true, context.DeadlineExceeded},
		{"deadline, inline", true, true, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				checkDerived(t, derived, tc.inline, tc.wait, tc.wantErr)
			})
		})
	}
}

func checkDerived(t *testing.T, derived int, inline, wait bool,
	wantErr error) {

	var (
		kids           []context.Context
		started        int
		stopped, again bool
		ran, ranStop   int
	)
	act := fnAction("derive", func(ctx context.Context, _ *action.Event,
		_ action.API) error {
		before := runtime.NumGoroutine()
		for range derived {
			kid, cancel := context.WithCancel(ctx)
			_ = cancel // ends with the step
			kids = append(kids, kid)
		}
		stop := context.AfterFunc(ctx, func() { ranStop++ })
		context.AfterFunc(ctx, func() { ran++ })
		started = runtime.NumGoroutine() - before
		stopped, again = stop(), stop()
		if wait {
			<-kids[0].Done()
			return kids[0].Err()
		}
		return nil
	})
	act.Inline = inline
	fx := setup(t, flow.Options{Timeout: time.Second}, act)
	fx.publish(t, "derive")
	if _, err := fx.runner.Run(t.Context(), event("s1")); err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	synctest.Wait() // for the functions AfterFunc started

	// NumGoroutine counts the whole process's, which other tests' may
	// join or leave meanwhile: one goroutine per derived context is what
	// must not be.
	if started >= derived/2 {
		t.Errorf("deriving %d contexts started %d goroutines, want none "+
			"of their own", derived, started)
	}
	if !stopped || again {
		t.Errorf("stop() = %t, then %t; want true, then false", stopped,
			again)
	}
	if ran != 1 || ranStop != 0 {
		t.Errorf("functions ran %d times, and the stopped one %d; "+
			"want 1 and 0", ran, ranStop)
	}
	for i, kid := range kids {
		if err := kid.Err(); !errors.Is(err, wantErr) {
			t.Fatalf("derived context %d: Err() = %v, want %v", i, err,
				wantErr)
		}
	}
}

// TestAfterFuncOnEndedContext registers a function on the context of a
// step that is over: it runs at once, and stopping it reports false.
func TestAfterFuncOnEndedContext(t *testing.T) {
	bothModes(t, func(t *testing.T, inline bool) {
		var kept context.Context
		act := fnAction("keep", func(ctx context.Context,
			_ *action.Event, _ action.API) error {
			kept = ctx
			return nil
		})
		act.Inline = inline
		fx := setup(t, flow.Options{}, act)
		fx.publish(t, "keep")
		if _, err := fx.runner.Run(t.Context(), event("s1")); err != nil {
			t.Fatalf("Run() error: %v", err)
		}
		ran := 0
		stop := context.AfterFunc(kept, func() { ran++ })
		synctest.Wait()
		if got := stop(); got || ran != 1 {
			t.Errorf("after the step: ran %d times, stop() = %t; "+
				"want 1, false", ran, got)
		}
	})
}
