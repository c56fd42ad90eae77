package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/logoutflow/logoutflow/metadata"
)

// DefaultDeferEndDelay is how long [Options.DeferEnd] gathers the ends
// of sessions before recording them together, when
// [Options.DeferEndDelay] is zero.
const DefaultDeferEndDelay = 2 * time.Millisecond

// maxEndBatch bounds how many ends one store call records, and
// maxEndWorkers how many goroutines record batches at once.
const (
	maxEndBatch   = 256
	maxEndWorkers = 4
)

// endQueue gathers the session ends that Options.DeferEnd leaves to
// record after Run has returned: a goroutine, started when the first end
// arrives and gone once the queue is empty, records them in batches,
// and more start, up to maxEndWorkers, while a full batch is waiting.
type endQueue struct {
	mu      sync.Mutex
	items   []queuedEnd
	workers int // goroutines recording the queue
	hurry   int // Wait calls under way: record without a delay

	// wake cuts a delay short when Wait is called.
	wake chan struct{}
}

// queuedEnd is one session end waiting to be recorded, with what ends
// its run's flight once it is.
type queuedEnd struct {
	ctx      context.Context // the caller's, for the logs
	key      flightKey
	f        *flight
	receipt  string
	res      *Result // a copy of the run's result
	err      error   // the run's error
	deadline time.Time
}

func (q *endQueue) init() { q.wake = make(chan struct{}, 1) }

// queueEnd has the end of the run's session recorded by the queue's
// goroutines, starting one if none is at work or a full batch waits,
// then the run's flight ended: until then, a repeat of the session in
// this process joins the flight and runs nothing.
func (r *Runner) queueEnd(ctx context.Context, key flightKey, f *flight,
	receipt string, res *Result, err error) {

	// The caller owns res once Run returns: keep a copy. The record
	// outlives the caller's context, within the runner's timeout.
	e := queuedEnd{ctx: context.WithoutCancel(ctx), key: key, f: f,
		receipt: receipt, res: res.clone(), err: err,
		deadline: time.Now().Add(r.timeout)}
	r.pending.add()

	q := &r.ends
	q.mu.Lock()
	q.items = append(q.items, e)
	start := q.workers == 0 ||
		len(q.items) >= maxEndBatch && q.workers < maxEndWorkers
	if start {
		q.workers++
		r.pending.add()
	}
	q.mu.Unlock()
	if start {
		go r.recordEnds()
	}
}

// recordEnds records the queued ends, a batch at a time, until the
// queue is empty, and then returns at once. Each batch first gathers the
// ends that arrive within the runner's delay, unless Wait is waiting or
// a batch is full. The goroutine counts as pending while it lives, so
// that Wait returns only once it is gone.
func (r *Runner) recordEnds() {
	q := &r.ends
	defer r.pending.done()
	for {
		// Stop once none is left, under the lock that queueEnd takes,
		// so that no end is left without a goroutine.
		q.mu.Lock()
		if len(q.items) == 0 {
			q.workers--
			q.mu.Unlock()
			return
		}
		wait := r.endDelay > 0 && q.hurry == 0 && len(q.items) < maxEndBatch
		q.mu.Unlock()
		if wait {
			t := time.NewTimer(r.endDelay)
			select {
			case <-t.C:
			case <-q.wake:
			}
			t.Stop()
		}

		// Take a batch, unless another goroutine took them all.
		q.mu.Lock()
		n := min(len(q.items), maxEndBatch)
		batch := make([]queuedEnd, n)
		copy(batch, q.items)
		left := copy(q.items, q.items[n:])
		clear(q.items[left:]) // keep no result alive
		q.items = q.items[:left]
		q.mu.Unlock()
		if n > 0 {
			r.recordBatch(batch)
		}
	}
}

// recordBatch records the ends of batch, logs those that could not be
// recorded, and ends their runs' flights. An end whose record starts too
// late, Timeout after its Run returned, is given up; the others are
// recorded until the deadline of the newest of them, so that ends queued
// behind a slow call keep the time they have left.
func (r *Runner) recordBatch(batch []queuedEnd) {
	now := time.Now()
	var live []queuedEnd
	var deadline time.Time
	for _, e := range batch {
		if !now.Before(e.deadline) {
			r.ended(e, errEndTooLate)
			continue
		}
		live = append(live, e)
		if e.deadline.After(deadline) {
			deadline = e.deadline
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	errs := r.record(ctx, live)
	for i, e := range live {
		r.ended(e, errs[i])
	}
}

// record records the ends of live, in one call of the store's
// RecordReceipts when it has one, else one after another, and returns
// their errors, in order.
func (r *Runner) record(ctx context.Context, live []queuedEnd) (
	errs []error) {

	errs = make([]error, len(live))
	if r.batcher == nil {
		for i, e := range live {
			errs[i] = r.storeEnd(ctx, e.key, e.receipt)
		}
		return errs
	}

	// Running never panics, in the background either: a store that
	// panics fails the whole call.
	defer func() {
		if v := recover(); v != nil {
			err := fmt.Errorf("%w in the store's RecordReceipts: %v",
				ErrPanic, v)
			for i := range errs {
				errs[i] = err
			}
		}
	}()
	rs := make([]metadata.UserReceipt, len(live))
	for i, e := range live {
		rs[i] = metadata.UserReceipt{UserID: e.key.user, Receipt: e.receipt}
	}
	got := r.batcher.RecordReceipts(ctx, rs)
	for i := range errs {
		errs[i] = errNoAnswer
		if i < len(got) {
			errs[i] = got[i]
		}
	}
	return errs
}

// ended logs the end e unless err is nil or a duplicate (recorded
// before), then ends its run's flight.
func (r *Runner) ended(e queuedEnd, err error) {
	if err != nil && !errors.Is(err, metadata.ErrDuplicate) {
		r.log(e.ctx, slog.LevelWarn, "flow: cannot record the end of the "+
			"session", e.key, "", slog.Any(LogKeyError, err))
	}
	r.flights.finish(e.key, e.f, e.res, e.err, false)
	r.pending.done()
}

// errEndTooLate is the error of an end whose record could not start
// within the runner's timeout: the store was busy with earlier ones.
var errEndTooLate = fmt.Errorf("flow: the end waited for the store past "+
	"the runner's timeout: %w", context.DeadlineExceeded)

// errNoAnswer is the error of an end that a store's RecordReceipts left
// without an answer.
var errNoAnswer = errors.New("flow: the store's RecordReceipts gave no " +
	"answer for this receipt")
