package flow_test

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
)

// batchStore is a memory store whose RecordReceipts counts its calls and
// answers through answer, when set, instead of the store's.
type batchStore struct {
	*memstore.Store

	mu      sync.Mutex
	batches [][]metadata.UserReceipt
	answer  func(ctx context.Context, rs []metadata.UserReceipt) []error
}

var _ metadata.BatchRecorder = (*batchStore)(nil)

func (s *batchStore) RecordReceipts(ctx context.Context,
	rs []metadata.UserReceipt) []error {

	s.mu.Lock()
	s.batches = append(s.batches, rs)
	answer := s.answer
	s.mu.Unlock()
	if answer != nil {
		return answer(ctx, rs)
	}
	return s.Store.RecordReceipts(ctx, rs)
}

// sizes returns the sizes of the batches recorded so far.
func (s *batchStore) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.batches {
		out = append(out, len(b))
	}
	return out
}

// batched returns a fixture running count then RevokeSession, with
// DeferEnd on a batchStore and the options opts, whose logs it keeps.
func batched(tb testing.TB, opts flow.Options) (*fixture, *batchStore,
	*records) {

	tb.Helper()
	bs := new(batchStore)
	logs := new(records)
	opts.Store, opts.DeferEnd, opts.Logger = bs, true, slog.New(logs)
	fx := setup(tb, opts, counter("count"))
	bs.Store = fx.store
	fx.publish(tb, "count")
	return fx, bs, logs
}

// checkEnded fails the test unless the ends of u1's sessions s0 to
// s<n-1> are recorded.
func (fx *fixture) checkEnded(tb testing.TB, n int) {
	tb.Helper()
	for i := range n {
		end := "s" + strconv.Itoa(i) + "/end"
		done, err := fx.store.HasReceipt(context.Background(), "u1", end)
		if err != nil || !done {
			tb.Fatalf("HasReceipt(%s) = %v, %v; want true", end, done, err)
		}
	}
}

// fullRun fails the test unless Run of session sid is a full run.
func fullRun(tb testing.TB, fx *fixture, sid string) {
	tb.Helper()
	res, err := fx.runner.Run(context.Background(), event(sid))
	if err != nil || res.Repeat || len(res.Failed()) != 0 {
		tb.Fatalf("Run(%s) = %+v, %v; want a full run", sid, res, err)
	}
}

// TestDeferEndBatches signs out 20 sessions in a row: their ends are
// recorded in one batch, once the delay is over, and a repeat of one of
// them waits for the batch, then runs nothing.
func TestDeferEndBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const sessions, delay = 20, 10 * time.Millisecond
		fx, bs, _ := batched(t, flow.Options{DeferEndDelay: delay})
		start := time.Now()
		for i := range sessions {
			fullRun(t, fx, "s"+strconv.Itoa(i))
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("the runs took %v, want no wait for the records", got)
		}

		res, err := fx.runner.Run(context.Background(), event("s3"))
		if err != nil || !res.Repeat {
			t.Errorf("repeated Run() = %+v, %v; want a repeat", res, err)
		}
		if got := time.Since(start); got != delay {
			t.Errorf("the repeat returned after %v, want %v", got, delay)
		}
		fx.runner.Wait()

		if diff := cmp.Diff([]int{sessions}, bs.sizes()); diff != "" {
			t.Errorf("batch sizes mismatch (-want +got):\n%s", diff)
		}
		if got := fx.count(t); got != sessions {
			t.Errorf("stored n = %d, want %d", got, sessions)
		}
		if got := len(fx.rev.revoked()); got != sessions {
			t.Errorf("revoked %d sessions, want %d", got, sessions)
		}
		fx.checkEnded(t, sessions)
	})
}

// TestDeferEndDelays runs one logout with each delay the options allow:
// its end is recorded once the delay is over, at once for a negative
// one, at half the timeout for a delay longer than that, and at once
// whatever the delay while Wait waits.
func TestDeferEndDelays(t *testing.T) {
	tests := []struct {
		name    string
		delay   time.Duration
		timeout time.Duration
		wait    bool // Wait right after Run
		want    time.Duration

		// idle: Wait, with nothing to record, before Run; it leaves
		// the next batch its delay.
		idle bool
	}{
		{"default", 0, 0, false, flow.DefaultDeferEndDelay, false},
		{"set", time.Second, 0, false, time.Second, false},
		{"none", -1, 0, false, 0, false},
		{"over half of the timeout", time.Hour, time.Second, false,
			time.Second / 2, false},
		{"as long as the timeout", 50 * time.Millisecond,
			50 * time.Millisecond, false, 25 * time.Millisecond, false},
		{"cut short by Wait", time.Hour, 0, true, 0, false},
		{"after an idle Wait", time.Second, 0, false, time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fx, bs, _ := batched(t, flow.Options{
					DeferEndDelay: tc.delay, Timeout: tc.timeout})
				var at time.Duration
				start := time.Now()
				bs.answer = func(ctx context.Context,
					rs []metadata.UserReceipt) []error {
					at = time.Since(start)
					return bs.Store.RecordReceipts(ctx, rs)
				}
				if tc.idle {
					fx.runner.Wait()
				}
				fullRun(t, fx, "s1")
				if tc.wait {
					fx.runner.Wait()
				}
				synctest.Wait()
				time.Sleep(tc.want) // fake time: past the delay
				fx.runner.Wait()
				if at != tc.want {
					t.Errorf("the end was recorded after %v, want %v", at,
						tc.want)
				}
				done, err := fx.store.HasReceipt(t.Context(), "u1", "s1/end")
				if err != nil || !done {
					t.Errorf("HasReceipt(s1/end) = %v, %v; want true",
						done, err)
				}
			})
		})
	}
}

