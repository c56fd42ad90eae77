package action_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logoutflow/logoutflow/action"
)

// login is the instant most rows below name, in UTC.
var login = time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)

func TestParseTime(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"rfc3339 Z", "2026-05-20T08:00:00Z", login},
		{"offset +05:30", "2026-05-20T13:30:00+05:30", login},
		{"offset -08:00", "2026-05-20T00:00:00-08:00", login},
		{"offset -00:00", "2026-05-20T08:00:00-00:00", login},
		{"3 fractional digits", "2026-05-20T08:00:00.123Z",
			login.Add(123 * time.Millisecond)},
		{"6 fractional digits", "2026-05-20T08:00:00.123456Z",
			login.Add(123456 * time.Microsecond)},
		{"9 fractional digits", "2026-05-20T08:00:00.123456789Z",
			login.Add(123456789)},
		{"1 fractional digit", "2026-05-20T08:00:00.5Z",
			login.Add(500 * time.Millisecond)},
		{"12 fractional digits, past ns dropped",
			"2026-05-20T08:00:00.123456789999Z", login.Add(123456789)},
		{"no offset is UTC", "2026-05-20T08:00:00", login},
		{"no offset with fraction", "2026-05-20T08:00:00.250",
			login.Add(250 * time.Millisecond)},
		{"space for T", "2026-05-20 08:00:00Z", login},
		{"postgres +00", "2026-05-20 08:00:00.123+00",
			login.Add(123 * time.Millisecond)},
		{"postgres +05:30", "2026-05-20 13:30:00+05:30", login},
		{"postgres -08", "2026-05-20 00:00:00-08", login},
		{"leap day", "2024-02-29T00:00:00Z",
			time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"year 1", "0001-01-01T00:00:00Z",
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year 9999", "9999-12-31T23:59:59.999999999Z",
			time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"offset crosses the year", "9999-12-31T23:00:00-08:00",
			time.Date(10000, 1, 1, 7, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := action.ParseTime(tc.in)
			if err != nil {
				t.Fatalf("ParseTime(%q) error: %v", tc.in, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("ParseTime(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("ParseTime(%q) location = %v, want UTC",
					tc.in, got.Location())
			}
		})
	}
}

func TestParseTimeRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"garbage", "garbage"},
		{"lowercase junk", "yesterday"},
		{"impossible date", "2026-02-30T08:00:00Z"},
		{"february 29 of a common year", "2026-02-29T08:00:00Z"},
		{"april 31", "2026-04-31T08:00:00Z"},
		{"month 13", "2026-13-01T08:00:00Z"},
		{"month 0", "2026-00-01T08:00:00Z"},
		{"day 0", "2026-05-00T08:00:00Z"},
		{"hour 24", "2026-05-20T24:00:00Z"},
		{"minute 60", "2026-05-20T08:60:00Z"},
		{"leap second", "2026-12-31T23:59:60Z"},
		{"date alone", "2026-05-20"},
		{"no seconds", "2026-05-20T08:00Z"},
		{"zero", "0"},
		{"unix seconds", "1779264000"},
		{"newline inside", "2026-05-20T08:00:00Z\n"},
		{"newline between", "2026-05-20\n08:00:00Z"},
		{"leading space", " 2026-05-20T08:00:00Z"},
		{"trailing space", "2026-05-20T08:00:00Z "},
		{"lowercase t", "2026-05-20t08:00:00Z"},
		{"lowercase z", "2026-05-20T08:00:00z"},
		{"dot without digits", "2026-05-20T08:00:00.Z"},
		{"comma fraction", "2026-05-20T08:00:00,123Z"},
		{"offset without colon", "2026-05-20T08:00:00+0530"},
		{"offset one digit", "2026-05-20T08:00:00+5"},
		{"bare sign", "2026-05-20T08:00:00+"},
		{"offset hour 24", "2026-05-20T08:00:00+24:00"},
		{"offset minute 60", "2026-05-20T08:00:00+05:60"},
		{"offset with seconds", "2026-05-20T08:00:00+00:53:28"},
		{"zone name", "2026-05-20T08:00:00 UTC"},
		{"postgres BC", "0044-03-15 12:00:00+00 BC"},
		{"five-digit year", "10000-01-01T00:00:00Z"},
		{"signed year", "-001-01-01T00:00:00Z"},
		{"slashes", "2026/05/20T08:00:00Z"},
		{"unicode digits", "２０26-05-20T08:00:00Z"},
		{"trailing junk", "2026-05-20T08:00:00Zjunk"},
		{"JSON quotes kept", `"2026-05-20T08:00:00Z"`},
		{"long junk", strings.Repeat("x", 1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := action.ParseTime(tc.in)
			if !errors.Is(err, action.ErrBadTime) {
				t.Fatalf("ParseTime(%q) = %v, %v; want ErrBadTime",
					tc.in, got, err)
			}
			if !got.IsZero() {
				t.Errorf("ParseTime(%q) time = %v, want zero", tc.in, got)
			}
			if len(err.Error()) > 100 {
				t.Errorf("ParseTime(%q) error is %d bytes, want <= 100",
					tc.in, len(err.Error()))
			}
		})
	}
}

