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

// flight is one run under way. done is made by the first run to join,
// under the shard's lock, so that a run nobody joins makes no channel;
// res and err are set before done closes, res then being a copy of the
// leader's result, shared read-only by the runs that joined.
type flight struct {
	done chan struct{}
	res  *Result
	err  error

	// retake says that the leader's caller gave up before the session
	// was revoked: the runs that joined run the flow themselves.
	retake bool
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

// join makes mine the flight of k's run, and reports that the caller
// leads it, unless a run of k is under way: then it returns that run's
// done channel, to wait on.
func (fs *flights) join(k flightKey, mine *flight) (f *flight,
	done <-chan struct{}, leader bool) {

	sh := fs.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f, ok := sh.m[k]; ok {
		if f.done == nil {
			f.done = make(chan struct{})
		}
		return f, f.done, false
	}
	sh.m[k] = mine
	return mine, nil, true
}

// finish ends the leader's flight with its outcome and wakes the runs
// that joined it. They get a copy of res, so that the leader's caller
// owns res alone; or, when retake is set, they run the flow again
// themselves.
func (fs *flights) finish(k flightKey, f *flight, res *Result, err error,
	retake bool) {
	sh := fs.shard(k)
	sh.mu.Lock()
	delete(sh.m, k)
	done := f.done
	sh.mu.Unlock()

	if done == nil {
		return
	}
	if retake {
		f.retake = true
	} else {
		if res != nil {
			f.res = res.clone()
		}
		f.err = err
	}
	close(done)
}

// wait waits for the flight's leader and returns its outcome as a repeat,
// or reports again when the leader's caller gave up before the revoke:
// the caller must then run the flow itself. When ctx ends first it
// returns an empty result and ctx's error: the leader's run goes on.
// done is the flight's, as join returned it.
func (f *flight) wait(ctx context.Context, done <-chan struct{},
	trigger action.Trigger, version int) (res *Result, err error,
	again bool) {

	select {
	case <-done:
	case <-ctx.Done():
		return &Result{Trigger: trigger, Version: version},
			fmt.Errorf("flow: waiting for the run of the same session: %w",
				ctx.Err()), false
	}
	if f.retake {
		return nil, nil, true
	}
	if f.res == nil {
		return &Result{Trigger: trigger, Version: version, Repeat: true},
			f.err, false
	}
	res = f.res.clone()
	res.Repeat = true
	return res, f.err, false
}
