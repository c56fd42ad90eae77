package pgstore_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/metadata"
)

// TestReadsAfterBackendKilled terminates the backend of the store's one
// idle connection, then reads: Get and HasReceipt find the connection
// gone, and read again on a new one, as a read may.
func TestReadsAfterBackendKilled(t *testing.T) {
	ctx := context.Background()
	reads := []struct {
		name string
		read func(t *testing.T, s storeReader) error
	}{{
		name: "Get",
		read: func(t *testing.T, s storeReader) error {
			m, err := s.Get(ctx, "u")
			d := cmp.Diff(metadata.Map{"plan": "pro"}, m)
			if err == nil && d != "" {
				t.Errorf("Get mismatch (-want +got):\n%s", d)
			}
			return err
		},
	}, {
		name: "HasReceipt",
		read: func(t *testing.T, s storeReader) error {
			ok, err := s.HasReceipt(ctx, "u", "r1")
			if err == nil && !ok {
				t.Errorf("HasReceipt(r1) = false, want true")
			}
			return err
		},
	}}
	for _, tc := range reads {
		t.Run(tc.name, func(t *testing.T) {
			admin, app, s, _ := oneConnStore(t, "reads")
			put(t, s, "u", metadata.Map{"plan": "pro"})
			if err := s.RecordReceipt(ctx, "u", "r1"); err != nil {
				t.Fatalf("RecordReceipt = %v", err)
			}
			killApp(t, admin, app)
			if err := tc.read(t, s); err != nil {
				t.Errorf("%s after the kill = %v, want no error",
					tc.name, err)
			}
		})
	}
}

// storeReader is what TestReadsAfterBackendKilled reads with.
type storeReader interface {
	Get(ctx context.Context, userID string) (metadata.Map, error)
	HasReceipt(ctx context.Context, userID, receipt string) (bool, error)
}
