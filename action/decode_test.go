package action_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// bigString is a 1 MiB string value, which an event may carry.
var bigString = strings.Repeat("x", 1<<20)

// decodeOK lists events that decode, with what they decode to.
var decodeOK = []struct {
	name   string
	reason string
	in     string
	want   *action.Event
}{
	{
		name: "full event",
		in: `{"trigger": "logout",
		 "user": {"user_id": "u1", "email": "a@example.com",
		  "last_login_at": "2026-05-20T08:00:00.000Z",
		  "app_metadata": {"session_count": 3, "plan": "pro"}},
		 "session": {"session_id": "s1",
		  "created_at": "2026-05-20T08:00:00Z"}}`,
		want: &action.Event{
			Trigger: action.Logout,
			User: action.User{
				ID:          "u1",
				Email:       "a@example.com",
				LastLoginAt: mustTS(`"2026-05-20T08:00:00.000Z"`),
				AppMetadata: metadata.Map{
					"session_count": json.Number("3"),
					"plan":          "pro",
				},
			},
			Session: action.Session{
				ID:        "s1",
				CreatedAt: mustTS(`"2026-05-20T08:00:00Z"`),
			},
		},
	},
	{
		name: "empty object",
		in:   "{}",
		want: &action.Event{},
	},
	{
		name: "white space around",
		in:   " \n\t{}\r\n ",
		want: &action.Event{},
	},
	{
		name:   "unknown fields ignored",
		reason: "keys match exactly: USER_ID is not user_id",
		in: `{"extra": [1, {"a": 2}], "user": {"user_id": "u1",
		 "USER_ID": "evil", "nickname": "b"}, "Session": 5}`,
		want: &action.Event{User: action.User{ID: "u1"}},
	},
	{
		name:   "same key in sibling objects",
		reason: "duplicates count within one object only",
		in: `{"user": {"user_id": "u1", "app_metadata":
		 {"a": {"k": 1}, "b": {"k": 2}}}, "session": {"k": 3}}`,
		want: &action.Event{User: action.User{
			ID: "u1",
			AppMetadata: metadata.Map{
				"a": map[string]any{"k": json.Number("1")},
				"b": map[string]any{"k": json.Number("2")},
			},
		}},
	},
	{
		name:   "null app_metadata",
		reason: "null means nothing stored",
		in:     `{"user": {"app_metadata": null}}`,
		want:   &action.Event{},
	},
	{
		name: "null strings",
		in: `{"trigger": null, "user": {"user_id": null, "email": null},
		 "session": {"session_id": null}}`,
		want: &action.Event{},
	},
	{
		name:   "integer beyond 2^53 exact",
		reason: "2^53 + 1 would round to 2^53 through float64",
		in: `{"user": {"app_metadata":
		 {"n": 9007199254740993, "f": 1.5e300}}}`,
		want: &action.Event{User: action.User{AppMetadata: metadata.Map{
			"n": json.Number("9007199254740993"),
			"f": json.Number("1.5e300"),
		}}},
	},
	{
		name:   "last_login_at a number",
		reason: "a bad timestamp is for the action to warn about",
		in:     `{"user": {"last_login_at": 1747728000}}`,
		want: &action.Event{User: action.User{
			LastLoginAt: mustTS(`1747728000`),
		}},
	},
	{
		name: "last_login_at an object",
		in:   `{"user": {"last_login_at": {"t": [1, 2]}}}`,
		want: &action.Event{User: action.User{
			LastLoginAt: mustTS(`{"t": [1, 2]}`),
		}},
	},
	{
		name: "last_login_at other types",
		in: `{"user": {"last_login_at": [true]},
		 "session": {"created_at": false}}`,
		want: &action.Event{
			User:    action.User{LastLoginAt: mustTS(`[true]`)},
			Session: action.Session{CreatedAt: mustTS(`false`)},
		},
	},
	{
		name: "last_login_at null",
		in:   `{"user": {"last_login_at": null}}`,
		want: &action.Event{User: action.User{
			LastLoginAt: mustTS(`null`),
		}},
	},
	{
		name: "last_login_at unparseable string",
		in:   `{"user": {"last_login_at": "yesterday"}}`,
		want: &action.Event{User: action.User{
			LastLoginAt: mustTS(`"yesterday"`),
		}},
	},
	{
		name: "1 MiB string",
		in:   `{"user": {"app_metadata": {"blob": "` + bigString + `"}}}`,
		want: &action.Event{User: action.User{AppMetadata: metadata.Map{
			"blob": bigString,
		}}},
	},
	{
		name: "escaped strings",
		in:   `{"user": {"user_id": "u\u00e9\n", "email": "a\"b"}}`,
		want: &action.Event{User: action.User{ID: "ué\n", Email: `a"b`}},
	},
}

