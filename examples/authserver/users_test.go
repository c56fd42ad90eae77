package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"
)

func TestReadUsers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Credential
		wantErr bool
	}{
		{
			name: "two users",
			in: `[{"user_id": "u1", "email": "u1@example.com",
				"password": "p1"}, {"user_id": "u2", "password": "p2"}]`,
			want: []Credential{
				{UserID: "u1", Email: "u1@example.com", Password: "p1"},
				{UserID: "u2", Password: "p2"},
			},
		},
		{
			// A misspelt field would otherwise leave a user without
			// a password, or an ID.
			name:    "unknown field",
			in:      `[{"user_id": "u1", "pasword": "p1"}]`,
			wantErr: true,
		},
		{name: "not a list", in: `{"user_id": "u1"}`, wantErr: true},
		{name: "data after the list", in: `[] []`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadUsers(strings.NewReader(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrBadUsers) {
					t.Errorf("ReadUsers = %v, want an error wrapping %v",
						err, ErrBadUsers)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadUsers = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ReadUsers mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHashUsersRefuses(t *testing.T) {
	ok := Credential{UserID: "u1", Password: "p"}
	tests := []struct {
		name  string
		creds []Credential
	}{
		{name: "no users"},
		{name: "empty ID", creds: []Credential{{Password: "p"}}},
		{
			// A leading '=' would run as a formula in a spreadsheet
			// that opens report.csv.
			name:  "formula ID",
			creds: []Credential{{UserID: "=cmd", Password: "p"}},
		},
		{
			name:  "ID with a slash",
			creds: []Credential{{UserID: "a/b", Password: "p"}},
		},
		{
			name: "ID too long",
			creds: []Credential{
				{UserID: strings.Repeat("a", 65), Password: "p"},
			},
		},
		{name: "empty password", creds: []Credential{{UserID: "u1"}}},
		{name: "same ID twice", creds: []Credential{ok, ok}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := HashUsers(tc.creds, bcrypt.MinCost)
			if !errors.Is(err, ErrBadUsers) {
				t.Errorf("HashUsers = %v, want an error wrapping %v", err,
					ErrBadUsers)
			}
		})
	}
}

// TestHashUsers checks that the hash matches the password, and that the
// password itself is kept nowhere.
func TestHashUsers(t *testing.T) {
	users, err := HashUsers(DemoCredentials, bcrypt.MinCost)
	if err != nil {
		t.Fatalf("HashUsers = %v", err)
	}
	for i, u := range users {
		c := DemoCredentials[i]
		if u.ID != c.UserID || u.Email != c.Email {
			t.Errorf("user %d = %s <%s>, want %s <%s>", i, u.ID, u.Email,
				c.UserID, c.Email)
		}
		err := bcrypt.CompareHashAndPassword(u.PasswordHash,
			[]byte(c.Password))
		if err != nil {
			t.Errorf("%s's hash does not match the password: %v", u.ID, err)
		}
	}
}

// TestUsersFile signs in a user of a -users file, as main reads it.
func TestUsersFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "users.json")
	err := os.WriteFile(name, []byte(`[{"user_id": "carol",
		"email": "carol@example.com", "password": "carol-pw"}]`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := readUsersFile(name)
	if err != nil {
		t.Fatalf("readUsersFile = %v", err)
	}
	f := newFixture(t, fixtureOptions{creds: creds})
	f.signIn(t, "carol", "carol-pw")
	if r := f.postForm(t, "/login", "", "user_id", "alice",
		"password", "alice-demo-pw"); r.status != http.StatusUnauthorized {
		t.Errorf("POST /login as a demo user with a -users file = %d, "+
			"want 401", r.status)
	}
}
