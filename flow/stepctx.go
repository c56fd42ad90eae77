package flow

import (
	"context"
	"sync"
	"time"
)

// stepCtx is the context of one action step: it carries its parent's
// values and ends at the step's deadline, or when its parent ends, or
// when the step is over. Its Done channel is made only when asked for.
//
// For an action in a goroutine of its own, the runner ends it, since it
// waits for all three anyway, which spares each step the five
// allocations of context.WithTimeout. For an inline action (self set)
// nobody waits: Err reads the clock and the parent, and Done, once
// asked for, arms a timer and a hook on the parent. An action and a
// store that only call Err pay for neither. Contexts derived from a
// step context, and watches such as the one pgx sets on each query's
// context, register with AfterFunc instead of each starting a
// goroutine that waits on Done.
type stepCtx struct {
	parent   context.Context
	deadline time.Time
	self     bool

	mu   sync.Mutex
	done chan struct{} // nil until Done is called
	err  error         // set once, by end

	// stops undoes what Done armed, in self mode.
	stopTimer  *time.Timer
	stopParent func() bool

	// afters are the functions AfterFunc registered that have been
	// neither stopped nor started.
	afters []*afterFunc
}

// afterFunc is one function registered by AfterFunc; f is nil once it
// has been stopped or started.
type afterFunc struct{ f func() }

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
		c.pollLocked()
		if c.err != nil {
			return closedChan
		}
		c.done = make(chan struct{})
		if c.self {
			c.arm()
		}
	}
	return c.done
}

// AfterFunc arranges for f to run in a goroutine of its own once the
// context has ended, as [context.AfterFunc] does, which calls it: it is
// what spares derived contexts a goroutine each. The stop it returns
// unregisters f and reports whether it did so before f was started.
func (c *stepCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pollLocked()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	if c.self {
		c.arm()
	}
	a := &afterFunc{f: f}
	c.afters = append(c.afters, a)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if a.f == nil {
			return false
		}
		a.f = nil
		for i, b := range c.afters {
			if b == a {
				last := len(c.afters) - 1
				c.afters[i], c.afters[last] = c.afters[last], nil
				c.afters = c.afters[:last]
				break
			}
		}
		return true
	}
}

// arm makes the context end on its own at the deadline or with its
// parent, unless it is armed already; mu is held.
func (c *stepCtx) arm() {
	if c.stopTimer != nil {
		return
	}
	c.stopTimer = time.AfterFunc(time.Until(c.deadline), func() {
		c.end(context.DeadlineExceeded)
	})
	c.stopParent = context.AfterFunc(c.parent, func() {
		c.end(c.parent.Err())
	})
}

// check returns why the context has ended in self mode, or nil: its
// parent's error, or DeadlineExceeded once the deadline has passed.
func (c *stepCtx) check() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	// Until reads only the monotonic clock, half what Now reads: the
	// deadline, made by Now, carries a monotonic reading.
	if time.Until(c.deadline) <= 0 {
		return context.DeadlineExceeded
	}
	return nil
}

// pollLocked ends the context, in self mode, once its parent has ended
// or its deadline has passed; mu is held.
func (c *stepCtx) pollLocked() {
	if c.err == nil && c.self {
		if err := c.check(); err != nil {
			c.endLocked(err)
		}
	}
}

// Err implements [context.Context].
func (c *stepCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pollLocked()
	return c.err
}

// Value implements [context.Context].
func (c *stepCtx) Value(key any) any { return c.parent.Value(key) }

// end ends the context with err, unless it has ended already.
func (c *stepCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err)
}

// endLocked is end with mu held.
func (c *stepCtx) endLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	if c.stopTimer != nil {
		c.stopTimer.Stop()
		c.stopParent()
	}
	for _, a := range c.afters {
		go a.f()
		a.f = nil
	}
	c.afters = nil
}

// closedChan is the Done channel of a step context that ended before
// anyone asked for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
