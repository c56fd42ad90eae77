package pgstore

import "sync"

// maxHints bounds the hints a store keeps: at most this many values of
// at most [metadata.Limits] bytes each.
const maxHints = 1024

// hint is what [Store.HasReceipt] last read of a user: a receipt that
// did not count, and the user's value in the same snapshot (nil for SQL
// NULL), brought up to date by the store's own writes since.
type hint struct {
	receipt string
	doc     []byte
}

// hints are the store's hints, by user ID. They are only hints: a value
// may be stale, and a receipt recorded since by another replica; the
// statement that uses one checks both.
type hints struct {
	mu sync.Mutex
	m  map[string]hint
}

// put remembers that the user's receipt was absent when its value was
// doc. When full, it forgets an arbitrary hint first.
func (h *hints) put(userID, receipt string, doc []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string]hint)
	}
	if _, ok := h.m[userID]; !ok && len(h.m) >= maxHints {
		for k := range h.m {
			delete(h.m, k)
			break
		}
	}
	h.m[userID] = hint{receipt: receipt, doc: doc}
}

// take removes and returns the user's value if the hint is about receipt.
func (h *hints) take(userID, receipt string) (doc []byte, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[userID]
	if !ok || e.receipt != receipt {
		return nil, false
	}
	delete(h.m, userID)
	return e.doc, true
}

// refresh replaces the value of the user's hint, if there is one, with
// doc, which the store has just committed.
func (h *hints) refresh(userID string, doc []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.m[userID]; ok {
		e.doc = doc
		h.m[userID] = e
	}
}

// forget removes the user's hint.
func (h *hints) forget(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, userID)
}
