package action

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrBadEvent is wrapped by every error [DecodeEvent] returns.
var ErrBadEvent = errors.New("action: bad event")

// maxDepth bounds how deeply objects and arrays may nest in an event. No
// real event comes close; the bound keeps a hostile one from costing
// every later walk over app_metadata a deep recursion.
const maxDepth = 1000

// DecodeEvent decodes one event from its JSON form (see [Event]), strictly:
//
//   - data holds exactly one JSON object, with nothing but white space
//     around it;
//   - no object, at any depth, holds the same key twice;
//   - "user" and "session", when present, are objects; "app_metadata" is
//     an object, null or absent; "trigger", "user_id", "email" and
//     "session_id" are strings or null;
//   - objects and arrays nest at most 1000 deep.
//
// Keys match exactly, case included; unknown keys are ignored. Numbers in
// app_metadata are kept as [json.Number], so integers beyond 2^53 stay
// exact. "last_login_at", "created_at" and "last_active_at" never fail
// decoding, whatever their JSON type: a [Timestamp] keeps what it was
// given, and the action that reads it decides.
//
// Every error wraps [ErrBadEvent] and names the key or the byte offset at
// fault; invalid JSON also wraps the [*json.SyntaxError]. Strings are
// decoded as encoding/json decodes them: a byte that is not UTF-8
// becomes U+FFFD, so an ID holding one arrives valid, and two IDs that
// differ only there arrive equal. Send IDs as valid UTF-8.
func DecodeEvent(data []byte) (*Event, error) {
	// Walk the tokens first: syntax, shape, duplicates and depth are
	// checked with offsets before anything is decoded.
	if err := checkEvent(data); err != nil {
		return nil, err
	}

	// The input is now one well-formed object without duplicates, so
	// each part can be decoded from its raw text.
	var top map[string]json.RawMessage
	if err := decodeNumbers(data, &top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	ev := new(Event)
	var trigger string
	if err := decodeString(top, "trigger", "trigger", &trigger); err != nil {
		return nil, err
	}
	ev.Trigger = Trigger(trigger)
	if err := decodeUser(top["user"], &ev.User); err != nil {
		return nil, err
	}
	if err := decodeSession(top["session"], &ev.Session); err != nil {
		return nil, err
	}
	return ev, nil
}

func decodeUser(raw json.RawMessage, u *User) error {
	fields, err := decodeObject(raw, "user")
	if err != nil || fields == nil {
		return err
	}
	if err := decodeString(fields, "user_id", "user.user_id",
		&u.ID); err != nil {
		return err
	}
	if err := decodeString(fields, "email", "user.email",
		&u.Email); err != nil {
		return err
	}
	if err := decodeTime(fields, "last_login_at", "user.last_login_at",
		&u.LastLoginAt); err != nil {
		return err
	}

	// app_metadata is an object or nothing; null means nothing stored.
	md, ok := fields["app_metadata"]
	if !ok {
		return nil
	}
	switch k := kindOf(md); k {
	case "null":
		return nil
	case "object":
		if err := decodeNumbers(md, &u.AppMetadata); err != nil {
			return fmt.Errorf("%w: user.app_metadata: %w", ErrBadEvent, err)
		}
		return nil
	default:
		return fmt.Errorf("%w: user.app_metadata must be an object or "+
			"null, not %s", ErrBadEvent, article(k))
	}
}

func decodeSession(raw json.RawMessage, s *Session) error {
	fields, err := decodeObject(raw, "session")
	if err != nil || fields == nil {
		return err
	}
	if err := decodeString(fields, "session_id", "session.session_id",
		&s.ID); err != nil {
		return err
	}
	if err := decodeTime(fields, "created_at", "session.created_at",
		&s.CreatedAt); err != nil {
		return err
	}
	return decodeTime(fields, "last_active_at", "session.last_active_at",
		&s.LastActiveAt)
}

// decodeObject splits the object raw into its fields. It returns nil
// fields and no error when raw is absent.
func decodeObject(raw json.RawMessage, name string) (map[string]json.RawMessage, error) {
	if raw == nil {
		return nil, nil
	}
	if k := kindOf(raw); k != "object" {
		return nil, fmt.Errorf("%w: %s must be an object, not %s",
			ErrBadEvent, name, article(k))
	}
	var fields map[string]json.RawMessage
	if err := decodeNumbers(raw, &fields); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadEvent, name, err)
	}
	return fields, nil
}

// decodeString sets *dst to the string fields[key], which may be absent
// or null.
func decodeString(fields map[string]json.RawMessage, key, name string, dst *string) error {
	raw, ok := fields[key]
	if !ok {
		return nil
	}
	switch k := kindOf(raw); k {
	case "null":
		return nil
	case "string":
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBadEvent, name, err)
		}
		return nil
	default:
		return fmt.Errorf("%w: %s must be a string, not %s",
			ErrBadEvent, name, article(k))
	}
}

// decodeTime sets *dst from fields[key], of any JSON type.
func decodeTime(fields map[string]json.RawMessage, key, name string, dst *Timestamp) error {
	raw, ok := fields[key]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadEvent, name, err)
	}
	return nil
}

