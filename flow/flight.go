package flow

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/logoutflow/logoutflow/action"
)

// flightShards spreads the runs under way over this many maps, each with
// its own lock, so that parallel logouts rarely wait for one another.
const flightShards = 64

// flights tracks the runs under way in this process, by session, so that
// a second run of a session joins the first instead of running again.
type flights struct {
	seed   maphash.Seed
	shards [flightShards]flightShard
}

// flightShard is one lock and map, padded to its own cache line.
type flightShard struct {
	mu sync.Mutex
	m  map[flightKey]*flight
	_  [48]byte
}

// flightKey names a session. Receipts are per user, so the key holds the
// user too.
type flightKey struct {
	user, session string
}

// flight is one run under way. res and err are set before done closes;
// res is then the leader's private copy, shared read-only by the runs
// that joined.
type flight struct {
	done    chan struct{}
	joiners int // under the shard's lock
	res     *Result
	err     error
}

func (fs *flights) init() {
	fs.seed = maphash.MakeSeed()
	for i := range fs.shards {
		fs.shards[i].m = make(map[flightKey]*flight)
	}
}

func (fs *flights) shard(k flightKey) *flightShard {
	return &fs.shards[maphash.String(fs.seed, k.session)%flightShards]
}

// join returns the flight of k's run under way, or starts one and
// reports that the caller leads it.
func (fs *flights) join(k flightKey) (f *flight, leader bool) {
	sh := fs.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f, ok := sh.m[k]; ok {
		f.joiners++
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	sh.m[k] = f
	return f, true
}

// finish ends the leader's flight with its outcome and wakes the runs
// that joined it. They get a copy of res, so that the leader's caller
// owns res alone.
func (fs *flights) finish(k flightKey, f *flight, res *Result, err error) {
	sh := fs.shard(k)
	sh.mu.Lock()
	delete(sh.m, k)
	joined := f.joiners > 0
	sh.mu.Unlock()

	if joined {
		if res != nil {
			f.res = res.clone()
		}
		f.err = err
	}
	close(f.done)
}

// wait waits for the flight's leader and returns its outcome as a repeat.
// When ctx ends first it returns an empty result and ctx's error: the
// leader's run goes on.
func (f *flight) wait(ctx context.Context, trigger action.Trigger,
	version int) (*Result, error) {

	select {
	case <-f.done:
	case <-ctx.Done():
		return &Result{Trigger: trigger, Version: version},
			fmt.Errorf("flow: waiting for the run of the same session: %w",
				ctx.Err())
	}
	if f.res == nil {
		return &Result{Trigger: trigger, Version: version, Repeat: true},
			f.err
	}
	res := f.res.clone()
	res.Repeat = true
	return res, f.err
}
