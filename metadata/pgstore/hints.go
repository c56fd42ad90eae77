package pgstore

import (
	"slices"
	"strings"
	"sync"
)

// Bounds of the store's hints: at most maxHints users, each with a value
// of at most [metadata.Limits] bytes and at most maxHintReceipts
// receipts.
const (
	maxHints        = 1024
	maxHintReceipts = 64
)

// hint is what the store knows of a user from [Store.HasReceipt]: the
// value and the receipts that counted, read in one snapshot, brought up
// to date by the store's own writes since.
type hint struct {
	doc []byte // nil for SQL NULL

	// present are the receipts that counted and start with prefix;
	// complete tells that they were all read, so that any other receipt
	// with prefix was absent.
	present  []string
	prefix   string
	complete bool

	// absent is the receipt HasReceipt found absent.
	absent string
}

// hints are the store's hints, by user ID. They are only hints: the
// value may be stale, and another replica may have recorded a receipt
// since; the statements that use one check both.
type hints struct {
	mu sync.Mutex
	m  map[string]*hint
}

// put remembers what HasReceipt read. When full, it forgets an arbitrary
// hint first.
func (h *hints) put(userID string, e *hint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string]*hint)
	}
	if _, ok := h.m[userID]; !ok && len(h.m) >= maxHints {
		for k := range h.m {
			delete(h.m, k)
			break
		}
	}
	h.m[userID] = e
}

// get returns the user's value if the hint tells that receipt was absent
// when it was read; an empty receipt needs no telling.
func (h *hints) get(userID, receipt string) (doc []byte, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.m[userID]
	switch {
	case e == nil, receipt != "" && slices.Contains(e.present, receipt):
		return nil, false
	case receipt == "", receipt == e.absent,
		e.complete && strings.HasPrefix(receipt, e.prefix):
		return e.doc, true
	}
	return nil, false
}

// many reports whether the user's hint tells that the user has more
// receipts starting with prefix than a hint holds.
func (h *hints) many(userID, prefix string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.m[userID]
	return e != nil && !e.complete && e.prefix == prefix
}

// hintPrefix returns the prefix of the receipts a hint for receipt
// holds: receipt up to its last '/', where the flow's receipts of one
// session share "<session>/". A receipt without a '/' gives "", all the
// user's receipts.
func hintPrefix(receipt string) string {
	return receipt[:strings.LastIndexByte(receipt, '/')+1]
}

// prefixEnd returns the first string, in byte order, after every string
// that starts with prefix, a prefix that hintPrefix made (so ending in
// '/', which '0' follows); nil for "".
func prefixEnd(prefix string) *string {
	if prefix == "" {
		return nil
	}
	end := prefix[:len(prefix)-1] + "0"
	return &end
}

// recorded brings the user's hint, if there is one, up to date with a
// write of the store: the value is now doc, and receipt counts.
func (h *hints) recorded(userID, receipt string, doc []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.m[userID]
	if e == nil {
		return
	}
	e.doc = doc
	if receipt != "" {
		e.present = append(e.present, receipt)
	}
}

// forget removes the user's hint.
func (h *hints) forget(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, userID)
}

// added brings the user's hint, if there is one, up to date with a
// receipt the store recorded without writing: receipt counts.
func (h *hints) added(userID, receipt string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.m[userID]; e != nil {
		e.present = append(e.present, receipt)
	}
}
