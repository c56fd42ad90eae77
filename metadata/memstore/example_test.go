package memstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
)

// Example counts with an atomic update that carries a receipt: the same
// receipt again applies nothing.
func Example() {
	ctx := context.Background()
	store := memstore.New(memstore.Options{})
	if err := store.Put(ctx, "u1", metadata.Map{"plan": "pro"}); err != nil {
		fmt.Println(err)
		return
	}

	count := func(cur metadata.Map) (metadata.Map, error) {
		n, _ := metadata.Int(cur["logins"])
		return metadata.Map{"logins": n + 1}, nil
	}
	for _, receipt := range []string{"s1", "s2", "s1"} {
		err := store.Update(ctx, "u1", receipt, count)
		if errors.Is(err, metadata.ErrDuplicate) {
			fmt.Println(receipt, "already applied")
		}
	}
	md, _ := store.Get(ctx, "u1")
	fmt.Println(md)

	// A null value deletes the key.
	err := store.Update(ctx, "u1", "", func(metadata.Map) (metadata.Map, error) {
		return metadata.Map{"plan": nil}, nil
	})
	md, _ = store.Get(ctx, "u1")
	fmt.Println(md, err)
	// Output:
	// s1 already applied
	// map[logins:2 plan:pro]
	// map[logins:2] <nil>
}
