package flow

import (
	"context"
	"sync"
	"time"
)

// stepCtx is the context of one action step: it carries its parent's
// values and ends at the step's deadline, or when its parent ends, or
// when the step is over. The runner ends it, since it waits for all
// three anyway, which spares each step the five allocations of
// context.WithTimeout. Its Done channel is made only when asked for.
type stepCtx struct {
	parent   context.Context
	deadline time.Time

	mu   sync.Mutex
	done chan struct{} // nil until Done is called
	err  error         // set once, by end
}

// Deadline implements [context.Context]: the step's deadline, or the
// parent's when it is earlier.
func (c *stepCtx) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done implements [context.Context].
func (c *stepCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			return closedChan
		}
		c.done = make(chan struct{})
	}
	return c.done
}

// Err implements [context.Context].
func (c *stepCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value implements [context.Context].
func (c *stepCtx) Value(key any) any { return c.parent.Value(key) }

// end ends the context with err, unless it has ended already.
func (c *stepCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
}

// closedChan is the Done channel of a step context that ended before
// anyone asked for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
