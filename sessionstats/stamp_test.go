package sessionstats

import (
	"testing"
	"time"
)

// TestAppendStamp compares appendStamp with time.Time.AppendFormat on
// the edges of each field, other zones, and years the fast path leaves
// to AppendFormat.
func TestAppendStamp(t *testing.T) {
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{
		time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2027, 1, 1, 4, 59, 59, 999_000_000, east),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 15, 12, 30, 45, 500_000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 999_999, time.UTC),
		time.Date(2024, 2, 29, 7, 8, 9, 10_000_000, east),
		{},
	}
	for _, tm := range times {
		want := tm.UTC().Format(logoutLayout)
		if got := string(appendStamp(nil, tm)); got != want {
			t.Errorf("appendStamp(%v) = %q, want %q", tm, got, want)
		}
	}
}

// FuzzAppendStamp checks appendStamp against AppendFormat on any instant.
func FuzzAppendStamp(f *testing.F) {
	f.Add(int64(1_779_271_200), int64(0))
	f.Add(int64(-62_135_596_800), int64(999_999_999))
	f.Add(int64(253_402_300_799), int64(1_000_000))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		want := tm.UTC().Format(logoutLayout)
		if got := string(appendStamp(nil, tm)); got != want {
			t.Errorf("appendStamp(%v) = %q, want %q", tm, got, want)
		}
	})
}
