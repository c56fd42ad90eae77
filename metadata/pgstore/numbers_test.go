package pgstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/sessionstats"
)

// TestFlowStoredNumbers signs out users whose stored figures another
// system wrote, and reads back the text PostgreSQL keeps: numbers
// beyond 2^53 - 1 count as 0 with a warning that names the key, figures
// saturate at 2^53 - 1, and no number goes through float64 on the way
// in or out, even those the flow does not touch.
func TestFlowStoredNumbers(t *testing.T) {
	huge := "1" + strings.Repeat("0", 400) // 1e400, as jsonb prints it
	tests := []struct {
		name   string
		stored string // the jsonb
		// the text of session_count and total_session_seconds after
		wantCount, wantTotal string
		wantWarned           []string // the keys warned about
	}{{
		name: "beyond 2^53 and 1e400",
		stored: `{"session_count": 9007199254740993,
			"total_session_seconds": 1e400}`,
		wantCount: "1", wantTotal: "120",
		wantWarned: []string{sessionstats.KeySessionCount,
			sessionstats.KeyTotalSessionSeconds},
	}, {
		name: "2^53 - 1 saturates",
		stored: `{"session_count": 9007199254740991,
			"total_session_seconds": 9007199254740900}`,
		wantCount: "9007199254740991", wantTotal: "9007199254740991",
	}, {
		// float64 holds these exactly, but would print an exponent.
		name: "just below 2^53 - 1",
		stored: `{"session_count": 9007199254740990,
			"total_session_seconds": 9007199254740871}`,
		wantCount: "9007199254740991", wantTotal: "9007199254740991",
	}, {
		name:      "fraction rounded down, negative counted as 0",
		stored:    `{"session_count": 3.7, "total_session_seconds": -5}`,
		wantCount: "4", wantTotal: "120",
		wantWarned: []string{sessionstats.KeyTotalSessionSeconds},
	}, {
		name:      "decimal string read, with a warning",
		stored:    `{"session_count": "5", "total_session_seconds": 100}`,
		wantCount: "6", wantTotal: "220",
		wantWarned: []string{sessionstats.KeySessionCount},
	}}

	ctx := context.Background()
	opts := tables(t, connect(t, nil))
	r := newReplica(t, opts, appName("numbers"), nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Beside the figures, keys the flow does not touch.
			id := tc.name
			exec(t, r.pool, `INSERT INTO `+opts.Table.Sanitize()+`
				VALUES ($1, $2::jsonb || '{"big": 9007199254740993,
					"huge": 1e400}')`, id, tc.stored)

			res, err := r.logout(ctx, id, "s1")
			checkRun(t, res, err)
			if err != nil {
				return
			}
			if d := cmp.Diff(tc.wantWarned, warnedKeys(res)); d != "" {
				t.Errorf("keys warned about, mismatch (-want +got):\n%s", d)
			}

			// What PostgreSQL holds, as text.
			want := []string{tc.wantCount, tc.wantTotal,
				"9007199254740993", huge}
			got := make([]string, 4)
			err = r.pool.QueryRow(ctx, `
				SELECT app_metadata->>'session_count',
					app_metadata->>'total_session_seconds',
					app_metadata->>'big', app_metadata->>'huge'
				FROM `+opts.Table.Sanitize()+` WHERE user_id = $1`,
				id).Scan(&got[0], &got[1], &got[2], &got[3])
			if err != nil {
				t.Fatalf("reading back: %v", err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("stored, mismatch (-want +got):\n%s", d)
			}
		})
	}
}
