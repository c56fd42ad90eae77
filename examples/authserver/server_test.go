package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSignInSignOutFigures(t *testing.T) {
	checkSignInSignOut(t, newFixture(t, fixtureOptions{}))
}

func TestSignInCookie(t *testing.T) {
	tests := []struct {
		name       string
		insecure   bool
		wantSecure bool
	}{
		{name: "default", wantSecure: true},
		{name: "insecure-cookies", insecure: true, wantSecure: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{insecureCookies: tc.insecure})
			r := f.postForm(t, "/login", "",
				"user_id", "bob", "password", "bob-demo-pw")
			c, ok := r.cookie(SessionCookie)
			if !ok {
				t.Fatalf("POST /login = %d, set no %s", r.status,
					SessionCookie)
			}
			type attrs struct {
				HTTPOnly, Secure bool
				SameSite         http.SameSite
				Path             string
				Expires          time.Time
				MaxAge           int
			}
			want := attrs{
				HTTPOnly: true,
				Secure:   tc.wantSecure,
				SameSite: http.SameSiteLaxMode,
				Path:     "/",
				Expires:  t0.Add(12 * time.Hour),
				MaxAge:   12 * 3600,
			}
			got := attrs{c.HttpOnly, c.Secure, c.SameSite, c.Path,
				c.Expires, c.MaxAge}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("session cookie mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignInRefused(t *testing.T) {
	tests := []struct {
		name     string
		id, pass string
	}{
		{name: "wrong password", id: "alice", pass: "bob-demo-pw"},
		{name: "unknown user", id: "carol", pass: "alice-demo-pw"},
		{name: "empty form"},
		{name: "empty password", id: "alice"},
		{
			// IDs are compared exactly, never folded.
			name: "ID in capitals", id: "ALICE", pass: "alice-demo-pw",
		},
	}
	f := newFixture(t, fixtureOptions{})
	before := f.snapshot(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.postForm(t, "/login", "",
				"user_id", tc.id, "password", tc.pass)
			if r.status != http.StatusUnauthorized {
				t.Errorf("POST /login = %d, want %d", r.status,
					http.StatusUnauthorized)
			}
			if c, ok := r.cookie(SessionCookie); ok {
				t.Errorf("POST /login set cookie %v, want none", c)
			}
		})
	}
	if n := f.store.updates.Load(); n != 0 {
		t.Errorf("store writes after refused sign-ins = %d, want 0", n)
	}
	if diff := cmp.Diff(before, f.snapshot(t)); diff != "" {
		t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
	}
}

