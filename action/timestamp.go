package action

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors from [Timestamp.Time] and [ParseTime].
var (
	ErrMissingTime = errors.New("action: time missing")
	ErrBadTime     = errors.New("action: time unparseable")
)

// Timestamp is a point in time as an event carries it. Unlike time.Time it
// keeps what it was given when that was not a time, so that decoding an
// event never fails on a bad timestamp: the action that reads it decides
// what to do (track-logout-stats warns and records a duration of 0).
//
// The zero Timestamp is absent.
type Timestamp struct {
	t     time.Time
	valid bool   // t holds the time
	raw   string // the JSON text received, when not from a time.Time
	unset bool   // raw names the zero time.Time
}

// At returns the Timestamp of t. The zero time.Time, which a login time
// left unset holds, gives the absent Timestamp: it is year 1, never a
// real sign-in, and counting from it would add two thousand years.
func At(t time.Time) Timestamp {
	if t.IsZero() {
		return Timestamp{}
	}
	return Timestamp{t: t, valid: true}
}

// IsZero reports whether the timestamp is absent. A timestamp decoded from
// JSON null is not absent, but its [Timestamp.Time] reports it missing.
func (ts Timestamp) IsZero() bool { return !ts.valid && ts.raw == "" }

// Raw returns the JSON text the timestamp was decoded from, or "".
func (ts Timestamp) Raw() string { return ts.raw }

// Time returns the time the timestamp holds. It returns an error wrapping
// [ErrMissingTime] when the timestamp is absent, JSON null, or the zero
// time.Time ("0001-01-01T00:00:00Z", which encoding/json writes for a
// time left unset: never a real sign-in, as [At] says), and one wrapping
// [ErrBadTime] when it is not a string that [ParseTime] accepts.
func (ts Timestamp) Time() (time.Time, error) {
	switch {
	case ts.valid:
		return ts.t, nil
	case ts.raw == "" || ts.raw == "null" || ts.unset:
		return time.Time{}, ErrMissingTime
	default:
		return time.Time{}, ErrBadTime
	}
}

// UnmarshalJSON keeps a copy of data, whatever JSON value it holds, and
// the time it names when it is a string that [ParseTime] accepts. It fails
// only when data is not JSON at all: a value of the wrong kind is for
// [Timestamp.Time] to report, not for the event's decoder.
func (ts *Timestamp) UnmarshalJSON(data []byte) error {
	if !json.Valid(data) {
		return fmt.Errorf("%w: not a JSON value", ErrBadTime)
	}

	// Keep the text as received; parse it now so that reading it is free.
	*ts = Timestamp{raw: string(bytes.TrimSpace(data))}
	if s, ok := jsonString(ts.raw); ok {
		if t, ok := parseTime(s); ok {
			ts.t, ts.valid, ts.unset = t, !t.IsZero(), t.IsZero()
		}
	}
	return nil
}

// MarshalJSON writes the JSON text the timestamp was decoded from as it
// was; else the time as an RFC 3339 string in UTC with nanoseconds; else
// null when absent.
func (ts Timestamp) MarshalJSON() ([]byte, error) {
	switch {
	case ts.raw != "":
		return []byte(ts.raw), nil
	case ts.valid:
		b := make([]byte, 0, len(time.RFC3339Nano)+2)
		b = append(b, '"')
		b = ts.t.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), nil
	default:
		return []byte("null"), nil
	}
}

// jsonString returns the string a valid JSON text holds, if it holds one.
func jsonString(text string) (string, bool) {
	if len(text) < 2 || text[0] != '"' {
		return "", false
	}

	// Without escapes the string is the text between the quotes.
	if !strings.Contains(text, `\`) {
		return text[1 : len(text)-1], true
	}
	var s string
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return "", false
	}
	return s, true
}

// ParseTime parses a timestamp as the SPEC accepts it: RFC 3339 with 'Z' or
// a numeric offset and any number of fractional digits; no offset meaning
// UTC whatever the host's zone; a space in place of the 'T'; PostgreSQL's
// text form with an hour-only offset ("2026-05-20 08:00:00.123+00").
// Anything else, dates alone and impossible dates included, is an error
// wrapping [ErrBadTime]. The time returned is in UTC.
//
// Precisely, it accepts YYYY-MM-DD, then 'T' or ' ', then hh:mm:ss, then
// optionally '.' and one or more digits (those past the ninth are
// dropped), then nothing, 'Z', or a sign and hh or hh:mm. Letters must be
// upper case; a leap second (ss = 60) is refused.
func ParseTime(s string) (time.Time, error) {
	t, ok := parseTime(s)
	if !ok {
		const keep = 64 // keep the error short whatever s is
		if len(s) > keep {
			s = s[:keep] + "..."
		}
		return time.Time{}, fmt.Errorf("%w: %q", ErrBadTime, s)
	}
	return t, nil
}

func parseTime(s string) (time.Time, bool) {
	// The date and the time of day have fixed places.
	if len(s) < len("2006-01-02T15:04:05") ||
		s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := atoi(s[0:4])
	month, ok2 := atoi(s[5:7])
	day, ok3 := atoi(s[8:10])
	hour, ok4 := atoi(s[11:13])
	minute, ok5 := atoi(s[14:16])
	sec, ok6 := atoi(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := s[19:]

	// A fraction has at least one digit; nanoseconds keep the first nine.
	nsec := 0
	if rest != "" && rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return time.Time{}, false
		}
		digits := rest[1:min(n, 10)]
		nsec, _ = atoi(digits)
		for range 9 - len(digits) {
			nsec *= 10
		}
		rest = rest[n:]
	}

	// No offset is UTC; else 'Z' or ±hh or ±hh:mm.
	offset := 0
	switch {
	case rest == "" || rest == "Z":
	case rest[0] == '+' || rest[0] == '-':
		oh, okh := atoi(rest[1:min(3, len(rest))])
		om, okm := 0, true
		switch {
		case len(rest) == 3:
		case len(rest) == 6 && rest[3] == ':':
			om, okm = atoi(rest[4:6])
		default:
			return time.Time{}, false
		}
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}

	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec,
		time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

// atoi reads a short run of decimal digits, refusing anything else.
func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	default:
		return 31
	}
}
