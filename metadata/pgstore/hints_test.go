package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/pgstore"
)

// noPatch records a receipt and writes nothing, as the flow's update
// that marks the end of a session.
func noPatch(metadata.Map) (metadata.Map, error) { return nil, nil }

// TestHints runs updates after HasReceipt has found their receipt absent,
// when the store tries the value it read then. Whatever happened in
// between, the update ends as it would on the locked path; fn sees the
// read value first, and the stored one when they differ.
func TestHints(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, nil)
	opts := tables(t, pool)

	// Two stores on the same tables: this replica and another.
	this := newStore(t, pool, opts)
	other := newStore(t, pool, opts)

	tests := []struct {
		name string
		// between runs between HasReceipt(r1) and the update.
		between func(t *testing.T, id string)
		receipt string // of the update; r1 when empty
		fn      metadata.UpdateFunc
		wantErr error
		// the values of "n" that fn saw, in order
		wantSeen []int64
		wantN    int64
	}{{
		name:     "receipt only",
		fn:       noPatch,
		wantSeen: []int64{1}, wantN: 1,
	}, {
		name: "value changed by another replica",
		between: func(t *testing.T, id string) {
			if err := other.Update(ctx, id, "", increment); err != nil {
				t.Fatalf("other Update = %v", err)
			}
		},
		fn:       noPatch,
		wantSeen: []int64{1, 2}, wantN: 2,
	}, {
		// fn runs before the store learns of the receipt: only in this
		// race is it called for a duplicate.
		name: "receipt recorded by another replica",
		between: func(t *testing.T, id string) {
			if err := other.Update(ctx, id, "r1", noPatch); err != nil {
				t.Fatalf("other Update = %v", err)
			}
		},
		fn:       noPatch,
		wantErr:  metadata.ErrDuplicate,
		wantSeen: []int64{1}, wantN: 1,
	}, {
		name:     "a write",
		fn:       increment,
		wantSeen: []int64{1}, wantN: 2,
	}, {
		name: "a write after another replica's",
		between: func(t *testing.T, id string) {
			if err := other.Update(ctx, id, "", increment); err != nil {
				t.Fatalf("other Update = %v", err)
			}
		},
		fn:       increment,
		wantSeen: []int64{1, 2}, wantN: 3,
	}, {
		name: "a write whose receipt another replica recorded",
		between: func(t *testing.T, id string) {
			if err := other.Update(ctx, id, "r1", noPatch); err != nil {
				t.Fatalf("other Update = %v", err)
			}
		},
		fn:       increment,
		wantErr:  metadata.ErrDuplicate,
		wantSeen: []int64{1}, wantN: 1,
	}, {
		name: "the store's own write keeps the hint fresh",
		between: func(t *testing.T, id string) {
			if err := this.Update(ctx, id, "r2", increment); err != nil {
				t.Fatalf("Update(r2) = %v", err)
			}
		},
		fn:       noPatch,
		wantSeen: []int64{2}, wantN: 2,
	}, {
		// HasReceipt read every receipt of the user: r3 was absent.
		name:     "another receipt",
		receipt:  "r3",
		fn:       increment,
		wantSeen: []int64{1}, wantN: 2,
	}, {
		// The hint knows r0: fn is not called.
		name:     "a receipt recorded before",
		receipt:  "r0",
		fn:       increment,
		wantErr:  metadata.ErrDuplicate,
		wantSeen: nil, wantN: 1,
	}, {
		name: "user deleted",
		between: func(t *testing.T, id string) {
			exec(t, pool, `DELETE FROM `+opts.Table.Sanitize()+
				` WHERE user_id = $1`, id)
		},
		fn:       noPatch,
		wantErr:  metadata.ErrUserNotFound,
		wantSeen: []int64{1},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.name
			put(t, this, id, nil)
			if err := this.Update(ctx, id, "r0", increment); err != nil {
				t.Fatalf("Update(r0) = %v", err)
			}
			if ok, err := this.HasReceipt(ctx, id, "r1"); ok || err != nil {
				t.Fatalf("HasReceipt = %t, %v; want false, nil", ok, err)
			}
			if tc.between != nil {
				tc.between(t, id)
			}

			// Update, noting what fn saw.
			receipt := tc.receipt
			if receipt == "" {
				receipt = "r1"
			}
			var seen []int64
			err := this.Update(ctx, id, receipt,
				func(cur metadata.Map) (metadata.Map, error) {
					n, _ := metadata.Int(cur["n"])
					seen = append(seen, n)
					return tc.fn(cur)
				})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Update = %v, want %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.wantSeen, seen); d != "" {
				t.Errorf("fn saw, mismatch (-want +got):\n%s", d)
			}
			if tc.wantErr == metadata.ErrUserNotFound {
				return
			}
			if n := counter(t, this, id); n != tc.wantN {
				t.Errorf("n = %d, want %d", n, tc.wantN)
			}
			ok, err := other.HasReceipt(ctx, id, receipt)
			if !ok || err != nil {
				t.Errorf("HasReceipt after = %t, %v; want true, nil", ok, err)
			}
		})
	}
}

