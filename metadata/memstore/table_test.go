package memstore

import (
	"math/rand/v2"
	"testing"
)

// TestTable fills a receipt table past several doublings and reads every
// key back, with keys that share their probe start, the key that marks a
// free slot, and keys never claimed.
func TestTable(t *testing.T) {
	var tb table
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []receiptKey{
		{}, // the free-slot mark, stored as another key
		{0, 1},
		{7, 1}, {7, 2}, {7, 3}, // one probe start: they collide
	}
	for range 1000 {
		keys = append(keys, receiptKey{rng.Uint64(), rng.Uint64()})
	}
	for i, k := range keys {
		s, _ := tb.claim(k)
		s.at = int64(i)
	}
	if tb.n != len(keys)-1 {
		// {} and {0, 1} are one key: the mark is stored as {0, 1}.
		t.Errorf("n = %d, want %d", tb.n, len(keys)-1)
	}
	for i, k := range keys[2:] {
		if at, ok := tb.get(k); !ok || at != int64(i+2) {
			t.Errorf("get(%v) = %d, %t; want %d, true", k, at, ok, i+2)
		}
	}
	if 2*tb.n > len(tb.slots) {
		t.Errorf("%d keys in %d slots: over half full", tb.n, len(tb.slots))
	}

	// A key claimed again keeps its slot, which takes the new time.
	s, held := tb.claim(keys[3])
	s.at = 99
	if at, ok := tb.get(keys[3]); !held || !ok || at != 99 ||
		tb.n != len(keys)-1 {
		t.Errorf("after a second claim: held %t, get = %d, %t, n = %d; "+
			"want true, 99, true, %d", held, at, ok, tb.n, len(keys)-1)
	}

	// Keys never claimed are absent, an empty table holds none.
	for range 1000 {
		k := receiptKey{rng.Uint64(), rng.Uint64()}
		if _, ok := tb.get(k); ok {
			t.Errorf("get(%v) = true for a key never claimed", k)
		}
	}
	var empty table
	if _, ok := empty.get(keys[4]); ok {
		t.Errorf("empty table: get = true")
	}
}
