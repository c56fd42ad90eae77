package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
)

// Defaults of [SweeperOptions].
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultEvery       = time.Minute
	DefaultBatchSize   = 100
)

// SweeperOptions configures a [Sweeper]. The zero value means the
// defaults.
type SweeperOptions struct {
	// IdleTimeout is how long a session may go without activity before
	// it expires; zero means DefaultIdleTimeout.
	IdleTimeout time.Duration

	// MaxAge is the absolute lifetime of a session, from its start,
	// however active; zero means none.
	MaxAge time.Duration

	// Every is the time between two sweeps of [Sweeper.Run]; zero means
	// DefaultEvery.
	Every time.Duration

	// BatchSize is how many sessions a sweep reads from the store at a
	// time; zero means DefaultBatchSize.
	BatchSize int

	// Logger receives the sweeper's logs; nil means the tracker's.
	Logger *slog.Logger
}

// Sweeper finds the sessions idle past their limit (or past their
// absolute lifetime) and ends each by the [action.Expire] flow, through
// its [Tracker]: the session counts up to its last activity, not to the
// sweep. Create one with [NewSweeper]; it is safe for concurrent use.
type Sweeper struct {
	tracker *Tracker
	idle    time.Duration
	maxAge  time.Duration
	every   time.Duration
	batch   int
	logger  *slog.Logger
}

// SweepReport says what one sweep did.
type SweepReport struct {
	// Batches is how many pages of expired sessions the sweep read, not
	// counting the empty page that ends the listing.
	Batches int

	// Expired counts the sessions the sweep ended; Repeats, among them
	// and among Completed, those that had already ended by an earlier
	// run of a flow, here or in another process, which counted nothing
	// more. Two processes ending one session at the same moment may
	// both count it without a repeat (runs of one session join only
	// within a process): the figures stay exact, but summing the
	// reports of several processes may count a session twice.
	Expired, Repeats int

	// Incomplete counts the sessions whose flow, run by this sweep,
	// revoked them but had a metadata write fail in a way that may pass
	// ([flow.Result] Retry): they stay live, and the next sweep runs
	// their flow again, which applies the failed write once. They are
	// not in Expired.
	Incomplete int

	// Completed counts the sessions that a flow had revoked earlier with
	// a metadata write left to retry (by [Tracker.End], or by an earlier
	// sweep) and that this sweep completed, whatever their idle time, by
	// running the flow of the same trigger again. They are not in
	// Expired. A logout is completed by the expiry flow, measured up to
	// the moment of the logout, its last activity: its figures are the
	// logout's, but last_logout_at is this sweep's time and a
	// track-logout-stats with CountByTrigger counts it under "expire".
	// The store keeps the session revoked ([Record] Revoked), so that
	// other processes refuse its touches; their sweepers, and this
	// one's after a restart, complete it once it is idle, measured as
	// the store has it (a store that does not keep Revoked leaves it to
	// this process).
	Completed int

	// Active counts the sessions the store found idle but this process
	// saw active since: they stay live.
	Active int

	// Failed counts the sessions that could not be ended: their flow
	// failed, or the store could not mark them ended. The next sweep
	// tries them again.
	Failed int

	// Forgotten counts the sessions this process stopped keeping in
	// memory: idle past the timeout, with no activity left to write,
	// typically ended by another process. They are not ended by this:
	// the store still has them as they are. One that failed to end in
	// this sweep may be among them: the next sweep reads it back from
	// the store.
	Forgotten int
}

