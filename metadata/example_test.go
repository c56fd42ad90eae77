package metadata_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/logoutflow/logoutflow/metadata"
)

func ExampleMerge() {
	stored := metadata.Map{
		"plan":    "pro",
		"team":    map[string]any{"id": "t1", "role": "admin"},
		"trial":   true,
		"counter": 3,
	}
	patch := metadata.Map{
		"team":    map[string]any{"id": "t2"}, // replaced whole
		"trial":   nil,                        // deleted
		"counter": 4,                          // replaced
	}

	merged := metadata.Merge(stored, patch)
	b, _ := json.Marshal(merged)
	fmt.Println(string(b))
	// Output:
	// {"counter":4,"plan":"pro","team":{"id":"t2"}}
}

func ExampleApply() {
	stored := metadata.Map{"plan": "pro"}

	_, err := metadata.Apply(stored, metadata.Map{"$plan": "free"},
		metadata.Limits{})
	fmt.Println(errors.Is(err, metadata.ErrInvalidPatch))
	fmt.Println(err)

	_, err = metadata.Apply(stored, metadata.Map{"notes": "a long text"},
		metadata.Limits{MaxBytes: 32})
	fmt.Println(errors.Is(err, metadata.ErrTooLarge))
	fmt.Println(err)
	// Output:
	// true
	// metadata: invalid patch: key "$plan": reserved key (keys starting with '$' are the library's)
	// true
	// metadata: app_metadata too large: 36 bytes, over the limit of 32 at key "notes"
}

func ExampleInt() {
	var m metadata.Map
	dec := json.NewDecoder(strings.NewReader(`{"count": 9007199254740993,
		"avg": 3.7, "bad": "5"}`))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		fmt.Println(err)
		return
	}

	for _, k := range []string{"count", "avg", "bad"} {
		n, ok := metadata.Int(m[k])
		fmt.Println(k, n, ok)
	}
	// Output:
	// count 9007199254740993 true
	// avg 3 true
	// bad 0 false
}

func ExampleEncodedSize() {
	m := metadata.Map{"note": "<b>"}
	b, _ := json.Marshal(m)
	fmt.Println(metadata.EncodedSize(m), len(b), string(b))
	// Output:
	// 24 24 {"note":"\u003cb\u003e"}
}
