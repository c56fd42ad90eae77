package actiontest_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/action/actiontest"
	"github.com/logoutflow/logoutflow/metadata"
)

// Run an action on a logout event and read its calls, as a console's Test
// tab shows them.
func Example() {
	farewell := action.Action{
		Name:     "farewell",
		Triggers: []action.Trigger{action.Logout},
		Run: func(ctx context.Context, ev *action.Event, api action.API) error {
			api.Log(slog.LevelInfo, "bye", slog.String("user", ev.User.ID))
			if err := api.Session().SetCustomClaim("bye", true); err != nil {
				return err
			}
			return api.User().SetAppMetadata(ctx,
				metadata.Map{"said_bye": true})
		},
	}

	ev := actiontest.LogoutEvent("u1", login, metadata.Map{"plan": "pro"})
	r, err := actiontest.Run(context.Background(), farewell, ev,
		actiontest.Options{})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, c := range r.Calls() {
		switch c.API {
		case action.CallLog:
			fmt.Println(c.API, c.Level, c.Message, c.Attrs)
		case action.CallSetCustomClaim:
			fmt.Println(c.API, c.Key, c.Value)
		default:
			fmt.Println(c.API, c.Patch)
		}
	}
	fmt.Println("app_metadata:", r.AppMetadata())
	fmt.Println("claims:", r.Claims())
	// Output:
	// log INFO bye [user=u1]
	// session.setCustomClaim bye true
	// user.setAppMetadata map[said_bye:true]
	// app_metadata: map[plan:pro said_bye:true]
	// claims: map[bye:true]
}
