package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/logoutflow/logoutflow/session"
)

// benchTracker returns a tracker on the real clock whose session s1 has
// just been started, so that no touch within an hour writes.
func benchTracker(b *testing.B) *session.Tracker {
	b.Helper()
	fx := setup(b, session.Options{}, "u1")
	tr, err := session.NewTracker(session.Options{Runner: fx.runner,
		Interval: time.Hour})
	if err != nil {
		b.Fatalf("NewTracker: %v", err)
	}
	if err := tr.Start(context.Background(), "u1", "s1"); err != nil {
		b.Fatalf("Start: %v", err)
	}
	return tr
}

// BenchmarkTouch measures a touch with no write due: what every request
// of a busy session costs.
func BenchmarkTouch(b *testing.B) {
	tr := benchTracker(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.Touch(ctx, "s1"); err != nil {
			b.Fatalf("Touch: %v", err)
		}
	}
}

// BenchmarkTouchParallel measures touches of one session from every
// core at once, the worst case for the shared entry.
func BenchmarkTouchParallel(b *testing.B) {
	tr := benchTracker(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := tr.Touch(ctx, "s1"); err != nil {
				b.Errorf("Touch: %v", err)
				return
			}
		}
	})
}
