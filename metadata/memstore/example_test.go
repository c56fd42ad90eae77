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

// ExampleStore_UpdateView counts through a view of the stored value: the
// function reads the one key it needs in place, however large the
// user's app_metadata, and what it reads is its own.
func ExampleStore_UpdateView() {
	ctx := context.Background()
	store := memstore.New(memstore.Options{})
	err := store.Put(ctx, "u1", metadata.Map{
		"logins":  3,
		"profile": map[string]any{"plan": "pro"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	count := func(cur metadata.View) (metadata.Map, error) {
		v, _ := cur.Get("logins")
		n, _ := metadata.Int(v)

		// A nested value comes as a copy: changing it changes nothing.
		if p, ok := cur.Get("profile"); ok {
			p.(map[string]any)["plan"] = "free"
		}
		return metadata.Map{"logins": n + 1}, nil
	}
	// metadata.UpdateView works on any store; memstore reads in place.
	if err := metadata.UpdateView(ctx, store, "u1", "s1", count); err != nil {
		fmt.Println(err)
	}
	md, _ := store.Get(ctx, "u1")
	fmt.Println(md)
	// Output:
	// map[logins:4 profile:map[plan:pro]]
}