// TestSignOutRefused checks that a sign-out without a live session of
// the caller's own runs no flow and writes nothing, and which status it
// gets: 401 without a live session, 403 from another site.
func TestSignOutRefused(t *testing.T) {
	tests := []struct {
		name string
		// cookie returns the session cookie to send, "" for none.
		cookie func(t *testing.T, f *fixture) string
		header []string
		want   int
	}{
		{
			name:   "no cookie",
			cookie: func(*testing.T, *fixture) string { return "" },
			want:   http.StatusUnauthorized,
		},
		{
			name: "forged cookie",
			cookie: func(*testing.T, *fixture) string {
				return "AAAAAAAAAAAAAAAAAAAAAAAAAA"
			},
			want: http.StatusUnauthorized,
		},
		{
			name: "session already ended",
			cookie: func(t *testing.T, f *fixture) string {
				c := f.signIn(t, "alice", "alice-demo-pw")
				f.clock.Add(time.Hour)
				if r := f.signOut(t, c); r.status != http.StatusSeeOther {
					t.Fatalf("first POST /logout = %d, want 303", r.status)
				}
				return c
			},
			want: http.StatusUnauthorized,
		},
		{
			// An expired session fires no logout: SPEC, "What logout
			// alone cannot see".
			name: "session expired",
			cookie: func(t *testing.T, f *fixture) string {
				c := f.signIn(t, "alice", "alice-demo-pw")
				f.clock.Add(12 * time.Hour)
				return c
			},
			want: http.StatusUnauthorized,
		},
		{
			// A form of another site cannot sign the user out.
			name: "from another site",
			cookie: func(t *testing.T, f *fixture) string {
				return f.signIn(t, "alice", "alice-demo-pw")
			},
			header: []string{"Sec-Fetch-Site", "cross-site"},
			want:   http.StatusForbidden,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{})
			cookie := tc.cookie(t, f)
			before, writes := f.snapshot(t), f.store.updates.Load()

			header := append([]string{}, tc.header...)
			if cookie != "" {
				header = append(header, "Cookie", SessionCookie+"="+cookie)
			}
			r := f.do(t, http.MethodPost, "/logout", nil, header...)
			if r.status != tc.want {
				t.Errorf("POST /logout = %d, want %d", r.status, tc.want)
			}
			if n := f.store.updates.Load() - writes; n != 0 {
				t.Errorf("store writes = %d, want 0", n)
			}
			if diff := cmp.Diff(before, f.snapshot(t)); diff != "" {
				t.Errorf("app_metadata mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSignOutOwnSessionOnly checks that one user's sign-out leaves the
// other's session alive and the other's figures untouched.
func TestSignOutOwnSessionOnly(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	alice := f.signIn(t, "alice", "alice-demo-pw")
	bob := f.signIn(t, "bob", "bob-demo-pw")
	f.clock.Add(time.Hour)
	if r := f.signOut(t, bob); r.status != http.StatusSeeOther {
		t.Fatalf("POST /logout as bob = %d, want 303", r.status)
	}

	got := map[string]int64{}
	for _, u := range f.users(t).Users {
		got[u.UserID] = u.Figures.SessionCount
	}
	want := map[string]int64{"alice": 0, "bob": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("session counts mismatch (-want +got):\n%s", diff)
	}
	r := f.do(t, http.MethodGet, "/", nil, "Cookie", SessionCookie+"="+alice)
	if !strings.Contains(r.body, `<strong id="user">alice</strong>`) {
		t.Errorf("GET / with alice's cookie after bob's sign-out does " +
			"not show alice signed in")
	}
}

func TestAdminRefused(t *testing.T) {
	auths := []struct {
		name   string
		header []string
	}{
		{name: "no token"},
		{
			name:   "wrong token",
			header: []string{"Authorization", "Bearer " + testToken + "x"},
		},
		{
			name:   "token prefix",
			header: []string{"Authorization", "Bearer " + testToken[:16]},
		},
		{
			name:   "other scheme",
			header: []string{"Authorization", "Basic " + testToken},
		},
		{
			name:   "empty bearer",
			header: []string{"Authorization", "Bearer "},
		},
		{
			name:   "forged admin cookie",
			header: []string{"Cookie", AdminCookie + "=" + testToken},
		},
	}
	paths := []string{
		"/admin/users", "/admin/users/alice", "/admin/users/nobody",
		"/admin/report.csv",
	}
	f := newFixture(t, fixtureOptions{})
	for _, a := range auths {
		for _, p := range paths {
			for _, accept := range []string{"application/json", "text/html"} {
				t.Run(a.name+" "+p+" "+accept, func(t *testing.T) {
					h := append([]string{"Accept", accept}, a.header...)
					r := f.do(t, http.MethodGet, p, nil, h...)
					if r.status != http.StatusUnauthorized {
						t.Errorf("GET %s = %d, want 401", p, r.status)
					}
					if strings.Contains(r.body, "alice") {
						t.Errorf("GET %s refused, but its body names "+
							"alice: %s", p, r.body)
					}
				})
			}
		}
	}
}

func TestAdminStatus(t *testing.T) {
	tests := []struct {
		path string
		want int
	}{
		{"/admin/users", http.StatusOK},
		{"/admin/users/alice", http.StatusOK},
		{"/admin/users/nobody", http.StatusNotFound},
		{"/admin/report.csv", http.StatusOK},
	}
	f := newFixture(t, fixtureOptions{})
	for _, tc := range tests {
		if r := f.admin(t, tc.path); r.status != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.path, r.status, tc.want)
		}
	}
}

// TestAdminHTML checks that the HTML page carries the figures a browser
// test reads, and that the admin sign-in form leads to it.
func TestAdminHTML(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.signIn(t, "bob", "bob-demo-pw")
	f.clock.Add(90 * time.Second)
	f.signOut(t, c)

	// Sign in as admin through the form; the cookie opens the page.
	r := f.postForm(t, "/admin/login", "", "token", testToken)
	admin, ok := r.cookie(AdminCookie)
	if r.status != http.StatusSeeOther || !ok {
		t.Fatalf("POST /admin/login = %d, cookie %v; want 303 and %s",
			r.status, admin, AdminCookie)
	}
	r = f.do(t, http.MethodGet, "/admin/users", nil,
		"Cookie", AdminCookie+"="+admin.Value)
	if r.status != http.StatusOK {
		t.Fatalf("GET /admin/users with the admin cookie = %d, want 200",
			r.status)
	}
	for _, want := range []string{
		`data-field="session_count"` + "\n\t" + `data-value="1"`,
		`data-field="total_session_seconds"` + "\n\t" + `data-value="90"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("GET /admin/users lacks %q", want)
		}
	}

	// A wrong token in the form is refused.
	r = f.postForm(t, "/admin/login", "", "token", "wrong")
	if _, ok := r.cookie(AdminCookie); r.status != http.StatusUnauthorized ||
		ok {
		t.Errorf("POST /admin/login with a wrong token = %d, cookie %v; "+
			"want 401 and none", r.status, ok)
	}
}

func TestConcurrentSignInOut(t *testing.T) {
	f := newFixture(t, fixtureOptions{creds: numberedCreds(20)})
	checkConcurrent(t, f, 200)
}

// TestReportMatchesJSON checks that report.csv parses and says what the
// admin JSON says, for users with several, one and no sessions.
func TestReportMatchesJSON(t *testing.T) {
	f := newFixture(t, fixtureOptions{creds: numberedCreds(3)})
	for _, s := range []struct {
		id     string
		length time.Duration
	}{
		{"user01", 2 * time.Hour},
		{"user01", 30 * time.Second}, // too short: counted as 0 s
		{"user01", 45 * time.Minute},
		{"user02", 10 * time.Minute},
	} {
		c := f.signIn(t, s.id, "pw-"+s.id)
		f.clock.Add(s.length)
		f.signOut(t, c)
	}

	r := f.admin(t, "/admin/report.csv")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct,
		"text/csv") {
		t.Errorf("Content-Type = %q, want text/csv", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("parsing report.csv: %v\n%s", err, r.body)
	}

	// The rows the JSON implies, and the literal ones for the record.
	want := [][]string{ReportHeader}
	for _, u := range f.users(t).Users {
		fg := u.Figures
		want = append(want, []string{
			u.UserID,
			strconv.FormatInt(fg.SessionCount, 10),
			strconv.FormatInt(fg.TotalSessionSeconds, 10),
			strconv.FormatFloat(fg.AverageSessionSeconds, 'f', -1, 64),
			fg.LastLogoutAt,
			strconv.FormatBool(fg.NeverReturned),
		})
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("report.csv against the JSON mismatch (-want +got):\n%s",
			diff)
	}
	literal := [][]string{
		ReportHeader,
		{"user01", "3", "9900", "3300", "2026-05-20T10:45:30.000Z", "false"},
		{"user02", "1", "600", "600", "2026-05-20T10:55:30.000Z", "true"},
		{"user03", "0", "0", "0", "", "false"},
	}
	if diff := cmp.Diff(literal, rows); diff != "" {
		t.Errorf("report.csv mismatch (-want +got):\n%s", diff)
	}
}

func TestWantsJSON(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"application/json", true},
		{"text/html, application/json;q=0.9", true},
		{"application/json;q=0", false},
		{"text/html,application/xhtml+xml,*/*;q=0.8", false},
		{"APPLICATION/JSON", true},
	}
	for _, tc := range tests {
		r, err := http.NewRequest(http.MethodGet, "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		if got := wantsJSON(r); got != tc.want {
			t.Errorf("wantsJSON(Accept: %q) = %v, want %v", tc.accept, got,
				tc.want)
		}
	}
}

// TestAdminJSONIsJSON checks that the list decodes with unknown fields
// refused, so the JSON and UsersReport cannot drift apart.
func TestAdminJSONIsJSON(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	r := f.admin(t, "/admin/users")
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.DisallowUnknownFields()
	var got UsersReport
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("GET /admin/users: %v in %s", err, r.body)
	}
	var ids []string
	for _, u := range got.Users {
		ids = append(ids, u.UserID)
	}
	if diff := cmp.Diff([]string{"alice", "bob"}, ids); diff != "" {
		t.Errorf("users mismatch (-want +got):\n%s", diff)
	}
}