// TestHintsConcurrent runs receipt-only updates on hints while other
// updates change the value: every write counts, every receipt once.
func TestHintsConcurrent(t *testing.T) {
	const workers, each = 8, 50
	ctx := context.Background()
	pool := connect(t, nil)
	opts := tables(t, pool)
	a, b := newStore(t, pool, opts), newStore(t, pool, opts)
	put(t, a, "u", nil)

	var wg sync.WaitGroup
	for w := range workers {
		s := []*pgstore.Store{a, b}[w%2]
		wg.Go(func() {
			for k := range each {
				// As the flow does: a check, a write, a receipt.
				r := fmt.Sprintf("w%d-%d", w, k)
				if ok, err := s.HasReceipt(ctx, "u", r+"end"); ok || err != nil {
					t.Errorf("HasReceipt = %t, %v", ok, err)
				}
				if err := s.Update(ctx, "u", r, increment); err != nil {
					t.Errorf("Update = %v", err)
				}
				if err := s.Update(ctx, "u", r+"end", noPatch); err != nil {
					t.Errorf("Update(end) = %v", err)
				}
			}
		})
	}
	wg.Wait()

	if n := counter(t, a, "u"); n != workers*each {
		t.Errorf("n = %d, want %d", n, workers*each)
	}
	var receipts int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM `+
		opts.ReceiptsTable.Sanitize()).Scan(&receipts)
	if err != nil {
		t.Fatalf("counting receipts: %v", err)
	}
	if receipts != 2*workers*each {
		t.Errorf("receipts = %d, want %d", receipts, 2*workers*each)
	}
}

// TestExistingTable uses a table laid out as an auth server's own: a
// schema of its own, a uuid ID, other columns, another column name.
func TestExistingTable(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, nil)
	schema := newSchema(t, pool)
	users := pgx.Identifier{schema, "users"}
	exec(t, pool, `CREATE TABLE `+users.Sanitize()+` (
		id uuid PRIMARY KEY,
		email text NOT NULL,
		raw_app_meta_data jsonb DEFAULT '{}'
	)`)
	const id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	exec(t, pool, `INSERT INTO `+users.Sanitize()+
		` (id, email) VALUES ($1, 'a@example.com')`, id)
	s := newStore(t, pool, pgstore.Options{
		Table:          users,
		IDColumn:       "id",
		MetadataColumn: "raw_app_meta_data",
		ReceiptsTable:  pgx.Identifier{schema, "logoutflow_receipts"},
	})

	// Each statement: the locked path, then a hinted one.
	if err := s.Update(ctx, id, "r1", increment); err != nil {
		t.Fatalf("Update = %v", err)
	}
	if ok, err := s.HasReceipt(ctx, id, "r2"); ok || err != nil {
		t.Fatalf("HasReceipt = %t, %v; want false, nil", ok, err)
	}
	if err := s.Update(ctx, id, "r2", noPatch); err != nil {
		t.Fatalf("Update(r2) = %v", err)
	}
	if n := counter(t, s, id); n != 1 {
		t.Errorf("n = %d, want 1", n)
	}
	if err := s.RecordReceipt(ctx, id, "r3"); err != nil {
		t.Fatalf("RecordReceipt(r3) = %v", err)
	}
	for _, r := range []string{"r1", "r2", "r3"} {
		if ok, err := s.HasReceipt(ctx, id, r); !ok || err != nil {
			t.Errorf("HasReceipt(%s) = %t, %v; want true, nil", r, ok, err)
		}
	}

	// A user the table does not have, or an ID not of its type: both
	// name no user, a failure no retry mends.
	for _, bad := range []string{"00000000-0000-0000-0000-000000000000",
		"not a uuid"} {
		err := s.Update(ctx, bad, "r1", increment)
		if !errors.Is(err, metadata.ErrUserNotFound) {
			t.Errorf("Update(%q) = %v, want ErrUserNotFound", bad, err)
		}
		err = s.RecordReceipt(ctx, bad, "r1")
		if !errors.Is(err, metadata.ErrUserNotFound) {
			t.Errorf("RecordReceipt(%q) = %v, want ErrUserNotFound", bad,
				err)
		}
		if _, err := s.Get(ctx, bad); !errors.Is(err,
			metadata.ErrUserNotFound) {
			t.Errorf("Get(%q) = %v, want ErrUserNotFound", bad, err)
		}
		if ok, err := s.HasReceipt(ctx, bad, "r1"); ok || err != nil {
			t.Errorf("HasReceipt(%q) = %t, %v; want false, nil", bad, ok,
				err)
		}
	}
}

// TestHintsManyReceipts runs updates of receipts recorded before, after
// HasReceipt, for a user with more receipts than a hint holds: the store
// cannot tell which receipts the user has, and never calls fn for one
// that it has.
func TestHintsManyReceipts(t *testing.T) {
	const receipts = 100
	ctx := context.Background()
	s := newStore(t, connect(t, nil), pgstore.Options{})
	put(t, s, "u", nil)
	for i := range receipts {
		if err := s.Update(ctx, "u", fmt.Sprint("r", i), increment); err != nil {
			t.Fatalf("Update(r%d) = %v", i, err)
		}
	}

	calls := 0
	for i := range receipts {
		if ok, err := s.HasReceipt(ctx, "u", "new"); ok || err != nil {
			t.Fatalf("HasReceipt = %t, %v; want false, nil", ok, err)
		}
		err := s.Update(ctx, "u", fmt.Sprint("r", i),
			func(cur metadata.Map) (metadata.Map, error) {
				calls++
				return increment(cur)
			})
		if !errors.Is(err, metadata.ErrDuplicate) {
			t.Errorf("Update(r%d) = %v, want %v", i, err,
				metadata.ErrDuplicate)
		}
	}
	if calls != 0 || counter(t, s, "u") != receipts {
		t.Errorf("fn calls, n = %d, %d; want 0, %d", calls,
			counter(t, s, "u"), receipts)
	}
}

// TestHintsSameReceipt runs two updates of one receipt at once, from two
// replicas, on a hint or on the locked path: one applies, the other is
// a duplicate, every time.
func TestHintsSameReceipt(t *testing.T) {
	const rounds = 50
	tests := []struct {
		name         string
		hintA, hintB bool // whether each replica calls HasReceipt first
	}{
		{"both on a hint", true, true},
		{"a hint and the lock", true, false},
		{"both on the lock", false, false},
	}
	ctx := context.Background()
	pool := connect(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tables(t, pool)
			a, b := newStore(t, pool, opts), newStore(t, pool, opts)
			put(t, a, "u", nil)

			for i := range rounds {
				r := fmt.Sprint("r", i)
				errs := make([]error, 2)
				var wg sync.WaitGroup
				for j, s := range []*pgstore.Store{a, b} {
					hint := []bool{tc.hintA, tc.hintB}[j]
					wg.Go(func() {
						if hint {
							if _, err := s.HasReceipt(ctx, "u", r); err != nil {
								errs[j] = err
								return
							}
						}
						errs[j] = s.Update(ctx, "u", r, increment)
					})
				}
				wg.Wait()

				applied, dups := 0, 0
				for _, err := range errs {
					switch {
					case err == nil:
						applied++
					case errors.Is(err, metadata.ErrDuplicate):
						dups++
					default:
						t.Errorf("round %d: Update = %v", i, err)
					}
				}
				if applied != 1 || dups != 1 {
					t.Errorf("round %d: applied, duplicates = %d, %d; "+
						"want 1, 1", i, applied, dups)
				}
			}
			if n := counter(t, a, "u"); n != rounds {
				t.Errorf("n = %d, want %d", n, rounds)
			}
		})
	}
}

// TestHintsPerSession checks that a hint holds the receipts of the
// session HasReceipt asked about (those starting with "<session>/"), so
// that a user with many receipts of other sessions still gets the
// one-statement write, while a receipt of another session is never
// taken for absent.
func TestHintsPerSession(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, nil)
	opts := tables(t, pool)
	this, other := newStore(t, pool, opts), newStore(t, pool, opts)
	put(t, this, "u", metadata.Map{"n": 1})
	for i := range 2 * 64 {
		if err := this.RecordReceipt(ctx, "u", fmt.Sprint("old", i, "/end")); err != nil {
			t.Fatalf("RecordReceipt(old%d) = %v", i, err)
		}
	}
	for i := range 70 {
		if err := this.RecordReceipt(ctx, "u", fmt.Sprint("busy/a/", i)); err != nil {
			t.Fatalf("RecordReceipt(busy/a/%d) = %v", i, err)
		}
	}

	tests := []struct {
		name     string
		asked    string // the receipt HasReceipt is asked about
		receipt  string // the update's
		wantErr  error
		wantSeen []int64 // the values of "n" fn saw, in order
	}{
		// The hint is tried first: fn sees the value read then, and
		// the fresh one once another replica's write is found.
		{"a session of its own", "new/end", "new/a/1", nil,
			[]int64{1, 2}},
		// old5's receipts are not in a hint of new2: the locked path
		// finds the receipt before calling anything.
		{"another session's receipt", "new2/end", "old5/end",
			metadata.ErrDuplicate, nil},
		// More receipts of the session than a hint holds: the locked
		// path runs, on the fresh value alone.
		{"a session with many receipts", "busy/end", "busy/a/70", nil,
			[]int64{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exec(t, pool, `UPDATE `+opts.Table.Sanitize()+
				` SET app_metadata = '{"n": 1}' WHERE user_id = 'u'`)
			if ok, err := this.HasReceipt(ctx, "u", tc.asked); ok || err != nil {
				t.Fatalf("HasReceipt(%s) = %t, %v; want false, nil",
					tc.asked, ok, err)
			}
			if err := other.Update(ctx, "u", "", increment); err != nil {
				t.Fatalf("other Update = %v", err)
			}

			var seen []int64
			err := this.Update(ctx, "u", tc.receipt,
				func(cur metadata.Map) (metadata.Map, error) {
					n, _ := metadata.Int(cur["n"])
					seen = append(seen, n)
					return metadata.Map{"x": true}, nil
				})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Update(%s) = %v, want %v", tc.receipt, err,
					tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantSeen, seen); diff != "" {
				t.Errorf("values fn saw mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
