package action_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
)

// Example registers a plain Go function as an action and turns it off:
// flows skip a disabled action from their next run on.
func Example() {
	markSeen := action.Action{
		Name:     "mark-signed-out",
		Triggers: []action.Trigger{action.Logout},
		Run: func(ctx context.Context, ev *action.Event, api action.API) error {
			api.Log(slog.LevelDebug, "marking")
			return api.User().SetAppMetadata(ctx,
				metadata.Map{"signed_out": true})
		},
	}
	reg, err := action.NewRegistry(markSeen)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reg.Names())

	e, _ := reg.Lookup("mark-signed-out")
	fmt.Println(e.Enabled(), e.Action().Handles(action.Logout))
	if err := reg.SetEnabled("mark-signed-out", false); err != nil {
		fmt.Println(err)
	}
	fmt.Println(e.Enabled())

	// Names are checked when an action is registered.
	fmt.Println(reg.Register(action.Action{Name: "no spaces"}))
	// Output:
	// [mark-signed-out]
	// true true
	// false
	// action: invalid action "no spaces": name may hold only letters, digits, '-', '_' and '.'
}

// ExampleDecodeEvent decodes an event as an auth server sends it.
func ExampleDecodeEvent() {
	ev, err := action.DecodeEvent([]byte(`{
	  "trigger": "logout",
	  "user": {"user_id": "u1", "last_login_at": "2026-05-20 08:00:00.123+00",
	           "app_metadata": {"session_count": 3}},
	  "session": {"session_id": "s1"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	t, err := ev.User.LastLoginAt.Time()
	fmt.Println(ev.User.ID, ev.Session.ID, t, err)
	fmt.Println(ev.User.AppMetadata)

	// A bad event's error wraps ErrBadEvent and names where and why.
	_, err = action.DecodeEvent([]byte(`{"user": {"user_id": "u1",}}`))
	fmt.Println(errors.Is(err, action.ErrBadEvent))
	where, why, _ := strings.Cut(
		strings.TrimPrefix(err.Error(), action.ErrBadEvent.Error()+": "), ": ")
	fmt.Println(where)
	fmt.Println(why)
	// Output:
	// u1 s1 2026-05-20 08:00:00.123 +0000 UTC <nil>
	// map[session_count:3]
	// true
	// invalid JSON at byte offset 26
	// invalid character '}' looking for beginning of object key string
}
