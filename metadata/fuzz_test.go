package metadata_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/metadata"
)

// decodeMap decodes JSON text as a store does, keeping numbers exact.
func decodeMap(data []byte) (metadata.Map, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m metadata.Map
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	return m, true
}

// FuzzMerge checks the merge rules and validation on any two JSON
// objects.
func FuzzMerge(f *testing.F) {
	// Seed from the merge and validation tables, as JSON can say them.
	seeds := [][2]string{
		{`{"a":1}`, `{"a":"x"}`},
		{`{"a":1,"b":true}`, `{"c":3}`},
		{`{"a":1,"b":true}`, `{"a":null}`},
		{`{"o":{"x":1,"y":2}}`, `{"o":{"z":3}}`},
		{`null`, `{"a":1,"b":null}`},
		{`{"a":1}`, `null`},
		{`{"n":9007199254740993}`, `{"n":1e400,"m":-0.5}`},
		{`{}`, `{"":1}`},
		{`{}`, `{"__proto__":1,"constructor":2}`},
		{`{}`, `{"prototype":{}}`},
		{`{}`, `{"$set":1}`},
		{`{}`, `{"a\n":1,"\u0000":2,"\u007f":3,"\u0085":4}`},
		{`{"s":"ssssssssss"}`, `{"a":1,"m":"<&>\u2028","z":2}`},
		{`{"k":"` + string(bytes.Repeat([]byte("k"), 16<<10)) + `"}`,
			`{"k":null}`},
		{`{}`, `{"big":"` + string(bytes.Repeat([]byte("<"), 3<<10)) + `"}`},
		{`{}`, `{"` + string(bytes.Repeat([]byte("k"), 256)) + `":1}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}

	f.Fuzz(func(t *testing.T, storedJSON, patchJSON []byte) {
		stored, ok1 := decodeMap(storedJSON)
		patch, ok2 := decodeMap(patchJSON)
		if !ok1 || !ok2 {
			return
		}
		wantStored, wantPatch := metadata.Clone(stored), metadata.Clone(patch)

		// The pure merge follows the rules whatever the patch holds.
		merged := metadata.Merge(stored, patch)
		checkUntouched(t, wantStored, stored, wantPatch, patch)
		checkMerged(t, stored, patch, merged)

		got, err := metadata.Apply(stored, patch, metadata.Limits{})

		// The inputs are never changed, whatever the outcome.
		checkUntouched(t, wantStored, stored, wantPatch, patch)
		if err != nil {
			if !errors.Is(err, metadata.ErrInvalidPatch) &&
				!errors.Is(err, metadata.ErrTooLarge) {
				t.Errorf("Apply = %v, want an invalid patch or too large",
					err)
			}
			if got != nil {
				t.Errorf("Apply returned %v with error %v", got, err)
			}

			// Only a result really over the limit is too large.
			if errors.Is(err, metadata.ErrTooLarge) {
				b, merr := json.Marshal(merged)
				if merr == nil && len(b) <= metadata.DefaultMaxBytes {
					t.Errorf("Apply = %v for a result of %d bytes",
						err, len(b))
				}
			}
			return
		}

		// A valid patch is applied as merged, and is valid alone.
		checkMerged(t, stored, patch, got)
		if err := metadata.Validate(patch); err != nil {
			t.Errorf("Apply took a patch Validate refuses: %v", err)
		}

		// The result encodes, within the limit, at the size computed.
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("json.Marshal(result) = %v", err)
		}
		if size := metadata.EncodedSize(got); size != len(b) {
			t.Errorf("EncodedSize = %d, want %d", size, len(b))
		}
		_, size, err := metadata.ApplySized(stored,
			metadata.EncodedSize(stored), patch, metadata.Limits{})
		if err != nil || size != len(b) {
			t.Errorf("ApplySized = size %d, %v; want %d, nil", size, err,
				len(b))
		}
		if len(b) > metadata.DefaultMaxBytes {
			t.Errorf("result of %d bytes is over the limit", len(b))
		}
	})
}

// checkMerged checks got against the merge rules: every non-null patch key
// is set to its value, every null one is gone, every other stored key is
// kept, and nothing else is there.
func checkMerged(t *testing.T, stored, patch, got metadata.Map) {
	t.Helper()
	if got == nil {
		t.Fatal("merge result is nil")
	}
	for k, v := range patch {
		gv, in := got[k]
		switch {
		case v == nil && in:
			t.Errorf("key %q: null in the patch but kept", k)
		case v != nil && !in:
			t.Errorf("key %q: in the patch but missing", k)
		case v != nil && !cmp.Equal(v, gv):
			t.Errorf("key %q = %v, want %v", k, gv, v)
		}
	}
	for k, v := range stored {
		if _, patched := patch[k]; patched {
			continue
		}
		if !cmp.Equal(v, got[k]) {
			t.Errorf("key %q = %v, want %v (kept)", k, got[k], v)
		}
	}
	for k := range got {
		_, inStored := stored[k]
		_, inPatch := patch[k]
		if !inStored && !inPatch {
			t.Errorf("key %q is in neither input", k)
		}
	}
}