// NewSweeper returns a sweeper of t's sessions. It returns an error
// wrapping [ErrBadInput] for a nil tracker or a negative option. It
// cannot tell whether the tracker's runner has an [action.Expire] flow
// published: the first sweep that finds an expired session does (see
// [Sweeper.Sweep]).
func NewSweeper(t *Tracker, opts SweeperOptions) (*Sweeper, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: no tracker", ErrBadInput)
	}
	if opts.IdleTimeout < 0 || opts.MaxAge < 0 || opts.Every < 0 ||
		opts.BatchSize < 0 {
		return nil, fmt.Errorf("%w: negative sweeper option", ErrBadInput)
	}
	s := &Sweeper{
		tracker: t,
		idle:    cmp.Or(opts.IdleTimeout, DefaultIdleTimeout),
		maxAge:  opts.MaxAge,
		every:   cmp.Or(opts.Every, DefaultEvery),
		batch:   cmp.Or(opts.BatchSize, DefaultBatchSize),
		logger:  opts.Logger,
	}
	if s.logger == nil {
		s.logger = t.logger
	}
	return s, nil
}

// ticker is the part of github.com/benbjohnson/clock's clocks the
// sweeper wakes on.
type ticker interface {
	Ticker(d time.Duration) *clock.Ticker
}

// Run sweeps at every tick of the tracker's clock, every
// [SweeperOptions.Every], until ctx ends; then it returns nil. A clock
// without a Ticker method (one with Now alone) ticks in real time. A
// failed sweep is logged at error level, and the next tick sweeps
// again.
func (s *Sweeper) Run(ctx context.Context) error {
	// Wake on the injected clock when it can tick.
	var tick *clock.Ticker
	if c, ok := s.tracker.clock.(ticker); ok {
		tick = c.Ticker(s.every)
	} else {
		tick = clock.New().Ticker(s.every)
	}
	defer tick.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log(ctx, slog.LevelError, "session: sweep failed",
				slog.Any(LogKeyError, err))
		}
	}
}

// Sweep ends, by the [action.Expire] flow, every live session idle past
// the limit (or past its absolute lifetime) now, reading the store in
// batches. A session that fails to end is logged, counted in
// [SweepReport.Failed], and left live for the next sweep; the others go
// on. Sweep returns early with an error when the store cannot list
// sessions or ctx ends; the report then says what was done.
//
// A runner with no [action.Expire] flow published is a configuration
// error, not a failure of one session: no session can expire. Sweep then
// stops at the first expired session and returns an error wrapping
// [flow.ErrNoFlow]; the sessions stay live.
func (s *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	t := s.tracker
	now := t.clock.Now()
	q := Query{IdleBefore: now.Add(-s.idle), Limit: s.batch}
	if s.maxAge > 0 {
		q.StartedBefore = now.Add(-s.maxAge)
	}

	// First complete the sessions a flow revoked with a write left to
	// retry, by the trigger that ended them.
	var rep SweepReport
	done := make(map[string]bool)
	if err := s.complete(ctx, &rep, done); err != nil {
		return rep, err
	}

	// Page through the expired sessions by ID. Those that end leave the
	// list and those that fail stay, so the cursor moves past both.
	for {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("session: sweep stopped: %w", err)
		}
		recs, err := t.store.List(ctx, q)
		if err != nil {
			return rep, fmt.Errorf("session: sweep: listing sessions: %w",
				err)
		}
		if len(recs) == 0 {
			break
		}
		// TODO(logoutflow): end a batch's sessions in parallel, a few
		// at a time; one at a time, a sweep of many is slow.
		rep.Batches++
		for _, r := range recs {
			if err := s.expire(ctx, q, r, &rep, done); err != nil {
				return rep, err
			}
		}
		if len(recs) < s.batch {
			break
		}

		// A store that ignores the cursor would loop forever.
		last := recs[len(recs)-1].ID
		if last <= q.After {
			return rep, fmt.Errorf("session: sweep: the store listed %q "+
				"after %q: pages must be sorted by ID", last, q.After)
		}
		q.After = last
	}

	// Forget what memory holds of sessions idle past the timeout with
	// nothing left to write: those another process ended, which this
	// one would otherwise keep for ever. A touch reads one back from
	// the store.
	rep.Forgotten = t.trim(now.Add(-s.idle))

	// A sweep that found nothing is no news.
	level := slog.LevelInfo
	if rep.Expired == 0 && rep.Failed == 0 {
		level = slog.LevelDebug
	}
	s.log(ctx, level, "session: sweep done",
		slog.Int(LogKeyBatches, rep.Batches),
		slog.Int(LogKeyExpired, rep.Expired),
		slog.Int(LogKeyFailed, rep.Failed))
	return rep, nil
}

