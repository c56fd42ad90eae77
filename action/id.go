package action

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxIDBytes is the longest user or session ID that [CheckID] accepts.
const MaxIDBytes = 1024

// ErrBadID is wrapped by the errors of [CheckID].
var ErrBadID = errors.New("action: bad ID")

// CheckID returns an error wrapping [ErrBadID] when id cannot be a user
// or session ID, and nil otherwise. An ID is text: not empty, at most
// [MaxIDBytes] long, valid UTF-8, and free of control characters
// (NUL among them). Such IDs reach every store, log line and receipt;
// PostgreSQL, for one, cannot hold NUL or invalid UTF-8 in text, so a
// session with such an ID could never be recorded there.
func CheckID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrBadID)
	case len(id) > MaxIDBytes:
		return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrBadID,
			len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: not valid UTF-8", ErrBadID)
	}
	for i, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character %U at byte %d",
				ErrBadID, r, i)
		}
	}
	return nil
}
