package flow

import "sync"

// pending counts the session ends that Options.DeferEnd left to record,
// and the goroutines that record them.
// Unlike a sync.WaitGroup, it may be waited on while runs add to it: a
// server that waits at shutdown with requests still finishing is not
// misusing it.
type pending struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n reaches 0; nil when none waits
}

// add counts one more end being recorded.
func (p *pending) add() {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
}

// done counts one end recorded, or given up.
func (p *pending) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n--
	if p.n == 0 && p.idle != nil {
		close(p.idle)
		p.idle = nil
	}
}

// wait returns once no end is being recorded.
func (p *pending) wait() {
	p.mu.Lock()
	if p.n == 0 {
		p.mu.Unlock()
		return
	}
	if p.idle == nil {
		p.idle = make(chan struct{})
	}
	idle := p.idle
	p.mu.Unlock()
	<-idle
}
