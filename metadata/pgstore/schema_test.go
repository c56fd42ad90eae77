package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/logoutflow/logoutflow/metadata/pgstore"
)

// TestCheckSchema creates tables that fit the store and tables that do
// not, in a schema of their own each, then checks them: CheckSchema
// returns nil for those that fit, and otherwise an error wrapping
// ErrSchema that names each misfit. CreateSchema, which creates what is
// missing and then checks, returns the same.
func TestCheckSchema(t *testing.T) {
	pool := connect(t, nil)
	tests := []struct {
		name   string
		ddl    []string // {users} and {receipts} are the tables
		create bool     // call CreateSchema, not CheckSchema
		want   []string // what the error names; none: nil
	}{
		{name: "default layout", create: true},
		{
			name: "nothing created",
			want: []string{`"users" does not exist`,
				`"receipts" does not exist`},
		},
		{
			name:   "uuid primary key",
			ddl:    []string{`CREATE TABLE {users} (id uuid PRIMARY KEY, md jsonb)`},
			create: true,
		},
		{
			name: "unique index, not a key",
			ddl: []string{`CREATE TABLE {users} (id text, md jsonb)`,
				`CREATE UNIQUE INDEX ON {users} (id)`},
			create: true,
		},
		{
			name:   "json column",
			ddl:    []string{`CREATE TABLE {users} (id text PRIMARY KEY, md json)`},
			create: true,
			want:   []string{`column "md" of`, `is json, not jsonb`},
		},
		{
			name:   "text column",
			ddl:    []string{`CREATE TABLE {users} (id text PRIMARY KEY, md text)`},
			create: true,
			want:   []string{`is text, not jsonb`},
		},
		{
			name:   "no unique index",
			ddl:    []string{`CREATE TABLE {users} (id text, md jsonb)`},
			create: true,
			want:   []string{`covers column "id" alone`},
		},
		{
			name: "unique with another column",
			ddl: []string{`CREATE TABLE {users} (id text, tenant text,
				md jsonb, UNIQUE (id, tenant))`},
			create: true,
			want:   []string{`covers column "id" alone`},
		},
		{
			name: "partial unique index",
			ddl: []string{`CREATE TABLE {users} (id text, md jsonb)`,
				`CREATE UNIQUE INDEX ON {users} (id) WHERE id <> ''`},
			create: true,
			want:   []string{`covers column "id" alone`},
		},
		{
			name: "missing columns",
			ddl:  []string{`CREATE TABLE {users} (uid text PRIMARY KEY)`},
			want: []string{`has no column "id"`, `has no column "md"`},
		},
		{
			name: "receipts without their key",
			ddl: []string{`CREATE TABLE {users} (id text PRIMARY KEY, md jsonb)`,
				`CREATE TABLE {receipts} (user_id text, receipt text,
					created_at timestamptz)`},
			want: []string{`covers (user_id, receipt)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			schema := newSchema(t, pool)
			opts := pgstore.Options{
				Table:          pgx.Identifier{schema, "users"},
				ReceiptsTable:  pgx.Identifier{schema, "receipts"},
				IDColumn:       "id",
				MetadataColumn: "md",
			}
			r := strings.NewReplacer("{users}", opts.Table.Sanitize(),
				"{receipts}", opts.ReceiptsTable.Sanitize())
			for _, q := range tc.ddl {
				exec(t, pool, r.Replace(q))
			}
			s, err := pgstore.New(pool, opts)
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			if tc.create {
				err = s.CreateSchema(context.Background())
			} else {
				err = s.CheckSchema(context.Background())
			}
			checkMisfits(t, err, tc.want)
		})
	}
}

// checkMisfits fails the test unless err is nil when want is empty, and
// otherwise wraps ErrSchema and holds every string of want.
func checkMisfits(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("error = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, pgstore.ErrSchema) {
		t.Fatalf("error = %v, want one wrapping ErrSchema", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error = %q, want it to hold %q", err, w)
		}
	}
}
