package actiontest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/action/actiontest"
	"github.com/logoutflow/logoutflow/metadata"
)

// callOpts compares action.Call values: slog values by Equal, errors by
// errors.Is.
var callOpts = cmp.Options{
	cmp.Comparer(func(a, b slog.Value) bool { return a.Equal(b) }),
	cmpopts.EquateErrors(),
}

var login = time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)

func TestSetAppMetadata(t *testing.T) {
	seed := metadata.Map{"plan": "pro", "n": 1}
	tests := []struct {
		name     string
		limits   metadata.Limits
		patch    metadata.Map
		wantErr  error
		reason   string
		wantText string // the key and the reason, in the error
		wantMeta metadata.Map
	}{
		{
			name:     "merge",
			patch:    metadata.Map{"n": 2, "team": "blue"},
			wantMeta: metadata.Map{"plan": "pro", "n": 2, "team": "blue"},
		},
		{
			name:     "null deletes",
			patch:    metadata.Map{"plan": nil},
			wantMeta: metadata.Map{"n": 1},
		},
		{
			name:     "json.Number kept exact",
			patch:    metadata.Map{"n": json.Number("9007199254740993")},
			wantMeta: metadata.Map{"plan": "pro", "n": json.Number("9007199254740993")},
		},
		{
			name:     "empty key refused whole",
			patch:    metadata.Map{"": 1, "n": 2},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: `key "": empty key`,
			wantMeta: seed,
		},
		{
			name:     "key over 255 bytes",
			patch:    metadata.Map{strings.Repeat("k", 256): 1, "n": 2},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: "key longer than 255 bytes",
			wantMeta: seed,
		},
		{
			name:     "key with a control character",
			patch:    metadata.Map{"a\nb": 1, "n": 2},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: `key "a\nb": key holds a control character`,
			wantMeta: seed,
		},
		{
			name:     "reserved key",
			patch:    metadata.Map{"__proto__": 1},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: `key "__proto__": reserved key`,
			wantMeta: seed,
		},
		{
			name:     "NaN",
			patch:    metadata.Map{"n": math.NaN()},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: `key "n": NaN cannot be encoded as JSON`,
			wantMeta: seed,
		},
		{
			name:     "+Inf",
			patch:    metadata.Map{"n": math.Inf(1)},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: `key "n": +Inf cannot be encoded as JSON`,
			wantMeta: seed,
		},
		{
			name:     "-Inf nested",
			patch:    metadata.Map{"o": map[string]any{"x": math.Inf(-1)}},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: `key "o": value at ["x"]: -Inf cannot be encoded`,
			wantMeta: seed,
		},
		{
			name:     "channel",
			patch:    metadata.Map{"c": make(chan int)},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: `key "c": a value of type chan int cannot be stored`,
			wantMeta: seed,
		},
		{
			name:     "function",
			patch:    metadata.Map{"f": func() {}},
			wantErr:  metadata.ErrInvalidPatch,
			wantText: `key "f": a value of type func() cannot be stored`,
			wantMeta: seed,
		},
		{
			name:     "over the limits",
			limits:   metadata.Limits{MaxBytes: 30},
			patch:    metadata.Map{"bio": "a long enough text"},
			wantErr:  metadata.ErrTooLarge,
			wantText: `over the limit of 30 at key "bio"`,
			wantMeta: seed,
		},
		{
			name:     "over 16 KiB by default",
			patch:    metadata.Map{"bio": strings.Repeat("b", 16<<10)},
			wantErr:  metadata.ErrTooLarge,
			wantText: `over the limit of 16384 at key "bio"`,
			wantMeta: seed,
		},
		{
			name:     "16 KiB exactly",
			reason:   `{"bio":"…","n":1,"plan":"pro"} is 16384 bytes`,
			patch:    metadata.Map{"bio": strings.Repeat("b", 16<<10-29)},
			wantMeta: metadata.Map{"plan": "pro", "n": 1, "bio": strings.Repeat("b", 16<<10-29)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := actiontest.LogoutEvent("u1", login, seed)
			r := actiontest.NewRecorder(ev, actiontest.Options{
				Limits: tc.limits,
			})
			err := r.User().SetAppMetadata(context.Background(), tc.patch)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("SetAppMetadata error = %v, want %v",
					err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("SetAppMetadata error = %q, want it to hold %q",
					err, tc.wantText)
			}
			want := []action.Call{{
				API:   action.CallSetAppMetadata,
				Patch: tc.patch,
				Err:   tc.wantErr,
			}}
			opts := append(callOpts, cmpopts.EquateNaNs(),
				cmpopts.IgnoreTypes(func() {}))
			if diff := cmp.Diff(want, r.Calls(), opts); diff != "" {
				t.Errorf("calls mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMeta, r.AppMetadata()); diff != "" {
				t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateAppMetadata(t *testing.T) {
	ctx := context.Background()
	r := actiontest.NewRecorder(nil, actiontest.Options{})

	// Nothing stored yet: fn sees nil.
	count := func(cur metadata.Map) (metadata.Map, error) {
		n, _ := metadata.Int(cur["n"])
		return metadata.Map{"n": n + 1}, nil
	}
	var first metadata.Map = metadata.Map{"sentinel": true}
	err := r.User().UpdateAppMetadata(ctx,
		func(cur metadata.Map) (metadata.Map, error) {
			first = cur
			return count(cur)
		})
	if err != nil || first != nil {
		t.Fatalf("first update: error %v, fn saw %v; want nil, nil",
			err, first)
	}
	if err := r.User().UpdateAppMetadata(ctx, count); err != nil {
		t.Fatalf("second update error: %v", err)
	}

	// An error of fn comes back unchanged and stores nothing.
	boom := errors.New("boom")
	err = r.User().UpdateAppMetadata(ctx,
		func(metadata.Map) (metadata.Map, error) { return nil, boom })
	if err != boom {
		t.Errorf("failing update error = %v, want %v", err, boom)
	}

	want := []action.Call{
		{API: action.CallSetAppMetadata, Patch: metadata.Map{"n": int64(1)}},
		{API: action.CallSetAppMetadata, Patch: metadata.Map{"n": int64(2)}},
		{API: action.CallSetAppMetadata, Err: boom},
	}
	if diff := cmp.Diff(want, r.Calls(), callOpts); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
	wantMeta := metadata.Map{"n": int64(2)}
	if diff := cmp.Diff(wantMeta, r.AppMetadata()); diff != "" {
		t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
	}
}

func TestUpdateAppMetadataRetries(t *testing.T) {
	r := actiontest.NewRecorder(nil, actiontest.Options{Retries: 2})
	calls := 0
	err := r.User().UpdateAppMetadata(context.Background(),
		func(metadata.Map) (metadata.Map, error) {
			calls++
			return metadata.Map{"calls": calls}, nil
		})
	if err != nil {
		t.Fatalf("UpdateAppMetadata error: %v", err)
	}
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3", calls)
	}
	if got := len(r.Calls()); got != 1 {
		t.Errorf("len(Calls()) = %d, want 1", got)
	}
	if got := r.AppMetadata()["calls"]; got != 3 {
		t.Errorf("stored calls = %v, want the last patch's 3", got)
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := actiontest.NewRecorder(nil, actiontest.Options{})
	ran := false
	errUpdate := r.User().UpdateAppMetadata(ctx,
		func(metadata.Map) (metadata.Map, error) {
			ran = true
			return nil, nil
		})
	errSet := r.User().SetAppMetadata(ctx, metadata.Map{"a": 1})
	if !errors.Is(errUpdate, context.Canceled) ||
		!errors.Is(errSet, context.Canceled) || ran {
		t.Errorf("errors %v, %v, fn ran %t; want context.Canceled twice "+
			"and fn not run", errUpdate, errSet, ran)
	}
	if md := r.AppMetadata(); md != nil {
		t.Errorf("AppMetadata() = %v, want nil", md)
	}
}

func TestSetCustomClaim(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		value   any
		wantErr error
	}{
		{"string", "tier", "gold", nil},
		{"object", "org", map[string]any{"id": "o1"}, nil},
		{"empty key", "", "x", metadata.ErrInvalidPatch},
		{"NaN", "score", math.NaN(), metadata.ErrInvalidPatch},
		{"channel", "ch", make(chan int), metadata.ErrInvalidPatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := actiontest.NewRecorder(nil, actiontest.Options{})
			err := r.Session().SetCustomClaim(tc.key, tc.value)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("SetCustomClaim error = %v, want %v", err, tc.wantErr)
			}
			var want map[string]any
			if tc.wantErr == nil {
				want = map[string]any{tc.key: tc.value}
			}
			if diff := cmp.Diff(want, r.Claims()); diff != "" {
				t.Errorf("claims mismatch (-want +got):\n%s", diff)
			}
			if md := r.AppMetadata(); md != nil {
				t.Errorf("AppMetadata() = %v, want nil: claims never "+
					"touch the user", md)
			}
			calls := r.Calls()
			if len(calls) != 1 || calls[0].API != action.CallSetCustomClaim ||
				calls[0].Key != tc.key || !errors.Is(calls[0].Err, tc.wantErr) {
				t.Errorf("calls = %+v, want one custom claim %q", calls, tc.key)
			}
		})
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	r := actiontest.NewRecorder(nil, actiontest.Options{Logger: logger})
	attrs := []slog.Attr{slog.Int("n", 1)}
	r.Log(slog.LevelWarn, "careful", attrs...)
	attrs[0] = slog.Int("n", 2) // the record keeps its own copy

	want := []action.Call{{
		API:     action.CallLog,
		Level:   slog.LevelWarn,
		Message: "careful",
		Attrs:   []slog.Attr{slog.Int("n", 1)},
	}}
	if diff := cmp.Diff(want, r.Calls(), callOpts); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
	if got, want := buf.String(), "level=WARN msg=careful n=1\n"; got != want {
		t.Errorf("logger got %q, want %q", got, want)
	}
}

// TestCopies checks that the recorder shares no map with its caller.
func TestCopies(t *testing.T) {
	ctx := context.Background()
	seed := metadata.Map{"prefs": map[string]any{"theme": "dark"}}
	r := actiontest.NewRecorder(actiontest.LogoutEvent("u1", login, seed),
		actiontest.Options{})
	seed["prefs"].(map[string]any)["theme"] = "light"

	patch := metadata.Map{"tags": []any{"a"}}
	if err := r.SetAppMetadata(ctx, patch); err != nil {
		t.Fatalf("SetAppMetadata error: %v", err)
	}
	patch["tags"].([]any)[0] = "changed"
	r.AppMetadata()["prefs"].(map[string]any)["theme"] = "changed"
	r.Calls()[0].Patch["tags"] = "changed"

	want := metadata.Map{
		"prefs": map[string]any{"theme": "dark"},
		"tags":  []any{"a"},
	}
	if diff := cmp.Diff(want, r.AppMetadata()); diff != "" {
		t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
	}
	wantPatch := metadata.Map{"tags": []any{"a"}}
	if diff := cmp.Diff(wantPatch, r.Calls()[0].Patch); diff != "" {
		t.Errorf("recorded patch mismatch (-want +got):\n%s", diff)
	}
}

func TestRun(t *testing.T) {
	logs := func(ctx context.Context, ev *action.Event, api action.API) error {
		api.Log(slog.LevelInfo, "ran")
		return nil
	}
	boom := errors.New("boom")
	tests := []struct {
		name      string
		action    action.Action
		trigger   action.Trigger
		wantErr   error
		wantCalls int
	}{
		{
			name:      "runs",
			action:    action.Action{Name: "a", Triggers: logout, Run: logs},
			wantCalls: 1,
		},
		{
			name:    "empty trigger means logout",
			action:  action.Action{Name: "a", Triggers: logout, Run: logs},
			trigger: "", wantCalls: 1,
		},
		{
			name: "error returned as is",
			action: action.Action{Name: "a", Triggers: logout,
				Run: func(context.Context, *action.Event, action.API) error {
					return boom
				}},
			wantErr: boom,
		},
		{
			name: "panic recovered, calls before it kept",
			action: action.Action{Name: "a", Triggers: logout,
				Run: func(ctx context.Context, ev *action.Event,
					api action.API) error {
					api.Log(slog.LevelInfo, "before")
					panic("boom")
				}},
			wantErr:   actiontest.ErrPanic,
			wantCalls: 1,
		},
		{
			name: "other trigger",
			action: action.Action{Name: "a",
				Triggers: []action.Trigger{"signup"}, Run: logs},
			wantErr: actiontest.ErrTrigger,
		},
		{
			name:    "no body",
			action:  action.Action{Name: "a", Triggers: logout},
			wantErr: actiontest.ErrTrigger,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := actiontest.LogoutEvent("u1", login, nil)
			ev.Trigger = tc.trigger
			r, err := actiontest.Run(context.Background(), tc.action, ev,
				actiontest.Options{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run error = %v, want %v", err, tc.wantErr)
			}
			if r == nil {
				t.Fatal("Run returned a nil recorder")
			}
			if got := len(r.Calls()); got != tc.wantCalls {
				t.Errorf("len(Calls()) = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

var logout = []action.Trigger{action.Logout}

func TestLogoutEvent(t *testing.T) {
	md := metadata.Map{"n": 1}
	ev := actiontest.LogoutEvent("u1", login, md)
	got, err := ev.User.LastLoginAt.Time()
	if err != nil || !got.Equal(login) {
		t.Errorf("LastLoginAt.Time() = %v, %v; want %v", got, err, login)
	}
	if ev.Trigger != action.Logout || ev.User.ID != "u1" ||
		ev.Session.ID != actiontest.SessionID {
		t.Errorf("event = %+v, want a logout of u1 in %q",
			ev, actiontest.SessionID)
	}
	if diff := cmp.Diff(md, ev.User.AppMetadata); diff != "" {
		t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
	}

	absent := actiontest.LogoutEvent("u1", time.Time{}, nil)
	if _, err := absent.User.LastLoginAt.Time(); !errors.Is(err,
		action.ErrMissingTime) {
		t.Errorf("zero login: Time() error = %v, want ErrMissingTime", err)
	}
}

// TestConcurrent runs updates from many goroutines; with -race it also
// checks the locking.
func TestConcurrent(t *testing.T) {
	const n = 50
	ctx := context.Background()
	r := actiontest.NewRecorder(nil, actiontest.Options{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_ = r.UpdateAppMetadata(ctx,
				func(cur metadata.Map) (metadata.Map, error) {
					c, _ := metadata.Int(cur["count"])
					return metadata.Map{"count": c + 1}, nil
				})
			r.Log(slog.LevelDebug, "done")
			_ = r.SetCustomClaim("k", 1)
			_ = r.Calls()
		})
	}
	wg.Wait()
	if got := r.AppMetadata()["count"]; got != int64(n) {
		t.Errorf("count = %v, want %d", got, n)
	}
	if got := len(r.Calls()); got != 3*n {
		t.Errorf("len(Calls()) = %d, want %d", got, 3*n)
	}
}

// TestUpdateAppMetadataRefuses checks that the patch of an atomic update
// is validated as a plain write's is: refused whole, nothing stored.
func TestUpdateAppMetadataRefuses(t *testing.T) {
	seed := metadata.Map{"n": 1}
	tests := []struct {
		name     string
		limits   metadata.Limits
		patch    metadata.Map
		wantErr  error
		wantText string
	}{
		{"empty key", metadata.Limits{}, metadata.Map{"": 1, "ok": 2},
			metadata.ErrInvalidPatch, `key "": empty key`},
		{"long key", metadata.Limits{},
			metadata.Map{strings.Repeat("é", 128): 1},
			metadata.ErrInvalidPatch, "key longer than 255 bytes"},
		{"control character", metadata.Limits{}, metadata.Map{"\x00": 1},
			metadata.ErrInvalidPatch, `key "\x00": key holds a control`},
		{"NaN", metadata.Limits{}, metadata.Map{"n": math.NaN()},
			metadata.ErrInvalidPatch, `key "n": NaN`},
		{"channel", metadata.Limits{}, metadata.Map{"c": make(chan int)},
			metadata.ErrInvalidPatch, `key "c": a value of type chan int`},
		{"over the limit", metadata.Limits{MaxBytes: 64},
			metadata.Map{"bio": strings.Repeat("b", 64)},
			metadata.ErrTooLarge, `over the limit of 64 at key "bio"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := actiontest.LogoutEvent("u1", login, seed)
			r := actiontest.NewRecorder(ev, actiontest.Options{
				Limits: tc.limits,
			})
			err := r.User().UpdateAppMetadata(context.Background(),
				func(metadata.Map) (metadata.Map, error) {
					return tc.patch, nil
				})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("UpdateAppMetadata error = %v, want %v",
					err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("UpdateAppMetadata error = %q, want it to hold %q",
					err, tc.wantText)
			}
			if diff := cmp.Diff(seed, r.AppMetadata()); diff != "" {
				t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
			}
			calls := r.Calls()
			if len(calls) != 1 || !errors.Is(calls[0].Err, tc.wantErr) {
				t.Errorf("calls = %+v, want one refused write", calls)
			}
		})
	}
}

// TestExactNumbers follows an integer above 2^53 from the event's
// app_metadata through an atomic update to the stored value and the
// recorded call, as JSON: float64 would round 2^53 + 1 to 2^53.
func TestExactNumbers(t *testing.T) {
	ev, err := action.DecodeEvent([]byte(`{"user": {"user_id": "u1",
		"app_metadata": {"n": 9007199254740993, "keep": 123456789012345678901}}}`))
	if err != nil {
		t.Fatalf("DecodeEvent error: %v", err)
	}
	r := actiontest.NewRecorder(ev, actiontest.Options{})
	err = r.User().UpdateAppMetadata(context.Background(),
		func(cur metadata.Map) (metadata.Map, error) {
			n, ok := metadata.Int(cur["n"])
			if !ok {
				return nil, errors.New("n is not an integer")
			}
			return metadata.Map{"n": n + 2, "was": cur["n"]}, nil
		})
	if err != nil {
		t.Fatalf("UpdateAppMetadata error: %v", err)
	}

	b, err := json.Marshal(r.AppMetadata())
	if err != nil {
		t.Fatalf("json.Marshal(AppMetadata()) error: %v", err)
	}
	want := `{"keep":123456789012345678901,"n":9007199254740995,` +
		`"was":9007199254740993}`
	if got := string(b); got != want {
		t.Errorf("stored app_metadata = %s, want %s", got, want)
	}
	b, err = json.Marshal(r.Calls())
	if err != nil {
		t.Fatalf("json.Marshal(Calls()) error: %v", err)
	}
	want = `[{"api":"user.setAppMetadata","patch":{"n":9007199254740995,` +
		`"was":9007199254740993}}]`
	if got := string(b); got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
}

// TestRefusedPatchHoldsItself records patches that hold themselves, which
// Validate refuses as too deep: recording and reading them back must
// neither loop nor overflow the stack.
func TestRefusedPatchHoldsItself(t *testing.T) {
	self := map[string]any{}
	self["self"] = self
	loop := []any{nil}
	loop[0] = loop
	boom := errors.New("boom")
	// update writes a patch holding self through UpdateAppMetadata, its
	// function returning err.
	update := func(err error) func(context.Context, *actiontest.Recorder) error {
		return func(ctx context.Context, r *actiontest.Recorder) error {
			return r.UpdateAppMetadata(ctx,
				func(metadata.Map) (metadata.Map, error) {
					return metadata.Map{"s": self}, err
				})
		}
	}
	tests := []struct {
		name    string
		write   func(context.Context, *actiontest.Recorder) error
		wantErr error
	}{
		{
			name: "SetAppMetadata, a map",
			write: func(ctx context.Context, r *actiontest.Recorder) error {
				return r.SetAppMetadata(ctx, metadata.Map{"s": self})
			},
			wantErr: metadata.ErrInvalidPatch,
		},
		{
			name: "SetAppMetadata, a slice",
			write: func(ctx context.Context, r *actiontest.Recorder) error {
				return r.SetAppMetadata(ctx, metadata.Map{"l": loop})
			},
			wantErr: metadata.ErrInvalidPatch,
		},
		{
			name:    "UpdateAppMetadata",
			write:   update(nil),
			wantErr: metadata.ErrInvalidPatch,
		},
		{
			name:    "UpdateAppMetadata failing with its patch",
			write:   update(boom),
			wantErr: boom,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := actiontest.NewRecorder(nil, actiontest.Options{})
			err := tc.write(context.Background(), r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("write error = %v, want %v", err, tc.wantErr)
			}
			calls := r.Calls()
			if len(calls) != 1 || !errors.Is(calls[0].Err, tc.wantErr) {
				t.Fatalf("calls = %d, want one refused write", len(calls))
			}
			if _, err := json.Marshal(calls); err != nil {
				t.Errorf("json.Marshal(Calls()) error: %v", err)
			}
			if md := r.AppMetadata(); md != nil {
				t.Errorf("AppMetadata() = %v, want nil", md)
			}
		})
	}
}

// TestDeepPatchCopied checks that a valid patch nested as deep as
// Validate allows is recorded as a full copy.
func TestDeepPatchCopied(t *testing.T) {
	leaf := map[string]any{"v": "before"}
	var deep any = leaf
	for range metadata.MaxDepth - 1 {
		deep = []any{deep}
	}
	r := actiontest.NewRecorder(nil, actiontest.Options{})
	patch := metadata.Map{"d": deep}
	if err := r.SetAppMetadata(context.Background(), patch); err != nil {
		t.Fatalf("SetAppMetadata error: %v", err)
	}
	leaf["v"] = "after"

	// Walk down the recorded copy to its leaf.
	v := r.Calls()[0].Patch["d"]
	for {
		s, ok := v.([]any)
		if !ok {
			break
		}
		v = s[0]
	}
	if got := v.(map[string]any)["v"]; got != "before" {
		t.Errorf("recorded leaf = %v, want before: the patch was shared",
			got)
	}
}

// panicky panics when encoded, as a MarshalJSON method on a nil map or
// pointer field may.
type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("boom") }

// TestCallJSON checks the JSON form of each kind of call, as the
// command-line tester prints it, including values JSON cannot hold.
func TestCallJSON(t *testing.T) {
	at := time.Date(2026, 5, 20, 8, 0, 0, 5, time.UTC)
	self := map[string]any{}
	self["self"] = self
	tests := []struct {
		name string
		call action.Call
		want string
	}{
		{
			name: "log",
			call: action.Call{API: action.CallLog, Level: slog.LevelWarn,
				Message: "a <b> & c", Attrs: []slog.Attr{
					slog.Int64("n", 9007199254740993),
					slog.Uint64("u", math.MaxUint64),
					slog.Float64("f", 1.5),
					slog.Bool("b", true),
					slog.Duration("d", 1500*time.Millisecond),
					slog.Time("t", at),
					slog.Any("err", errors.New("bad")),
				}},
			want: `{"api":"log","level":"warn","message":"a <b> & c",` +
				`"attrs":{"n":9007199254740993,"u":18446744073709551615,` +
				`"f":1.5,"b":true,"d":"1.5s",` +
				`"t":"2026-05-20T08:00:00.000000005Z","err":"bad"}}`,
		},
		{
			name: "log levels and groups",
			call: action.Call{API: action.CallLog, Level: slog.LevelWarn + 2,
				Message: "m", Attrs: []slog.Attr{
					slog.Group("g", slog.String("a", "1")),
					slog.Group("", slog.String("inlined", "2")),
					slog.Group("empty"),
					{},
					slog.String("k", "first"),
					slog.String("k", "last"),
				}},
			want: `{"api":"log","level":"warn+2","message":"m",` +
				`"attrs":{"g":{"a":"1"},"inlined":"2","k":"last"}}`,
		},
		{
			name: "log values JSON cannot hold",
			call: action.Call{API: action.CallLog, Level: slog.LevelDebug,
				Message: "m", Attrs: []slog.Attr{
					slog.Float64("nan", math.NaN()),
					slog.Float64("inf", math.Inf(-1)),
					slog.Any("ch", make(chan int)),
					slog.Any("p", panicky{}),
				}},
			want: `{"api":"log","level":"debug","message":"m",` +
				`"attrs":{"nan":"NaN","inf":"-Inf",` +
				`"ch":"(unencodable chan int)",` +
				`"p":"(unencodable actiontest_test.panicky)"}}`,
		},
		{
			name: "setAppMetadata, numbers exact",
			call: action.Call{API: action.CallSetAppMetadata,
				Patch: metadata.Map{
					"n": json.Number("9007199254740993"),
					"i": int64(math.MaxInt64),
					"z": nil,
				}},
			want: `{"api":"user.setAppMetadata","patch":` +
				`{"i":9223372036854775807,"n":9007199254740993,"z":null}}`,
		},
		{
			name: "setAppMetadata refused, error last",
			call: action.Call{API: action.CallSetAppMetadata,
				Patch: metadata.Map{"n": math.NaN(), "s": self},
				Err:   errors.New("refused")},
			want: `{"api":"user.setAppMetadata","patch":{"n":"NaN",` +
				`"s":{"self":` + strings.Repeat(`{"self":`, 99) +
				`"(nested too deep)"` + strings.Repeat("}", 100) + `},` +
				`"error":"refused"}`,
		},
		{
			name: "setAppMetadata without a patch",
			call: action.Call{API: action.CallSetAppMetadata},
			want: `{"api":"user.setAppMetadata","patch":{}}`,
		},
		{
			name: "setCustomClaim",
			call: action.Call{API: action.CallSetCustomClaim, Key: "tier",
				Value: []any{"gold", json.Number("1e400")}},
			want: `{"api":"session.setCustomClaim","key":"tier",` +
				`"value":["gold",1e400]}`,
		},
		{
			name: "setCustomClaim refused",
			call: action.Call{API: action.CallSetCustomClaim, Key: "f",
				Value: func() {}, Err: errors.New("no")},
			want: `{"api":"session.setCustomClaim","key":"f",` +
				`"value":"(unencodable func())","error":"no"}`,
		},
		{
			name: "another API",
			call: action.Call{API: "user.delete", Err: errors.New("?")},
			want: `{"api":"user.delete","error":"?"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.call)
			if err != nil {
				t.Fatalf("json.Marshal error: %v", err)
			}
			// json.Marshal escapes HTML in what MarshalJSON returns.
			got, err := tc.call.MarshalJSON()
			if err != nil || !json.Valid(got) || !json.Valid(b) {
				t.Fatalf("MarshalJSON = %s, %v; want valid JSON", got, err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("MarshalJSON mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUpdateAppMetadataPassesACopy checks that fn gets a deep copy of the
// stored app_metadata, a fresh one at each call: what fn changes in
// current is neither stored nor seen by the next call.
func TestUpdateAppMetadataPassesACopy(t *testing.T) {
	seed := func() metadata.Map {
		return metadata.Map{
			"n":     1,
			"prefs": map[string]any{"theme": "dark"},
			"tags":  []any{"a", map[string]any{"k": "v"}},
			"org":   metadata.Map{"id": "o1"},
		}
	}
	tests := []struct {
		name   string
		mutate func(current metadata.Map)
	}{
		{"a top-level value", func(cur metadata.Map) { cur["n"] = 99 }},
		{"a new key", func(cur metadata.Map) { cur["added"] = true }},
		{"a deleted key", func(cur metadata.Map) { delete(cur, "prefs") }},
		{"a nested map", func(cur metadata.Map) {
			cur["prefs"].(map[string]any)["theme"] = "light"
		}},
		{"a nested Map", func(cur metadata.Map) {
			cur["org"].(metadata.Map)["id"] = "o2"
		}},
		{"a slice element", func(cur metadata.Map) {
			cur["tags"].([]any)[0] = "b"
		}},
		{"a map in a slice", func(cur metadata.Map) {
			cur["tags"].([]any)[1].(map[string]any)["k"] = "w"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := actiontest.NewRecorder(
				actiontest.LogoutEvent("u1", login, seed()),
				actiontest.Options{Retries: 2})
			var seen []metadata.Map
			err := r.User().UpdateAppMetadata(context.Background(),
				func(cur metadata.Map) (metadata.Map, error) {
					seen = append(seen, metadata.Clone(cur))
					tc.mutate(cur)
					return metadata.Map{"count": 1}, nil
				})
			if err != nil {
				t.Fatalf("UpdateAppMetadata error: %v", err)
			}

			// Every call saw the stored value, unchanged by the last.
			wantSeen := []metadata.Map{seed(), seed(), seed()}
			if diff := cmp.Diff(wantSeen, seen); diff != "" {
				t.Errorf("current mismatch (-want +got):\n%s", diff)
			}
			want := seed()
			want["count"] = 1
			if diff := cmp.Diff(want, r.AppMetadata()); diff != "" {
				t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSeedNotValidated checks what NewRecorder documents: the seed stands
// for what a store returns and is stored as it is, even what no patch
// could write, for the action to read; the action's writes are validated.
func TestSeedNotValidated(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		seed metadata.Map
	}{
		{"reserved key", metadata.Map{"__proto__": 1}},
		{"empty key", metadata.Map{"": 1}},
		{"'$' key", metadata.Map{"$set": 1}},
		{"nested reserved key", metadata.Map{"x": map[string]any{
			"constructor": map[string]any{"isAdmin": true}}}},
		// The write replaces it: what is left encodes.
		{"NaN", metadata.Map{"n": math.NaN()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := actiontest.NewRecorder(
				actiontest.LogoutEvent("u1", login, tc.seed),
				actiontest.Options{})
			var seen metadata.Map
			err := r.User().UpdateAppMetadata(ctx,
				func(cur metadata.Map) (metadata.Map, error) {
					seen = cur
					return metadata.Map{"n": 1, "ok": 1}, nil
				})
			if err != nil {
				t.Fatalf("UpdateAppMetadata error: %v", err)
			}
			opts := cmpopts.EquateNaNs()
			if diff := cmp.Diff(tc.seed, seen, opts); diff != "" {
				t.Errorf("current mismatch (-want +got):\n%s", diff)
			}
			want := metadata.Clone(tc.seed)
			want["n"], want["ok"] = 1, 1
			if diff := cmp.Diff(want, r.AppMetadata(), opts); diff != "" {
				t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
			}

			// Writing the seed back is refused, as a store would.
			err = r.SetAppMetadata(ctx, tc.seed)
			if !errors.Is(err, metadata.ErrInvalidPatch) {
				t.Errorf("SetAppMetadata(seed) error = %v, want %v", err,
					metadata.ErrInvalidPatch)
			}
		})
	}
}

// TestSeedHoldsItself checks that a seed holding itself, which no store
// can return, neither hangs nor crashes the recorder: it is read and
// copied, and a write merged into it is refused as unencodable.
func TestSeedHoldsItself(t *testing.T) {
	self := map[string]any{}
	self["self"] = self
	r := actiontest.NewRecorder(
		actiontest.LogoutEvent("u1", login, metadata.Map{"s": self}),
		actiontest.Options{})
	err := r.User().UpdateAppMetadata(context.Background(),
		func(cur metadata.Map) (metadata.Map, error) {
			if _, ok := cur["s"].(map[string]any); !ok {
				return nil, errors.New("no s in current")
			}
			return metadata.Map{"n": 1}, nil
		})
	if !errors.Is(err, metadata.ErrInvalidPatch) {
		t.Errorf("UpdateAppMetadata error = %v, want %v", err,
			metadata.ErrInvalidPatch)
	}
	if _, ok := r.AppMetadata()["s"].(map[string]any); !ok {
		t.Errorf("AppMetadata() lost the seed")
	}
}

// TestRunRunsEventsWithoutIDs checks that Run, unlike a flow, runs an event
// without a user ID or a session ID, so that an action's own checks can
// be tested.
func TestRunRunsEventsWithoutIDs(t *testing.T) {
	tests := []struct {
		name string
		ev   *action.Event
	}{
		{"nil event", nil},
		{"no user ID", actiontest.LogoutEvent("", login, nil)},
		{"no session ID", &action.Event{User: action.User{ID: "u1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			a := action.Action{Name: "a", Triggers: logout,
				Run: func(context.Context, *action.Event, action.API) error {
					ran = true
					return nil
				}}
			if _, err := actiontest.Run(context.Background(), a, tc.ev,
				actiontest.Options{}); err != nil || !ran {
				t.Errorf("Run error = %v, ran %t; want nil, true", err, ran)
			}
		})
	}
}
