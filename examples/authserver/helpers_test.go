package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
)

// testToken is the admin token of the test servers.
const testToken = "test-admin-token-0123456789"

// t0 is when the fake clock of every test starts.
var t0 = time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)

// stamp writes t as the server and the library do.
func stamp(t time.Time) string { return t.UTC().Format(timeLayout) }

// countingStore counts the writes that reach a store.
type countingStore struct {
	metadata.Store
	updates atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, userID, receipt string,
	fn metadata.UpdateFunc) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, userID, receipt, fn)
}

// fixture is a server on a fake clock behind httptest, and a client that
// follows no redirect and keeps no cookie: each test says which cookie it
// sends.
type fixture struct {
	clock  *clock.Mock
	store  *countingStore
	server *Server
	url    string
	client *http.Client
	ids    []string
}

// fixtureOptions change what newFixture builds; the zero value means
// the demo users on an in-memory store.
type fixtureOptions struct {
	creds []Credential   // nil: DemoCredentials
	store metadata.Store // nil: a memstore with a record per user

	// insecureCookies is set by tests that drive a browser over HTTP.
	insecureCookies bool
}

// newFixture starts a server for opts, closed at cleanup.
func newFixture(tb testing.TB, opts fixtureOptions) *fixture {
	tb.Helper()
	clk := clock.NewMock()
	clk.Set(t0)

	// Users are hashed at the lowest cost, to keep tests fast.
	creds := opts.creds
	if creds == nil {
		creds = DemoCredentials
	}
	users, err := HashUsers(creds, bcrypt.MinCost)
	if err != nil {
		tb.Fatalf("HashUsers = %v", err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}

	store := opts.store
	if store == nil {
		mem := memstore.New(memstore.Options{Clock: clk})
		for _, id := range ids {
			if err := mem.Put(context.Background(), id, nil); err != nil {
				tb.Fatalf("Put(%q) = %v", id, err)
			}
		}
		store = mem
	}
	counting := &countingStore{Store: store}

	srv, err := New(Config{
		Clock:           clk,
		Store:           counting,
		Users:           users,
		AdminToken:      testToken,
		InsecureCookies: opts.insecureCookies,
		SessionTTL:      12 * time.Hour,
	})
	if err != nil {
		tb.Fatalf("New = %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	tb.Cleanup(hs.Close)

	return &fixture{
		clock:  clk,
		store:  counting,
		server: srv,
		url:    hs.URL,
		ids:    ids,
		client: &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// reply is what a request got, its body read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

// cookie returns the value of the named cookie the reply set, and
// whether it set one.
func (r reply) cookie(name string) (*http.Cookie, bool) {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// do sends a request with the given headers (pairs of name and value)
// and reads the reply.
func (f *fixture) do(tb testing.TB, method, path string, body io.Reader,
	header ...string) reply {
	tb.Helper()
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		tb.Fatalf("NewRequest = %v", err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s = %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body = %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// postForm posts the form of pairs of names and values, with the
// session cookie when it is not empty.
func (f *fixture) postForm(tb testing.TB, path, cookie string,
	pairs ...string) reply {
	tb.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		form.Add(pairs[i], pairs[i+1])
	}
	header := []string{
		"Content-Type", "application/x-www-form-urlencoded",
	}
	if cookie != "" {
		header = append(header, "Cookie", SessionCookie+"="+cookie)
	}
	return f.do(tb, http.MethodPost, path,
		strings.NewReader(form.Encode()), header...)
}

// signIn signs id in with password and returns the session cookie's
// value, failing the test unless the server answered 303 with one.
func (f *fixture) signIn(tb testing.TB, id, password string) string {
	tb.Helper()
	r := f.postForm(tb, "/login", "", "user_id", id, "password", password)
	c, ok := r.cookie(SessionCookie)
	if r.status != http.StatusSeeOther || !ok || c.Value == "" {
		tb.Fatalf("POST /login as %s = %d, cookie %v; want 303 and a "+
			"session cookie", id, r.status, c)
	}
	return c.Value
}

// signOut posts /logout with the session cookie, if not empty.
func (f *fixture) signOut(tb testing.TB, cookie string) reply {
	tb.Helper()
	return f.postForm(tb, "/logout", cookie)
}

// admin gets path with the test token, asking for JSON.
func (f *fixture) admin(tb testing.TB, path string) reply {
	tb.Helper()
	return f.do(tb, http.MethodGet, path, nil,
		"Authorization", "Bearer "+testToken, "Accept", "application/json")
}

// users reads GET /admin/users as JSON.
func (f *fixture) users(tb testing.TB) UsersReport {
	tb.Helper()
	r := f.admin(tb, "/admin/users")
	if r.status != http.StatusOK {
		tb.Fatalf("GET /admin/users = %d, want 200; body %s", r.status,
			r.body)
	}
	var got UsersReport
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		tb.Fatalf("GET /admin/users: %v in %s", err, r.body)
	}
	return got
}

// snapshot returns every user's stored app_metadata, for tests that
// check nothing changed.
func (f *fixture) snapshot(tb testing.TB) map[string]metadata.Map {
	tb.Helper()
	out := make(map[string]metadata.Map)
	for _, id := range f.ids {
		m, err := f.store.Get(context.Background(), id)
		if err != nil {
			tb.Fatalf("Get(%q) = %v", id, err)
		}
		out[id] = m
	}
	return out
}

// numberedCreds returns n users, user01 to userNN, each with a password
// of their own.
func numberedCreds(n int) []Credential {
	creds := make([]Credential, n)
	for i := range creds {
		id := fmt.Sprintf("user%02d", i+1)
		creds[i] = Credential{
			UserID: id, Email: id + "@example.com", Password: "pw-" + id,
		}
	}
	return creds
}

// checkSignInSignOut signs alice in, moves the clock 2 h on, signs her
// out, and checks her figures on the admin JSON. Every store runs it.
func checkSignInSignOut(t *testing.T, f *fixture) {
	t.Helper()
	login := f.clock.Now()
	cookie := f.signIn(t, "alice", "alice-demo-pw")
	f.clock.Add(2 * time.Hour)
	logout := f.clock.Now()

	r := f.signOut(t, cookie)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("POST /logout = %d to %q, want 303 to /", r.status,
			r.header.Get("Location"))
	}
	if c, ok := r.cookie(SessionCookie); !ok || c.MaxAge >= 0 {
		t.Errorf("POST /logout cookie = %v, want %s cleared", c,
			SessionCookie)
	}

	// The admin JSON shows what track-logout-stats wrote.
	r = f.admin(t, "/admin/users/alice")
	var got UserReport
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("GET /admin/users/alice = %d: %v in %s", r.status, err,
			r.body)
	}
	want := UserReport{
		UserID: "alice",
		AppMetadata: metadata.Map{
			"last_login_at":             stamp(login),
			"last_logout_at":            stamp(logout),
			"last_session_duration_sec": 7200.0,
			"session_count":             1.0,
			"total_session_seconds":     7200.0,
		},
		Figures: Figures{
			SessionCount:          1,
			TotalSessionSeconds:   7200,
			AverageSessionSeconds: 7200,
			LastSessionDuration:   7200,
			LastLogoutAt:          "2026-05-20T10:00:00.000Z",
			LastLoginAt:           "2026-05-20T08:00:00.000Z",
			NeverReturned:         true,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /admin/users/alice mismatch (-want +got):\n%s", diff)
	}

	// The session has ended: it no longer signs anyone in.
	r = f.do(t, http.MethodGet, "/", nil, "Cookie", SessionCookie+"="+cookie)
	if strings.Contains(r.body, `id="signed-in"`) {
		t.Errorf("GET / after sign-out still shows alice signed in")
	}
}

// checkConcurrent runs pairs sign-in/sign-out pairs at once, spread
// evenly over the fixture's users (whose password is "pw-" and the ID),
// and checks every user's figures exactly. All pairs sign in at t0;
// half sign out 1 h later, all at once, and the other half 2 h later.
func checkConcurrent(t *testing.T, f *fixture, pairs int) {
	t.Helper()
	perUser := pairs / len(f.ids)
	if perUser*len(f.ids) != pairs || perUser%2 != 0 {
		t.Fatalf("%d pairs do not split evenly in two waves over %d "+
			"users", pairs, len(f.ids))
	}
	start := f.clock.Now()
	before := f.store.updates.Load()

	// Every goroutine signs in, then waits for its wave to sign out.
	var signedIn, waveDone [2]sync.WaitGroup
	var wave [2]chan struct{}
	for w := range wave {
		wave[w] = make(chan struct{})
	}
	for i := range pairs {
		id := f.ids[i%len(f.ids)]
		w := (i / len(f.ids)) % 2
		signedIn[w].Add(1)
		waveDone[w].Add(1)
		go func() {
			defer waveDone[w].Done()
			cookie, err := f.trySignIn(id, "pw-"+id)
			signedIn[w].Done()
			if err != nil {
				t.Error(err)
				return
			}
			<-wave[w]
			if err := f.trySignOut(cookie); err != nil {
				t.Error(err)
			}
		}()
	}
	signedIn[0].Wait()
	signedIn[1].Wait()

	// Wave 0 signs out at start + 1 h, wave 1 at start + 2 h.
	for w := range wave {
		f.clock.Add(time.Hour)
		close(wave[w])
		waveDone[w].Wait()
	}
	if t.Failed() {
		t.FailNow()
	}

	// Each user had perUser/2 sessions of 1 h and as many of 2 h.
	var want, got []Figures
	half := int64(perUser / 2)
	for range f.ids {
		want = append(want, Figures{
			SessionCount:          int64(perUser),
			TotalSessionSeconds:   half*3600 + half*7200,
			AverageSessionSeconds: 5400,
			LastSessionDuration:   7200,
			LastLogoutAt:          stamp(start.Add(2 * time.Hour)),
			LastLoginAt:           stamp(start),
		})
	}
	for _, u := range f.users(t).Users {
		got = append(got, u.Figures)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("figures after %d concurrent pairs mismatch "+
			"(-want +got):\n%s", pairs, diff)
	}

	// One write per sign-in (last_login_at) and two per sign-out (the
	// figures, then the receipt that marks the session ended), no more.
	if n := f.store.updates.Load() - before; n != int64(3*pairs) {
		t.Errorf("store writes = %d, want %d", n, 3*pairs)
	}
}

// trySignIn is signIn for goroutines: it returns an error instead of
// failing the test.
func (f *fixture) trySignIn(id, password string) (string, error) {
	form := url.Values{"user_id": {id}, "password": {password}}
	resp, err := f.client.PostForm(f.url+"/login", form)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie && resp.StatusCode == http.StatusSeeOther {
			return c.Value, nil
		}
	}
	return "", fmt.Errorf("POST /login as %s = %d, want 303 with a cookie",
		id, resp.StatusCode)
}

// trySignOut is signOut for goroutines: it returns an error unless the
// server answered 303.
func (f *fixture) trySignOut(cookie string) error {
	req, err := http.NewRequest(http.MethodPost, f.url+"/logout", nil)
	if err != nil {
		return err
	}
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST /logout = %d, want 303", resp.StatusCode)
	}
	return nil
}
