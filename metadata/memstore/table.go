package memstore

// table is a set of receipt keys, each with its time: a hash table with
// open addressing and linear probing, in one array that holds no
// pointer. A probe reads the array alone, often one cache line of it,
// where a Go map reads its header, its directory and a group first.
//
// The zero table is empty and ready to use.
type table struct {
	slots []slot // len is 0 or a power of two
	n     int    // keys held
}

// slot is one entry of a table; the zero key marks a free slot.
type slot struct {
	key receiptKey
	at  int64
}

// minSlots is the size a table starts at.
const minSlots = 8

// get returns the time of key, and whether the table holds it.
func (t *table) get(key receiptKey) (int64, bool) {
	if t.n == 0 {
		return 0, false
	}
	key = nonZero(key)
	mask := uint64(len(t.slots) - 1)
	for i := key[0] & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		switch s.key {
		case key:
			return s.at, true
		case receiptKey{}:
			return 0, false
		}
	}
}

// put sets the time of key, adding it when it is not held.
func (t *table) put(key receiptKey, at int64) {
	// Keep at least half the slots free, so that a probe meets a free
	// slot soon.
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	key = nonZero(key)
	mask := uint64(len(t.slots) - 1)
	for i := key[0] & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		switch s.key {
		case key:
			s.at = at
			return
		case receiptKey{}:
			s.key, s.at = key, at
			t.n++
			return
		}
	}
}

// grow doubles the table and moves every key into the new one.
func (t *table) grow() {
	old := t.slots
	t.slots = make([]slot, max(minSlots, 2*len(old)))
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.key == (receiptKey{}) {
			continue
		}
		i := s.key[0] & mask
		for t.slots[i].key != (receiptKey{}) {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// nonZero returns key, or another key for the one key that marks a
// free slot.
func nonZero(key receiptKey) receiptKey {
	if key == (receiptKey{}) {
		key[1] = 1
	}
	return key
}
