package memstore

// ReceiptsHeld returns how many receipts the store keeps in memory, the
// forgotten ones not yet dropped included.
func (s *Store) ReceiptsHeld() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, u := range sh.users {
			u.mu.Lock()
			n += u.receipts.cur.n + u.receipts.prev.n
			u.mu.Unlock()
		}
		sh.mu.RUnlock()
	}
	return n
}

// ShardOf returns the index of the shard that holds the user.
func (s *Store) ShardOf(userID string) int {
	sh := s.shard(userID)
	for i := range s.shards {
		if &s.shards[i] == sh {
			return i
		}
	}
	panic("memstore: user on no shard")
}

// Shards is how many shards a store has.
const Shards = shards
