package action_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/logoutflow/logoutflow/action"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"uuid", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", true},
		{"email", "alice@example.com", true},
		{"spaces and slashes", "tenant a/user 42", true},
		{"non-ASCII", "usuário-ñ-日本", true},
		{"longest", strings.Repeat("x", action.MaxIDBytes), true},
		{"empty", "", false},
		{"too long", strings.Repeat("x", action.MaxIDBytes+1), false},
		{"NUL", "a\x00b", false},
		{"newline", "a\nb", false},
		{"DEL", "a\x7fb", false},
		{"C1 control", "a\u0085b", false},
		{"invalid UTF-8", "a\xffb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := action.CheckID(tc.id)
			if tc.ok && err != nil {
				t.Errorf("CheckID() = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, action.ErrBadID) {
				t.Errorf("CheckID() = %v, want ErrBadID", err)
			}
		})
	}
}