// TestDeferEndAfterStall stalls the store's first batch for 600 ms,
// ignoring its context, past the runner's timeout of 500 ms, while a
// logout comes every 10 ms; each later batch then takes 20 ms. The
// stalled batch's ends fail, and those that waited past the timeout
// before their record could start are given up, with a warning each;
// every other end is recorded, though the oldest of its batch had only
// 10 ms left.
func TestDeferEndAfterStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 500 * time.Millisecond
		fx, bs, logs := batched(t, flow.Options{Timeout: timeout,
			DeferEndDelay: 10 * time.Millisecond})
		var first atomic.Bool
		bs.answer = func(ctx context.Context,
			rs []metadata.UserReceipt) []error {
			if first.CompareAndSwap(false, true) {
				time.Sleep(600 * time.Millisecond) // ignoring ctx
			} else {
				time.Sleep(20 * time.Millisecond)
			}
			return bs.Store.RecordReceipts(ctx, rs)
		}

		// s0 at 0 ms goes in the stalled batch, taken at 10 ms; s1 to
		// s99 come every 10 ms. The next batch is taken at 620 ms, past
		// the deadline of s1 to s12, and holds s13 (deadline 630 ms) to
		// s61: its call of 20 ms ends at 640 ms, in time for all.
		for i := range 100 {
			fullRun(t, fx, "s"+strconv.Itoa(i))
			time.Sleep(10 * time.Millisecond)
		}
		fx.runner.Wait()

		var late []string
		for _, r := range logs.all() {
			if r.Level == slog.LevelWarn {
				late = append(late, r.Attrs[flow.LogKeySessionID])
			}
		}
		var want []string
		for i := 0; i <= 12; i++ {
			want = append(want, "s"+strconv.Itoa(i))
		}
		if diff := cmp.Diff(want, late); diff != "" {
			t.Errorf("ends given up mismatch (-want +got):\n%s", diff)
		}
		for i := range 100 {
			end := "s" + strconv.Itoa(i) + "/end"
			done, err := fx.store.HasReceipt(t.Context(), "u1", end)
			if wantDone := i > 12; err != nil ||
				done != wantDone {
				t.Errorf("HasReceipt(%s) = %v, %v; want %t", end, done,
					err, wantDone)
			}
		}
	})
}

// TestDeferEndBatchAnswers has RecordReceipts answer a batch of four
// ends each its own way: recorded, recorded before, failed, and no
// answer at all. The failures are logged, the duplicate is not; every
// run's flight ends, so that repeats never hang; the ends not recorded
// make their repeats run again, counting nothing and revoking again.
func TestDeferEndBatchAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx, bs, logs := batched(t, flow.Options{})
		bs.answer = func(ctx context.Context,
			rs []metadata.UserReceipt) []error {
			errs := bs.Store.RecordReceipts(ctx, rs[:2])
			errs[1] = metadata.ErrDuplicate
			return append(errs, errInjected) // none for the fourth
		}
		for i := range 4 {
			fullRun(t, fx, "s"+strconv.Itoa(i))
		}
		fx.runner.Wait()
		bs.answer = nil

		var warned []string
		for _, r := range logs.all() {
			if r.Level == slog.LevelWarn {
				warned = append(warned, r.Attrs[flow.LogKeySessionID])
			}
		}
		if diff := cmp.Diff([]string{"s2", "s3"}, warned); diff != "" {
			t.Errorf("warned sessions mismatch (-want +got):\n%s", diff)
		}
		for i, repeat := range []bool{true, true, false, false} {
			sid := "s" + strconv.Itoa(i)
			res, err := fx.runner.Run(context.Background(), event(sid))
			if err != nil || res.Repeat != repeat {
				t.Errorf("Run(%s) again = %+v, %v; want repeat %t", sid,
					res, err, repeat)
			}
		}
		fx.runner.Wait()
		if got := fx.count(t); got != 4 {
			t.Errorf("stored n = %d, want 4", got)
		}
		want := []string{"u1/s0", "u1/s1", "u1/s2", "u1/s3", "u1/s2",
			"u1/s3"}
		if diff := cmp.Diff(want, fx.rev.revoked()); diff != "" {
			t.Errorf("revoked mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestDeferEndBatchPanics has RecordReceipts panic: the process goes on,
// each end of the batch is logged as not recorded, and the runs'
// flights end.
func TestDeferEndBatchPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx, bs, logs := batched(t, flow.Options{})
		bs.answer = func(context.Context, []metadata.UserReceipt) []error {
			panic("store down")
		}
		fullRun(t, fx, "s1")
		fullRun(t, fx, "s2")
		fx.runner.Wait()

		var warned []string
		for _, r := range logs.all() {
			if r.Level == slog.LevelWarn && strings.Contains(
				r.Attrs[flow.LogKeyError], "store down") {
				warned = append(warned, r.Attrs[flow.LogKeySessionID])
			}
		}
		if diff := cmp.Diff([]string{"s1", "s2"}, warned); diff != "" {
			t.Errorf("warned sessions mismatch (-want +got):\n%s", diff)
		}
		bs.answer = nil
		fullRun(t, fx, "s1") // its end was not recorded: it runs again
		fx.runner.Wait()
		if got := fx.count(t); got != 2 {
			t.Errorf("stored n = %d, want 2", got)
		}
	})
}