// expire ends the session r, which the store found expired by q, unless
// this process has seen it active since. It returns an error only when
// the sweep must stop: no expiry flow is published. done holds the
// sessions this sweep has completed.
func (s *Sweeper) expire(ctx context.Context, q Query, r Record,
	rep *SweepReport, done map[string]bool) error {

	// A session revoked with a write left to retry is completed, once a
	// sweep: this process's were before the listing, and one revoked by
	// another process, or before a restart, is completed here.
	t := s.tracker
	e := t.adopt(r)
	if e.retry.Load() != nil {
		if done[r.ID] {
			return nil
		}
		return s.completeOne(ctx, e, rep, done)
	}

	// The store's activity may be an interval stale; memory's is not.
	active := r.LastActive
	if seen := t.activity(r.ID); seen.After(active) {
		active = seen
	}
	tooOld := !q.StartedBefore.IsZero() && r.Start.Before(q.StartedBefore)
	if !tooOld && !active.Before(q.IdleBefore) {
		rep.Active++
		return nil
	}

	res, err := t.end(ctx, e, action.Expire)
	switch {
	case errors.Is(err, flow.ErrNoFlow):
		return fmt.Errorf("session: sweep stopped, no session can "+
			"expire: %w", err)
	case err != nil:
		rep.Failed++
		s.log(ctx, slog.LevelWarn, "session: cannot expire; next sweep "+
			"tries again", slog.String(LogKeyUserID, r.UserID),
			slog.String(LogKeySessionID, r.ID), slog.Any(LogKeyError, err))
		return nil
	case res.Retry:
		rep.Incomplete++
		s.log(ctx, slog.LevelWarn, "session: revoked, but a metadata "+
			"write failed; next sweep completes it",
			slog.String(LogKeyUserID, r.UserID),
			slog.String(LogKeySessionID, r.ID))
		return nil
	case res.Repeat:
		rep.Repeats++
	}
	rep.Expired++
	return nil
}

// complete runs again, by the trigger that ended each, the flows that
// revoked a session of the tracker but left a metadata write to retry.
// It returns an error only when the sweep must stop: that trigger has no
// flow published any more.
func (s *Sweeper) complete(ctx context.Context, rep *SweepReport,
	done map[string]bool) error {

	for _, e := range s.tracker.retries() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("session: sweep stopped: %w", err)
		}
		if err := s.completeOne(ctx, e, rep, done); err != nil {
			return err
		}
	}
	return nil
}

// completeOne completes e, revoked with a metadata write left to retry,
// and notes it in done, so that the sweep runs its flow once.
func (s *Sweeper) completeOne(ctx context.Context, e *entry,
	rep *SweepReport, done map[string]bool) error {

	done[e.id] = true
	trigger := *e.retry.Load()
	res, err := s.tracker.end(ctx, e, trigger)
	switch {
	case errors.Is(err, flow.ErrNoFlow):
		return fmt.Errorf("session: sweep stopped, cannot complete the "+
			"sessions ended by %s: %w", trigger, err)
	case err != nil:
		rep.Failed++
		s.log(ctx, slog.LevelWarn, "session: cannot complete; next sweep "+
			"tries again", slog.String(LogKeyUserID, e.userID),
			slog.String(LogKeySessionID, e.id), slog.Any(LogKeyError, err))
	case res.Retry:
		rep.Incomplete++
	case res.Repeat:
		rep.Completed++
		rep.Repeats++
	default:
		rep.Completed++
	}
	return nil
}

func (s *Sweeper) log(ctx context.Context, level slog.Level, msg string,
	attrs ...slog.Attr) {

	if s.logger != nil {
		s.logger.LogAttrs(ctx, level, msg, attrs...)
	}
}
