package flow

import (
	"context"
	"log/slog"
	"time"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// DefaultTimeout is the deadline of one action when [Options.Timeout] is
// zero.
const DefaultTimeout = 5 * time.Second

// Revoker ends sessions for the auth server: the RevokeSession block
// calls it. It must be safe for concurrent use, and revoking a session
// that has already ended must succeed.
type Revoker interface {
	Revoke(ctx context.Context, userID, sessionID string) error
}

// RevokerFunc adapts a function to [Revoker].
type RevokerFunc func(ctx context.Context, userID, sessionID string) error

// Revoke calls f.
func (f RevokerFunc) Revoke(ctx context.Context, userID, sessionID string) error {
	return f(ctx, userID, sessionID)
}

// Options configures a [Runner]. The zero value of each field means its
// default, but Store and Revoker are required.
type Options struct {
	// Store keeps app_metadata. Required.
	Store metadata.Store

	// Revoker ends sessions. Required.
	Revoker Revoker

	// Logger receives the runner's and the actions' logs; nil is silent.
	Logger *slog.Logger

	// Timeout is the deadline of each action; zero means DefaultTimeout.
	Timeout time.Duration
}

// Status says what became of one block in a run.
type Status string

// Statuses of a [Step].
const (
	StatusOK      Status = "ok"      // ran and succeeded
	StatusSkipped Status = "skipped" // action disabled
	StatusFailed  Status = "failed"  // error, panic, deadline or store failure
)

// Step is what one block did in a run.
type Step struct {
	// Block is the block's position in the flow, from 1.
	Block int

	// Kind is "RunCustomAction" or "RevokeSession".
	Kind string

	// Action is the action's name, for a RunCustomAction.
	Action string

	Status Status

	// Err is why the block failed.
	Err error

	// Calls are the API calls the action made, in order.
	Calls []action.Call
}

// Result reports a run: what ran, what was skipped, what failed, and every
// API call each action made.
type Result struct {
	Trigger action.Trigger

	// Version is the published version of the flow that ran, from 1.
	Version int

	// Repeat is true when the session had already ended by an earlier run
	// (or by one running at the same time): nothing ran again.
	Repeat bool

	// Steps holds one entry per block, in order.
	Steps []Step
}

// Failed returns the steps that failed.
func (r *Result) Failed() []Step {
	var out []Step
	for _, s := range r.Steps {
		if s.Status == StatusFailed {
			out = append(out, s)
		}
	}
	return out
}

// Runner runs the published flow of each trigger. It is safe for
// concurrent use.
type Runner struct {
	opts Options
}

// NewRunner returns a runner with no flow published.
func NewRunner(opts Options) (*Runner, error) {
	panic("TODO")
}

// Publish makes f the live flow of its trigger, atomically: a run already
// under way finishes on the version it started with, and the next run uses
// f. It returns the version number f got.
func (r *Runner) Publish(f *Flow) (int, error) {
	panic("TODO")
}

// Run runs the live flow of ev.Trigger for ev's session.
func (r *Runner) Run(ctx context.Context, ev *action.Event) (*Result, error) {
	panic("TODO")
}
