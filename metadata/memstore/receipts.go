package memstore

import (
	"hash/maphash"
	"time"
)

// receiptKey is what the store keeps of a receipt: 128 bits of hash,
// from two seeds of the store's own. Keys hold no pointer, so the
// garbage collector never scans them, however many receipts a period
// holds. Two different receipts of one user are taken for each other
// with a probability of about n/2^128 for n receipts held, far below
// that of a memory error; the seeds are random, so no receipt can be
// made to collide on purpose.
type receiptKey [2]uint64

// keyOf returns the key of receipt r.
func (s *Store) keyOf(r string) receiptKey {
	return receiptKey{maphash.String(s.rseeds[0], r),
		maphash.String(s.rseeds[1], r)}
}

// receipts remembers one user's receipts for a retention period, in two
// generations: cur holds the receipts recorded since curStart, prev those
// of the period before. Once cur is a retention period old, prev is
// dropped whole and cur becomes prev. Forgetting is so amortised over
// the writes, and a receipt is kept in memory for at most two periods.
// Each receipt keeps its time, so that it counts as present for exactly
// one period.
type receipts struct {
	cur, prev           table // times in Unix nanoseconds
	curStart, prevStart int64
}

// has reports whether r was recorded less than retention before now.
func (rs *receipts) has(r receiptKey, now int64, retention time.Duration) bool {
	rs.rotate(now, retention)
	at, ok := rs.cur.get(r)
	if !ok {
		at, ok = rs.prev.get(r)
	}
	return ok && now-at < int64(retention)
}

// add records r at now, unless it counts already: it reports whether it
// recorded it. One probe of the current generation both checks and
// records.
func (rs *receipts) add(r receiptKey, now int64,
	retention time.Duration) bool {

	rs.rotate(now, retention)
	ret := int64(retention)
	if at, ok := rs.prev.get(r); ok && now-at < ret {
		return false
	}
	if rs.cur.n == 0 {
		rs.curStart = now
	}
	s, held := rs.cur.claim(r)
	if held && now-s.at < ret {
		return false
	}
	s.at = now
	return true
}

// rotate drops what is older than a retention period.
func (rs *receipts) rotate(now int64, retention time.Duration) {
	// A generation older than two periods can hold nothing that still
	// counts. (Written so that a huge retention cannot overflow.)
	ret := int64(retention)
	if rs.prev.n > 0 && now-rs.prevStart-ret >= ret {
		rs.prev = table{}
	}
	if rs.cur.n == 0 || now-rs.curStart < ret {
		return
	}
	if now-rs.curStart-ret >= ret {
		rs.cur = table{}
		return
	}
	rs.cur, rs.prev, rs.prevStart = table{}, rs.cur, rs.curStart
}