// decodeBad lists events that are refused, with words the error holds.
var decodeBad = []struct {
	name   string
	reason string
	in     string
	want   []string
}{
	{name: "empty input", in: "", want: []string{"empty input"}},
	{name: "white space only", in: " \n\t ", want: []string{"empty input"}},
	{name: "top-level array", in: `[{}]`, want: []string{"an array"}},
	{name: "top-level string", in: `"event"`, want: []string{"a string"}},
	{name: "top-level number", in: `42`, want: []string{"a number"}},
	{name: "top-level null", in: `null`, want: []string{"null"}},
	{name: "top-level bool", in: `true`, want: []string{"a boolean"}},
	{
		name: "trailing garbage",
		in:   `{"user": {}} x`,
		want: []string{"byte offset 13", "invalid character 'x'"},
	},
	{
		name:   "second object",
		reason: "the offset is that of the second object, as for garbage",
		in:     `{} {}`,
		want:   []string{"byte offset 3", "data after the event"},
	},
	{
		name: "invalid JSON",
		in:   `{"user": {"user_id": "u1",}}`,
		want: []string{"invalid JSON", "byte offset 26"},
	},
	{
		name: "missing colon",
		in:   `{"user" {}}`,
		want: []string{"invalid JSON", "byte offset 8"},
	},
	{
		name: "truncated",
		in:   `{"user": {"user_id": "u1"`,
		want: []string{"byte offset 25", "unexpected end"},
	},
	{
		name: "unterminated string",
		in:   `{"user": "abc`,
		want: []string{"byte offset 13", "unexpected end"},
	},
	{
		name: "control character in string",
		in:   "{\"user\": \"a\x01\"}",
		want: []string{"invalid JSON", "byte offset 11"},
	},
	{
		name: "user a string",
		in:   `{"user": "bob"}`,
		want: []string{"user must be an object", "a string"},
	},
	{
		name:   "user null",
		reason: "present but not an object",
		in:     `{"user": null}`,
		want:   []string{"user must be an object", "null"},
	},
	{
		name: "session an array",
		in:   `{"session": []}`,
		want: []string{"session must be an object", "an array"},
	},
	{
		name: "app_metadata an array",
		in:   `{"user": {"app_metadata": [1, 2]}}`,
		want: []string{"user.app_metadata must be an object", "an array"},
	},
	{
		name: "app_metadata a number",
		in:   `{"user": {"app_metadata": 3}}`,
		want: []string{"user.app_metadata must be an object", "a number"},
	},
	{
		name: "app_metadata a string",
		in:   `{"user": {"app_metadata": "{}"}}`,
		want: []string{"user.app_metadata must be an object", "a string"},
	},
	{
		name: "user_id a number",
		in:   `{"user": {"user_id": 7}}`,
		want: []string{"user.user_id must be a string", "a number"},
	},
	{
		name: "email an object",
		in:   `{"user": {"email": {}}}`,
		want: []string{"user.email must be a string"},
	},
	{
		name: "trigger a bool",
		in:   `{"trigger": true}`,
		want: []string{"trigger must be a string"},
	},
	{
		name: "session_id an array",
		in:   `{"session": {"session_id": ["s"]}}`,
		want: []string{"session.session_id must be a string"},
	},
	{
		name: "duplicate top-level key",
		in:   `{"user": {}, "user": {"user_id": "u2"}}`,
		want: []string{`duplicate key "user" in the event`},
	},
	{
		name:   "duplicate unknown top-level key",
		reason: "ignored keys are still checked",
		in:     `{"x": 1, "x": 2}`,
		want:   []string{`duplicate key "x" in the event`, "offset 9"},
	},
	{
		name: "duplicate user key",
		in:   `{"user": {"user_id": "u1", "user_id": "u2"}}`,
		want: []string{`duplicate key "user_id" in user`},
	},
	{
		name: "duplicate session key",
		in:   `{"session": {"session_id": "a", "session_id": "b"}}`,
		want: []string{`duplicate key "session_id" in session`},
	},
	{
		name: "duplicate app_metadata key",
		in:   `{"user": {"app_metadata": {"n": 1, "n": 2}}}`,
		want: []string{`duplicate key "n" in user.app_metadata`},
	},
	{
		name: "duplicate nested key",
		in: `{"user": {"app_metadata": {"a": [{"b": {"c": 1,
		 "c": 2}}]}}}`,
		want: []string{`duplicate key "c" in user.app_metadata.a[0].b`},
	},
	{
		name:   "duplicate key spelled two ways",
		reason: `"\u0061" is "a"`,
		in:     `{"a": 1, "\u0061": 2}`,
		want:   []string{`duplicate key "a"`},
	},
	{
		name: "duplicate odd key",
		in:   `{"x": {"a b": 1, "a b": 2}}`,
		want: []string{`duplicate key "a b" in x`},
	},
	{
		name: "too deep",
		in: `{"user": {"app_metadata": {"a": ` +
			strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}}}`,
		want: []string{"nested more than 1000 deep"},
	},
}

func TestDecodeEvent(t *testing.T) {
	for _, tc := range decodeOK {
		t.Run(tc.name, func(t *testing.T) {
			got, err := action.DecodeEvent([]byte(tc.in))
			if err != nil {
				t.Fatalf("DecodeEvent() error = %v, want nil", err)
			}
			opt := cmp.Comparer(func(a, b action.Timestamp) bool {
				return a == b
			})
			if diff := cmp.Diff(tc.want, got, opt); diff != "" {
				t.Errorf("DecodeEvent() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeEventDeepNesting decodes nesting just under the limit. It
// counts the depth itself: cmp.Diff walks nested one-element slices in
// time exponential in their depth.
func TestDecodeEventDeepNesting(t *testing.T) {
	const depth = 990
	in := `{"user": {"app_metadata": {"a": ` +
		strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}}`
	ev, err := action.DecodeEvent([]byte(in))
	if err != nil {
		t.Fatalf("DecodeEvent() error = %v, want nil", err)
	}
	got := 0
	for v := ev.User.AppMetadata["a"]; ; got++ {
		s, ok := v.([]any)
		if !ok {
			t.Fatalf("depth %d holds %T, want []any", got, v)
		}
		if len(s) == 0 {
			got++
			break
		}
		if len(s) != 1 {
			t.Fatalf("depth %d holds %d elements, want 1", got, len(s))
		}
		v = s[0]
	}
	if got != depth {
		t.Errorf("decoded depth = %d, want %d", got, depth)
	}
}

func TestDecodeEventBad(t *testing.T) {
	for _, tc := range decodeBad {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := action.DecodeEvent([]byte(tc.in))
			if err == nil {
				t.Fatalf("DecodeEvent() = %+v, want an error", ev)
			}
			if ev != nil {
				t.Errorf("DecodeEvent() event = %+v, want nil", ev)
			}
			if !errors.Is(err, action.ErrBadEvent) {
				t.Errorf("DecodeEvent() error = %v, want one wrapping "+
					"ErrBadEvent", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("DecodeEvent() error = %q, want it to hold %q",
						err, w)
				}
			}
		})
	}
}

