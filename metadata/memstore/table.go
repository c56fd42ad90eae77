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
	s := t.find(key)
	return s.at, s.key != receiptKey{}
}

// claim returns the slot of key and reports whether the table held key;
// when it did not, it adds key, with time 0, for the caller to set.
func (t *table) claim(key receiptKey) (*slot, bool) {
	// Keep at least half the slots free, so that a probe meets a free
	// slot soon.
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	s := t.find(key)
	if s.key != (receiptKey{}) {
		return s, true
	}
	s.key = nonZero(key)
	t.n++
	return s, false
}

// find returns the slot that holds key, or else the free slot where it
// belongs. The table must have slots.
func (t *table) find(key receiptKey) *slot {
	key = nonZero(key)
	mask := uint64(len(t.slots) - 1)
	for i := key[0] & mask; ; i = (i + 1) & mask {
		if s := &t.slots[i]; s.key == key || s.key == (receiptKey{}) {
			return s
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
