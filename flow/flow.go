package flow

import (
	"errors"
	"fmt"

	"github.com/logoutflow/logoutflow/action"
)

// Block is one step of a flow: [RunCustomAction] or [RevokeSession]. The
// set of blocks is closed: only this package defines them.
type Block interface {
	// kind names the block in errors and results.
	kind() string
}

// RunCustomAction runs the named action, if it is enabled.
type RunCustomAction struct {
	// Action is the registered name of the action to run.
	Action string
}

// RevokeSession ends the session through the runner's [Revoker]. A flow
// holds it exactly once, as its last block.
type RevokeSession struct{}

func (RunCustomAction) kind() string { return "RunCustomAction" }
func (RevokeSession) kind() string   { return "RevokeSession" }

// ErrInvalidFlow is wrapped by every error that [New] returns for a flow
// that cannot run. The message names the block's position (counted from
// 1) and, for a RunCustomAction, its action.
var ErrInvalidFlow = errors.New("flow: invalid flow")

// Flow is a validated, immutable list of blocks for one trigger. Build one
// with [New] and make it live with [Runner.Publish].
type Flow struct {
	trigger action.Trigger
	blocks  []Block
	entries []*action.Entry // for each block, its action; nil for others
}

// New validates blocks as a flow for trigger, one of
// [action.SessionEnds], with the actions of reg:
// RevokeSession appears exactly once, as the last block, and every
// RunCustomAction names an action of reg registered for trigger. The
// registry's enabled switches are read again at every run.
func New(trigger action.Trigger, reg *action.Registry, blocks ...Block) (*Flow, error) {
	if trigger == "" {
		return nil, fmt.Errorf("%w: no trigger", ErrInvalidFlow)
	}

	// Every flow ends its session: its trigger must be one that does,
	// or a flow run at a sign-in, say, would mark the session ended and
	// its real end would never count.
	if !trigger.EndsSession() {
		return nil, fmt.Errorf("%w: trigger %q ends no session; a flow "+
			"runs for one of %q", ErrInvalidFlow, trigger,
			action.SessionEnds())
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%w: no blocks; a flow ends with RevokeSession",
			ErrInvalidFlow)
	}
	f := &Flow{
		trigger: trigger,
		blocks:  make([]Block, len(blocks)),
		entries: make([]*action.Entry, len(blocks)),
	}
	copy(f.blocks, blocks)

	// Check each block where it stands.
	last := len(blocks) - 1
	for i, b := range blocks {
		pos := i + 1
		switch b := b.(type) {
		case RunCustomAction:
			e, err := resolve(trigger, reg, pos, b.Action)
			if err != nil {
				return nil, err
			}
			if e.Action().Once {
				for j, prev := range f.entries[:i] {
					if prev != nil && prev.Action().Name == b.Action {
						return nil, fmt.Errorf("%w: block %d: action %q "+
							"runs once a flow, and block %d runs it",
							ErrInvalidFlow, pos, b.Action, j+1)
					}
				}
			}
			f.entries[i] = e
		case *RunCustomAction:
			return nil, fmt.Errorf("%w: block %d: use RunCustomAction{...}, "+
				"not a pointer", ErrInvalidFlow, pos)
		case RevokeSession:
			if i != last {
				return nil, fmt.Errorf("%w: block %d (RevokeSession): "+
					"RevokeSession must be the last block and appear "+
					"once, found at %d of %d",
					ErrInvalidFlow, pos, pos, len(blocks))
			}
		case *RevokeSession:
			return nil, fmt.Errorf("%w: block %d: use RevokeSession{}, "+
				"not a pointer", ErrInvalidFlow, pos)
		case nil:
			return nil, fmt.Errorf("%w: block %d is nil", ErrInvalidFlow, pos)
		default:
			return nil, fmt.Errorf("%w: block %d: unknown block %T",
				ErrInvalidFlow, pos, b)
		}
	}

	// The session must always end.
	if _, ok := blocks[last].(RevokeSession); !ok {
		return nil, fmt.Errorf("%w: block %d (%s): the last block must be "+
			"RevokeSession", ErrInvalidFlow, last+1, describe(blocks[last]))
	}
	return f, nil
}

// Must is like [New] but panics on an invalid flow. It is for flows
// written as literals, where an error is a programming mistake.
func Must(trigger action.Trigger, reg *action.Registry, blocks ...Block) *Flow {
	f, err := New(trigger, reg, blocks...)
	if err != nil {
		panic(err)
	}
	return f
}

// Trigger returns the trigger the flow runs on.
func (f *Flow) Trigger() action.Trigger { return f.trigger }

// Blocks returns a copy of the flow's blocks.
func (f *Flow) Blocks() []Block {
	return append([]Block(nil), f.blocks...)
}

func resolve(trigger action.Trigger, reg *action.Registry, pos int,
	name string) (*action.Entry, error) {

	if reg == nil {
		return nil, fmt.Errorf("%w: block %d (RunCustomAction %q): no "+
			"registry", ErrInvalidFlow, pos, name)
	}
	e, ok := reg.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: block %d (RunCustomAction %q): action "+
			"not registered", ErrInvalidFlow, pos, name)
	}
	if !e.Action().Handles(trigger) {
		return nil, fmt.Errorf("%w: block %d (RunCustomAction %q): action "+
			"not registered for trigger %q", ErrInvalidFlow, pos, name, trigger)
	}
	return e, nil
}

func describe(b Block) string {
	switch b := b.(type) {
	case RunCustomAction:
		return fmt.Sprintf("RunCustomAction %q", b.Action)
	case nil:
		return "nil"
	default:
		return b.kind()
	}
}
