package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errNotOwner is returned by [sessions.Revoke] when the session belongs
// to another user.
var errNotOwner = errors.New("authserver: session of another user")

// session is one signed-in browser.
type session struct {
	// ID is the session's public handle: the first 16 hex digits of the
	// SHA-256 of the cookie's secret. Logs, the Logout flow's event and
	// its receipts carry it; the secret itself is kept nowhere.
	ID string

	// digest is the whole SHA-256 of the secret, compared at lookup.
	digest [sha256.Size]byte

	UserID  string
	LoginAt time.Time
	Expires time.Time
}

// sessions is the server's table of live sessions, guarded by a mutex.
//
// TODO(logoutflow): the table lives in one process's memory, so a
// restart signs everyone out and replicas do not see each other's
// sessions. A multi-replica deployment keeps sessions in the shared
// database, next to app_metadata, with the same handle and digest.
type sessions struct {
	clock Clock
	ttl   time.Duration

	mu        sync.Mutex
	byID      map[string]*session
	nextSweep int // sweep expired sessions when the table reaches it
}

// minSweep is the smallest table size that triggers a sweep.
const minSweep = 1024

func newSessions(clk Clock, ttl time.Duration) *sessions {
	return &sessions{
		clock:     clk,
		ttl:       ttl,
		byID:      make(map[string]*session),
		nextSweep: minSweep,
	}
}

// handle returns the public ID and the digest of a cookie's secret.
func handle(secret string) (string, [sha256.Size]byte) {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8]), sum
}

// Start opens a session for userID and returns it with the secret the
// cookie carries.
func (t *sessions) Start(userID string) (*session, string) {
	// 128 random bits; only their digest is kept.
	secret := rand.Text()
	id, digest := handle(secret)
	now := t.clock.Now()
	s := &session{
		ID:      id,
		digest:  digest,
		UserID:  userID,
		LoginAt: now,
		Expires: now.Add(t.ttl),
	}

	t.mu.Lock()
	defer t.mu.Unlock()

	// Drop expired sessions now and then, so that abandoned ones do
	// not pile up; the table doubles between sweeps, which keeps the
	// cost per sign-in constant.
	if len(t.byID) >= t.nextSweep {
		for k, old := range t.byID {
			if !now.Before(old.Expires) {
				delete(t.byID, k)
			}
		}
		t.nextSweep = max(2*len(t.byID), minSweep)
	}
	t.byID[id] = s
	return s, secret
}

// Lookup returns the live session whose cookie holds secret, or nil for
// a forged, ended or expired one. An expired session is removed.
func (t *sessions) Lookup(secret string) *session {
	if secret == "" {
		return nil
	}
	id, digest := handle(secret)

	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[id]
	if !ok || subtle.ConstantTimeCompare(s.digest[:], digest[:]) != 1 {
		return nil
	}
	if !t.clock.Now().Before(s.Expires) {
		delete(t.byID, id)
		return nil
	}
	return s
}

// Revoke ends the session with the public ID sessionID if it belongs to
// userID. It is the Revoker of the Logout flow's RevokeSession block, so
// ending a session that has already ended succeeds.
func (t *sessions) Revoke(ctx context.Context, userID, sessionID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[sessionID]
	if !ok {
		return nil
	}
	if s.UserID != userID {
		return fmt.Errorf("%w: session %s", errNotOwner, sessionID)
	}
	delete(t.byID, sessionID)
	return nil
}