// TestParseTimeIgnoresLocal runs the no-offset case under two host zones:
// a time without an offset is UTC, never local. It changes time.Local, so
// it must not run in parallel.
func TestParseTimeIgnoresLocal(t *testing.T) {
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })

	zones := []*time.Location{
		time.FixedZone("UTC+5:30", 5*3600+1800),
		time.FixedZone("UTC-8", -8*3600),
	}
	for _, zone := range zones {
		t.Run(zone.String(), func(t *testing.T) {
			time.Local = zone
			for _, in := range []string{
				"2026-05-20T08:00:00",
				"2026-05-20 08:00:00.000",
			} {
				got, err := action.ParseTime(in)
				if err != nil || !got.Equal(login) {
					t.Errorf("ParseTime(%q) = %v, %v; want %v",
						in, got, err, login)
				}
			}
		})
	}
}

func TestTimestampUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    time.Time // when wantErr is nil
		wantErr error
	}{
		{"rfc3339", `"2026-05-20T08:00:00.000Z"`, login, nil},
		{"offset", `"2026-05-20T13:30:00+05:30"`, login, nil},
		{"postgres", `"2026-05-20 08:00:00+00"`, login, nil},
		{"escaped Z", `"2026-05-20T08:00:00\u005a"`, login, nil},
		{"surrounding blanks", " \"2026-05-20T08:00:00Z\"\n", login, nil},
		{"null", `null`, time.Time{}, action.ErrMissingTime},
		// What encoding/json writes for an unset time.Time.
		{"zero time", `"0001-01-01T00:00:00Z"`, time.Time{},
			action.ErrMissingTime},
		{"zero time with an offset", `"0001-01-01T01:00:00+01:00"`,
			time.Time{}, action.ErrMissingTime},
		{"a second after the zero time", `"0001-01-01T00:00:01Z"`,
			time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), nil},
		{"empty string", `""`, time.Time{}, action.ErrBadTime},
		{"garbage", `"garbage"`, time.Time{}, action.ErrBadTime},
		{"impossible date", `"2026-02-30T08:00:00Z"`, time.Time{},
			action.ErrBadTime},
		{"date alone", `"2026-05-20"`, time.Time{}, action.ErrBadTime},
		{"zero string", `"0"`, time.Time{}, action.ErrBadTime},
		{"escaped newline", `"2026-05-20T08:00:00Z\n"`, time.Time{},
			action.ErrBadTime},
		{"number 0", `0`, time.Time{}, action.ErrBadTime},
		{"unix millis", `1779264000000`, time.Time{}, action.ErrBadTime},
		{"true", `true`, time.Time{}, action.ErrBadTime},
		{"object", `{}`, time.Time{}, action.ErrBadTime},
		{"array", `[]`, time.Time{}, action.ErrBadTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ts action.Timestamp
			if err := json.Unmarshal([]byte(tc.json), &ts); err != nil {
				t.Fatalf("json.Unmarshal(%s) error: %v", tc.json, err)
			}
			raw := strings.TrimSpace(tc.json)
			if got := ts.Raw(); got != raw {
				t.Errorf("Raw() = %q, want %q", got, raw)
			}
			if ts.IsZero() {
				t.Errorf("IsZero() = true, want false")
			}

			got, err := ts.Time()
			if !errors.Is(err, tc.wantErr) || !got.Equal(tc.want) {
				t.Errorf("Time() = %v, %v; want %v, %v",
					got, err, tc.want, tc.wantErr)
			}

			// The text goes back out as it came in.
			out, err := json.Marshal(ts)
			if err != nil || string(out) != raw {
				t.Errorf("json.Marshal = %s, %v; want %s", out, err, raw)
			}
		})
	}
}