// decodeNumbers decodes data into v, keeping numbers as json.Number.
func decodeNumbers(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// kindOf names the JSON type of the well-formed value raw.
func kindOf(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// article puts "an" or "a" before a JSON type's name, "null" and
// "nothing" standing alone.
func article(kind string) string {
	switch kind {
	case "null", "nothing":
		return kind
	case "object", "array":
		return "an " + kind
	default:
		return "a " + kind
	}
}

// frame is one open object or array in checkEvent's walk.
type frame struct {
	path    string              // where it stands, as "user.app_metadata"
	object  bool                // an object, not an array
	keys    map[string]struct{} // keys seen so far, for an object
	wantKey bool                // the next token is a key, in an object
	key     string              // the last key read, in an object
	index   int                 // the next element's index, in an array
}

// checkEvent walks the tokens of data and checks that it holds exactly
// one object, well formed, with no duplicated key and no deeper nesting
// than maxDepth.
func checkEvent(data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()

	// The first token opens the event, which must be an object.
	tok, err := d.Token()
	if err == io.EOF {
		return fmt.Errorf("%w: empty input, want a JSON object",
			ErrBadEvent)
	}
	if err != nil {
		return syntaxError(err, data)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%w: the event must be a JSON object, not %s",
			ErrBadEvent, article(tokenKind(tok)))
	}
	stack := []*frame{{object: true, keys: map[string]struct{}{},
		wantKey: true}}

	// Read the rest of the event, token by token, keeping a frame for
	// each open object or array.
	for len(stack) > 0 {
		off := tokenStart(data, d.InputOffset())
		tok, err := d.Token()
		if err != nil {
			return syntaxError(err, data)
		}
		top := stack[len(stack)-1]

		// A string where a key is due is a key: it must be new.
		if s, ok := tok.(string); ok && top.object && top.wantKey {
			if _, dup := top.keys[s]; dup {
				return fmt.Errorf("%w: duplicate key %s in %s at byte "+
					"offset %d", ErrBadEvent, quote(s), where(top.path),
					off)
			}
			top.keys[s] = struct{}{}
			top.key, top.wantKey = s, false
			continue
		}

		// A closing delimiter ends the innermost container, which is
		// then a complete value of its parent.
		if tok == json.Delim('}') || tok == json.Delim(']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				valueDone(stack[len(stack)-1])
			}
			continue
		}

		// An opening delimiter starts a container one level deeper.
		if tok == json.Delim('{') || tok == json.Delim('[') {
			if len(stack) >= maxDepth {
				return fmt.Errorf("%w: nested more than %d deep at byte "+
					"offset %d", ErrBadEvent, maxDepth, off)
			}
			f := &frame{path: childPath(top), object: tok == json.Delim('{')}
			if f.object {
				f.keys, f.wantKey = map[string]struct{}{}, true
			}
			stack = append(stack, f)
			continue
		}

		// Anything else is a scalar value.
		valueDone(top)
	}

	// Nothing but white space may follow the event; the offset is that
	// of the first byte after it.
	off := tokenStart(data, d.InputOffset())
	if _, err := d.Token(); err != io.EOF {
		if err != nil {
			return syntaxError(err, data)
		}
		return fmt.Errorf("%w: invalid JSON at byte offset %d: data "+
			"after the event", ErrBadEvent, off)
	}
	return nil
}

// tokenStart returns the offset of the token that follows offset off in
// data, past the white space and separators the token reader has not
// consumed yet.
func tokenStart(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\n', '\r', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// valueDone records that f has read one more value.
func valueDone(f *frame) {
	if f.object {
		f.wantKey = true
	} else {
		f.index++
	}
}

// childPath returns the path of the value f is about to read.
func childPath(f *frame) string {
	var seg string
	if f.object {
		seg = pathKey(f.key)
		if f.path != "" {
			seg = "." + seg
		}
	} else {
		seg = "[" + strconv.Itoa(f.index) + "]"
	}
	return f.path + seg
}

// pathKey writes a key in a path: bare when it is a plain name, quoted
// otherwise.
func pathKey(key string) string {
	if key == "" || len(key) > 64 {
		return quote(key)
	}
	for _, c := range key {
		plain := c == '_' || c == '-' || '0' <= c && c <= '9' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !plain {
			return quote(key)
		}
	}
	return key
}

// quote quotes s for an error message, cut short when it is long.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:max], "")) + "..."
}

// where names the object at path for an error message.
func where(path string) string {
	if path == "" {
		return "the event"
	}
	return path
}

// tokenKind names the JSON type of a first token.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "array" // '{' is handled by the caller
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	default:
		return "number"
	}
}

// syntaxError turns an error of the token reader on data into one
// wrapping ErrBadEvent with the byte offset at fault. The token reader
// reports offsets only roughly, so a syntax error is found again by a
// whole-input scan, whose offset counts the bytes read up to and
// including the bad one.
func syntaxError(err error, data []byte) error {
	var raw json.RawMessage
	var se *json.SyntaxError
	if errors.As(json.Unmarshal(data, &raw), &se) {
		if strings.Contains(se.Error(), "unexpected end") {
			return fmt.Errorf("%w: invalid JSON at byte offset %d: "+
				"unexpected end of input", ErrBadEvent, len(data))
		}
		return fmt.Errorf("%w: invalid JSON at byte offset %d: %w",
			ErrBadEvent, max(se.Offset-1, 0), se)
	}

	// The whole-input scan finds every error the token reader can meet;
	// this is only a guard.
	return fmt.Errorf("%w: invalid JSON: %w", ErrBadEvent, err)
}
