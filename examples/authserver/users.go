package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/crypto/bcrypt"
)

// ErrBadUsers is wrapped by the errors of [ReadUsers], [HashUsers] and
// [New] for a list of users the server cannot use.
var ErrBadUsers = errors.New("authserver: bad users")

// maxUserIDBytes bounds a user ID; a longer one is refused at start.
const maxUserIDBytes = 64

// Credential is one user as the -users file lists them, password in
// clear. The server hashes the password at start and keeps only the hash.
type Credential struct {
	UserID   string `json:"user_id"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// User is a user the server signs in: the ID, the email (passed to the
// Logout flow's actions, never logged) and a bcrypt hash of the password.
type User struct {
	ID           string
	Email        string
	PasswordHash []byte
}

// DemoCredentials are the two users the server signs in when no -users
// file is given. They are for trying the server out, never for
// production.
var DemoCredentials = []Credential{
	{UserID: "alice", Email: "alice@example.com", Password: "alice-demo-pw"},
	{UserID: "bob", Email: "bob@example.com", Password: "bob-demo-pw"},
}

// ReadUsers decodes a JSON list of credentials, as the -users file holds
// it: [{"user_id": "...", "email": "...", "password": "..."}, ...].
// Unknown fields are refused, so that a misspelt one is not ignored.
func ReadUsers(r io.Reader) ([]Credential, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var creds []Credential
	if err := dec.Decode(&creds); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadUsers, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the list", ErrBadUsers)
	}
	return creds, nil
}

// HashUsers hashes the passwords of creds with bcrypt at cost (use
// bcrypt.DefaultCost; tests use bcrypt.MinCost to run fast). It refuses
// an empty list, a bad or repeated user ID and an empty password; the
// error names the user by position only, since the ID may be what is
// wrong.
func HashUsers(creds []Credential, cost int) ([]User, error) {
	if len(creds) == 0 {
		return nil, fmt.Errorf("%w: no users", ErrBadUsers)
	}
	users := make([]User, 0, len(creds))
	for i, c := range creds {
		if err := checkUserID(c.UserID); err != nil {
			return nil, fmt.Errorf("%w: user %d: %w", ErrBadUsers, i+1, err)
		}
		if c.Password == "" {
			return nil, fmt.Errorf("%w: user %d: empty password",
				ErrBadUsers, i+1)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(c.Password), cost)
		if err != nil {
			return nil, fmt.Errorf("%w: user %d: %w", ErrBadUsers, i+1, err)
		}
		users = append(users, User{
			ID: c.UserID, Email: c.Email, PasswordHash: hash,
		})
	}
	if err := checkUnique(users); err != nil {
		return nil, err
	}
	return users, nil
}

// checkUserID accepts IDs of ASCII letters, digits and '.', '_', '-',
// '@', starting with a letter or digit. The bound keeps IDs safe in a
// URL path, an HTML attribute, a log and a CSV cell (no leading '=', '+',
// '-' or '@' that a spreadsheet would run as a formula).
func checkUserID(id string) error {
	if id == "" || len(id) > maxUserIDBytes {
		return fmt.Errorf("user_id must be 1 to %d bytes", maxUserIDBytes)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			'0' <= c && c <= '9'
		if i == 0 && !alnum {
			return errors.New("user_id must start with a letter or digit")
		}
		if !alnum && c != '.' && c != '_' && c != '-' && c != '@' {
			return errors.New("user_id may hold only ASCII letters, " +
				"digits, '.', '_', '-' and '@'")
		}
	}
	return nil
}

// checkUnique refuses two users with one ID.
func checkUnique(users []User) error {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return fmt.Errorf("%w: user_id %q appears twice",
				ErrBadUsers, ids[i])
		}
	}
	return nil
}
