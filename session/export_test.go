package session

// InMemory returns how many sessions the tracker keeps in memory.
func (t *Tracker) InMemory() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