func TestTimestampUnmarshalJSONCopies(t *testing.T) {
	data := []byte(`"2026-05-20T08:00:00Z"`)
	var ts action.Timestamp
	if err := ts.UnmarshalJSON(data); err != nil {
		t.Fatalf("UnmarshalJSON error: %v", err)
	}
	copy(data, `"xxxx`)
	if got, want := ts.Raw(), `"2026-05-20T08:00:00Z"`; got != want {
		t.Errorf("Raw() after the input changed = %q, want %q", got, want)
	}
}

func TestTimestampUnmarshalJSONRefusesNonJSON(t *testing.T) {
	for _, in := range []string{``, `"open`, `2026-05-20`, `{`} {
		var ts action.Timestamp
		if err := ts.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("UnmarshalJSON(%q) error = nil, want one", in)
		}
	}
}

func TestTimestampAbsent(t *testing.T) {
	var ev action.Event
	data := `{"user": {"user_id": "u1"}, "session": {"session_id": "s1"}}`
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		t.Fatalf("json.Unmarshal error: %v", err)
	}
	ts := ev.User.LastLoginAt
	if !ts.IsZero() {
		t.Errorf("IsZero() = false, want true")
	}
	if _, err := ts.Time(); !errors.Is(err, action.ErrMissingTime) {
		t.Errorf("Time() error = %v, want ErrMissingTime", err)
	}
	out, err := json.Marshal(ts)
	if err != nil || string(out) != "null" {
		t.Errorf("json.Marshal = %s, %v; want null", out, err)
	}
}

func TestTimestampAt(t *testing.T) {
	zone := time.FixedZone("", 5*3600+1800)
	in := time.Date(2026, 5, 20, 13, 30, 0, 123456789, zone)
	ts := action.At(in)

	got, err := ts.Time()
	if err != nil || !got.Equal(in) {
		t.Errorf("Time() = %v, %v; want %v", got, err, in)
	}
	out, err := json.Marshal(ts)
	want := `"2026-05-20T08:00:00.123456789Z"`
	if err != nil || string(out) != want {
		t.Errorf("json.Marshal = %s, %v; want %s", out, err, want)
	}

	// What At writes, UnmarshalJSON reads back.
	var back action.Timestamp
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("json.Unmarshal(%s) error: %v", out, err)
	}
	if got, err := back.Time(); err != nil || !got.Equal(in) {
		t.Errorf("round trip Time() = %v, %v; want %v", got, err, in)
	}
}

// TestTimestampAtZero checks that a login time left unset is absent, not
// a session begun in year 1.
func TestTimestampAtZero(t *testing.T) {
	ts := action.At(time.Time{})
	if !ts.IsZero() {
		t.Errorf("At(time.Time{}).IsZero() = false, want true")
	}
	if _, err := ts.Time(); !errors.Is(err, action.ErrMissingTime) {
		t.Errorf("At(time.Time{}).Time() error = %v, want ErrMissingTime",
			err)
	}
}

// FuzzParseTime checks ParseTime against the standard library where both
// read the same text, and that what it accepts it reads back from its own
// output.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2026-05-20T08:00:00Z", "2026-05-20T13:30:00.5+05:30",
		"2026-05-20 08:00:00.123+00", "2026-02-30T08:00:00Z", "0", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := action.ParseTime(s)
		if err != nil {
			if !errors.Is(err, action.ErrBadTime) {
				t.Fatalf("ParseTime(%q) error %v, want ErrBadTime", s, err)
			}
			return
		}
		if std, err := time.Parse(time.RFC3339Nano, s); err == nil &&
			!std.Equal(got) {
			t.Errorf("ParseTime(%q) = %v, time.Parse gives %v", s, got, std)
		}
		if got.Year() < 1 || got.Year() > 9999 {
			return // RFC 3339 cannot write it
		}
		again, err := action.ParseTime(got.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(got) {
			t.Errorf("ParseTime(Format(%v)) = %v, %v", got, again, err)
		}
	})
}
