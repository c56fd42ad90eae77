package action_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/logoutflow/logoutflow/action"
)

func nop(context.Context, *action.Event, action.API) error { return nil }

func TestRegisterRefuses(t *testing.T) {
	tests := []struct {
		name string
		a    action.Action
		want error
		text string // in the error
	}{
		{"a name with a space", action.Action{Name: "no spaces",
			Triggers: action.SessionEnds(), Run: nop},
			action.ErrInvalidAction, "name"},
		{"no trigger", action.Action{Name: "a", Run: nop},
			action.ErrInvalidAction, "no trigger"},
		{"a trigger that ends no session", action.Action{Name: "a",
			Triggers: []action.Trigger{action.Logout, "login"}, Run: nop},
			action.ErrInvalidAction, `"login" ends no session`},
		{"an empty trigger", action.Action{Name: "a",
			Triggers: []action.Trigger{""}, Run: nop},
			action.ErrInvalidAction, `"" ends no session`},
		{"no body", action.Action{Name: "a",
			Triggers: action.SessionEnds()},
			action.ErrInvalidAction, "no Run"},
		{"a name taken", action.Action{Name: "taken",
			Triggers: action.SessionEnds(), Run: nop},
			action.ErrDuplicate, `"taken"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := action.NewRegistry(action.Action{Name: "taken",
				Triggers: []action.Trigger{action.Logout}, Run: nop})
			if err != nil {
				t.Fatalf("NewRegistry() error: %v", err)
			}
			err = reg.Register(tc.a)
			if !errors.Is(err, tc.want) ||
				!strings.Contains(err.Error(), tc.text) {
				t.Errorf("Register() = %v, want %v holding %q", err,
					tc.want, tc.text)
			}
			if _, ok := reg.Lookup(tc.a.Name); ok && tc.a.Name != "taken" {
				t.Errorf("refused action %q is registered", tc.a.Name)
			}
		})
	}
}