// TestDeferEndBatchTimeout holds a batch until its context ends: it
// gives up at the runner's timeout after the first end of the batch was
// queued, and a repeat waiting for it then runs nothing.
func TestDeferEndBatchTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx, bs, _ := batched(t, flow.Options{})
		bs.answer = func(ctx context.Context,
			rs []metadata.UserReceipt) []error {
			<-ctx.Done()
			errs := make([]error, len(rs))
			for i := range errs {
				errs[i] = ctx.Err()
			}
			return errs
		}
		start := time.Now()
		fullRun(t, fx, "s1")
		res, err := fx.runner.Run(context.Background(), event("s1"))
		if err != nil || !res.Repeat {
			t.Errorf("repeated Run() = %+v, %v; want a repeat", res, err)
		}
		if got := time.Since(start); got != flow.DefaultTimeout {
			t.Errorf("the repeat returned after %v, want %v", got,
				flow.DefaultTimeout)
		}
		fx.runner.Wait()
	})
}

// TestDeferEndBurst queues 600 ends at once and holds the store's first
// batch: other goroutines record the rest meanwhile, in full batches,
// and once the first is released every end is recorded.
func TestDeferEndBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const sessions = 600
		fx, bs, _ := batched(t, flow.Options{})
		release := make(chan struct{})
		var first atomic.Bool
		bs.answer = func(ctx context.Context,
			rs []metadata.UserReceipt) []error {
			if first.CompareAndSwap(false, true) {
				<-release
			}
			return bs.Store.RecordReceipts(ctx, rs)
		}
		for i := range sessions {
			fullRun(t, fx, "s"+strconv.Itoa(i))
		}
		time.Sleep(flow.DefaultDeferEndDelay)
		synctest.Wait() // every batch is under way; the first is held

		got := bs.sizes()
		slices.Sort(got)
		if diff := cmp.Diff([]int{88, 256, 256}, got); diff != "" {
			t.Errorf("batch sizes mismatch (-want +got):\n%s", diff)
		}
		close(release)
		fx.runner.Wait()
		fx.checkEnded(t, sessions)
	})
}

// batchOnly is a store that records receipts in batches but has no
// RecordReceipt.
type batchOnly struct {
	metadata.Store
	ms    *memstore.Store
	calls atomic.Int64
}

func (s *batchOnly) RecordReceipts(ctx context.Context,
	rs []metadata.UserReceipt) []error {
	s.calls.Add(1)
	return s.ms.RecordReceipts(ctx, rs)
}

// TestDeferEndBatchOnlyStore runs DeferEnd on a store that has
// RecordReceipts but not RecordReceipt: the runner records the ends in
// batches all the same.
func TestDeferEndBatchOnlyStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := new(batchOnly)
		fx := setup(t, flow.Options{Store: s, DeferEnd: true},
			counter("count"))
		s.Store, s.ms = fx.store, fx.store
		fx.publish(t, "count")
		for i := range 3 {
			fullRun(t, fx, "s"+strconv.Itoa(i))
		}
		fx.runner.Wait()
		if got := s.calls.Load(); got != 1 {
			t.Errorf("RecordReceipts calls = %d, want 1", got)
		}
		fx.checkEnded(t, 3)
	})
}

// TestWaitLeavesNoGoroutine signs 600 sessions out at once, which
// starts several goroutines recording their ends, then calls Wait, in
// twenty synctest bubbles that end right after: a goroutine of the
// runner's still waiting to gather ends then would make the bubble
// panic ("blocked goroutines remain"), as it would fail a user's leak
// check.
func TestWaitLeavesNoGoroutine(t *testing.T) {
	for range 20 {
		synctest.Test(t, func(t *testing.T) {
			fx, _, _ := batched(t, flow.Options{DeferEndDelay: time.Hour})
			for i := range 600 {
				fullRun(t, fx, "s"+strconv.Itoa(i))
			}
			fx.runner.Wait()
		})
	}
}
