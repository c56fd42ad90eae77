package pgstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/logoutflow/logoutflow/metadata"
)

// TestUpdateGuardedErrorSaysUpdate closes the store's pool, then writes:
// the error names the update, with a guess or without one (when the
// store looks the guard up first), not the lookup it began with.
func TestUpdateGuardedErrorSaysUpdate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		expect metadata.Map
	}{
		{"no guess", nil},
		{"a guess", metadata.Map{"plan": "pro"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			admin := connect(t, nil)
			pool := connect(t, nil)
			s := newStore(t, pool, tables(t, admin))
			put(t, s, "u", metadata.Map{"plan": "pro"})
			pool.Close()

			err := s.UpdateGuarded(ctx, metadata.GuardedUpdate{
				UserID: "u", Receipt: "s1/stats", Guard: "s1/end",
				Expect: tc.expect,
				Fn: func(metadata.View) (metadata.Map, error) {
					return metadata.Map{"n": 1}, nil
				},
			})
			const want = `pgstore: update "u": `
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("UpdateGuarded on a closed pool = %v, want an "+
					"error starting %q", err, want)
			}
		})
	}
}