func TestDecodeEventSyntaxError(t *testing.T) {
	_, err := action.DecodeEvent([]byte(`{"a": tru}`))
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("DecodeEvent() error = %v, want a *json.SyntaxError", err)
	}
	// The message names the bad byte, 0-based; the SyntaxError keeps
	// encoding/json's count of bytes read, the bad one included.
	if !strings.Contains(err.Error(), "byte offset 9:") {
		t.Errorf("DecodeEvent() error = %q, want it to name byte "+
			"offset 9", err)
	}
	if got, want := se.Offset, int64(10); got != want {
		t.Errorf("SyntaxError.Offset = %d, want %d", got, want)
	}
}

func TestDecodeEventTimes(t *testing.T) {
	ev, err := action.DecodeEvent([]byte(`{"user":
	 {"last_login_at": "2026-05-20 08:00:00.123+00"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ev.User.LastLoginAt.Time()
	if err != nil {
		t.Fatalf("LastLoginAt.Time() error = %v", err)
	}
	want := time.Date(2026, 5, 20, 8, 0, 0, 123e6, time.UTC)
	if !got.Equal(want) {
		t.Errorf("LastLoginAt.Time() = %v, want %v", got, want)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, tc := range decodeOK {
		f.Add([]byte(tc.in))
	}
	for _, tc := range decodeBad {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := action.DecodeEvent(data)
		if err != nil {
			if ev != nil {
				t.Errorf("DecodeEvent() = %+v with error %v", ev, err)
			}
			if !errors.Is(err, action.ErrBadEvent) {
				t.Errorf("DecodeEvent() error = %v, want ErrBadEvent", err)
			}
			return
		}

		// A decoded event encodes again, and what it encodes to decodes.
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("json.Marshal(DecodeEvent()) error = %v", err)
		}
		if _, err := action.DecodeEvent(b); err != nil {
			t.Errorf("DecodeEvent(json.Marshal(ev)) error = %v", err)
		}
	})
}

// mustTS decodes a Timestamp as an event's decoder does.
func mustTS(text string) action.Timestamp {
	var ts action.Timestamp
	if err := json.Unmarshal([]byte(text), &ts); err != nil {
		panic(err)
	}
	return ts
}

// nested returns n empty arrays nested in one another.
