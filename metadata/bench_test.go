package metadata_test

import (
	"testing"

	"github.com/logoutflow/logoutflow/metadata"
)

// logoutStored is app_metadata as track-logout-stats leaves it, with a
// few keys of other systems.
var logoutStored = metadata.Map{
	"last_logout_at":            "2026-05-20T10:00:00.000Z",
	"last_session_duration_sec": int64(7200),
	"session_count":             int64(3),
	"total_session_seconds":     int64(9000),
	"plan":                      "pro",
	"team":                      map[string]any{"id": "t1", "role": "admin"},
}

var logoutPatch = metadata.Map{
	"last_logout_at":            "2026-05-20T12:00:00.000Z",
	"last_session_duration_sec": int64(60),
	"session_count":             int64(4),
	"total_session_seconds":     int64(9060),
}

func BenchmarkApply(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := metadata.Apply(logoutStored, logoutPatch,
			metadata.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodedSize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		metadata.EncodedSize(logoutStored)
	}
}

func BenchmarkValidate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := metadata.Validate(logoutPatch); err != nil {
			b.Fatal(err)
		}
	}
}
