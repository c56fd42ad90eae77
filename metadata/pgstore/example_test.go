package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
)

// An auth server whose users live in its own table, auth.users, with a
// uuid column id and a jsonb column raw_app_meta_data, hands that table
// to the store, and the store to the flow runner. The example needs a
// server, so it is compiled, not run.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("LOGOUTFLOW_PG_DSN"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgstore.New(pool, pgstore.Options{
		Table:          pgx.Identifier{"auth", "users"},
		IDColumn:       "id",
		MetadataColumn: "raw_app_meta_data",
	})
	if err != nil {
		log.Fatal(err)
	}

	// Create the receipts table if it is not there yet; every replica
	// may do so at start.
	if err := store.CreateSchema(ctx); err != nil {
		log.Fatal(err)
	}

	runner, err := flow.NewRunner(flow.Options{
		Store: store,
		Revoker: flow.RevokerFunc(func(ctx context.Context,
			userID, sessionID string) error {
			return nil // end the session in the auth server
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = runner // publish the Logout flow, then run it at every logout
}
