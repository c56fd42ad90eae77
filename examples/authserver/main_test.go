package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logoutflow/logoutflow/metadata"
)

// env returns a getenv that knows only vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseOptions(t *testing.T) {
	token := map[string]string{EnvAdminToken: testToken}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    options
		wantErr error
	}{
		{
			name: "defaults",
			env:  token,
			want: options{
				addr: "127.0.0.1:8080", store: "memory",
				sessionTTL: DefaultSessionTTL, adminToken: testToken,
			},
		},
		{
			name: "every flag",
			args: []string{"-addr", ":9000", "-store", "postgres",
				"-dsn", "postgres://db/x", "-session-ttl", "1h",
				"-users", "u.json", "-insecure-cookies"},
			env: token,
			want: options{
				addr: ":9000", store: "postgres", dsn: "postgres://db/x",
				sessionTTL: time.Hour, usersFile: "u.json",
				insecureCookies: true, adminToken: testToken,
			},
		},
		{
			// The environment's token wins over a generated one.
			name: "dev with a token",
			args: []string{"-dev"},
			env:  token,
			want: options{
				addr: "127.0.0.1:8080", store: "memory",
				sessionTTL: DefaultSessionTTL, dev: true,
				adminToken: testToken,
			},
		},
		{name: "no token", wantErr: errUsage},
		{
			name:    "short token",
			env:     map[string]string{EnvAdminToken: "short"},
			wantErr: errUsage,
		},
		{
			name: "unknown store", args: []string{"-store", "redis"},
			env: token, wantErr: errUsage,
		},
		{
			name: "postgres without dsn", args: []string{"-store", "postgres"},
			env: token, wantErr: errUsage,
		},
		{
			name: "dsn without postgres", args: []string{"-dsn", "x"},
			env: token, wantErr: errUsage,
		},
		{
			name: "zero session ttl", args: []string{"-session-ttl", "0s"},
			env: token, wantErr: errUsage,
		},
		{
			name: "unknown flag", args: []string{"-port", "80"},
			env: token, wantErr: errUsage,
		},
		{
			name: "argument", args: []string{"serve"},
			env: token, wantErr: errUsage,
		},
		{name: "help", args: []string{"-h"}, wantErr: flag.ErrHelp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOptions(tc.args, env(tc.env), io.Discard)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("parseOptions(%q) error = %v, want %v", tc.args,
					err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, got,
				cmp.AllowUnexported(options{})); diff != "" {
				t.Errorf("parseOptions(%q) mismatch (-want +got):\n%s",
					tc.args, diff)
			}
		})
	}
}

func TestParseOptionsDevToken(t *testing.T) {
	got, err := parseOptions([]string{"-dev"}, env(nil), io.Discard)
	if err != nil {
		t.Fatalf("parseOptions(-dev) = %v", err)
	}
	if !got.generatedToken || len(got.adminToken) < MinAdminToken {
		t.Errorf("parseOptions(-dev) token %q (generated %v), want a "+
			"generated one of %d bytes or more", got.adminToken,
			got.generatedToken, MinAdminToken)
	}
}

// blockingStore holds the first write that carries a receipt (the
// Logout flow's) until release is closed, and tells entered when it
// starts holding.
type blockingStore struct {
	metadata.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) Update(ctx context.Context, userID, receipt string,
	fn metadata.UpdateFunc) error {
	if receipt != "" {
		s.once.Do(func() {
			close(s.entered)
			select {
			case <-s.release:
			case <-ctx.Done():
			}
		})
	}
	return s.Store.Update(ctx, userID, receipt, fn)
}

// TestShutdownFinishesSignOut starts a sign-out whose flow is held in
// the store, shuts the server down, and checks that the sign-out still
// completes and is recorded before serve returns.
func TestShutdownFinishesSignOut(t *testing.T) {
	// A fixture supplies the users and their store; the server under
	// test is a second one on that store, served by serve.
	base := newFixture(t, fixtureOptions{})
	store := &blockingStore{
		Store:   base.store.Store,
		entered: make(chan struct{}),
		release: make(chan struct{}),
	}
	users, err := HashUsers(DemoCredentials, 4)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Clock: base.clock, Store: store, Users: users,
		AdminToken: testToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := newHTTPServer(srv.Handler(), discard())
	shutdown := make(chan struct{})
	hs.RegisterOnShutdown(func() { close(shutdown) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, hs, ln, discard()) }()

	// Sign in, then 2 h later start signing out; the flow blocks.
	f := *base
	f.url = "http://" + ln.Addr().String()
	cookie := f.signIn(t, "alice", "alice-demo-pw")
	f.clock.Add(2 * time.Hour)
	signedOut := make(chan error, 1)
	go func() { signedOut <- f.trySignOut(cookie) }()
	<-store.entered

	// Shut down while the flow is held, then let it go on.
	cancel()
	<-shutdown
	close(store.release)

	if err := <-signedOut; err != nil {
		t.Errorf("sign-out under way at shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("serve = %v, want nil", err)
	}
	m, err := store.Get(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := readFigures(m).TotalSessionSeconds; got != 7200 {
		t.Errorf("total_session_seconds after shutdown = %d, want 7200",
			got)
	}
}

// discard returns a logger that writes nothing.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRun runs the command as main does, on the real clock, with the
// demo users: a sign-in and a sign-out, the admin JSON, then a stop.
// Its logs must be JSON lines that name no email and no secret.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes the demo passwords at the default bcrypt cost")
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"},
			env(map[string]string{EnvAdminToken: testToken}), &logs,
			func(addr string) { addrc <- addr })
	}()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("run = %v before listening", err)
	}

	// Sign in and out; the client keeps no cookie, so pass it on.
	client := &http.Client{CheckRedirect: func(*http.Request,
		[]*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.PostForm(base+"/login", url.Values{
		"user_id": {"bob"}, "password": {"bob-demo-pw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var secret string
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			secret = c.Value
		}
	}
	if resp.StatusCode != http.StatusSeeOther || secret == "" {
		t.Fatalf("POST /login = %d, cookie %q; want 303 and a cookie",
			resp.StatusCode, secret)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/logout", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: secret})
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout = %d, want 303", resp.StatusCode)
	}

	// bob's session is counted (at 0 s: it was shorter than a minute).
	req, _ = http.NewRequest(http.MethodGet, base+"/admin/users/bob", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "application/json")
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	var got UserReport
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got.Figures.SessionCount != 1 {
		t.Errorf("bob's session_count = %d, want 1",
			got.Figures.SessionCount)
	}

	// Stop as a signal would.
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v, want nil", err)
	}

	// Every line is a JSON object; none holds an email, a password, a
	// session secret or the admin token.
	var msgs []string
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		line := sc.Text()
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %s", line)
			continue
		}
		msgs = append(msgs, rec.Msg)
		for _, secretText := range []string{"@example.com", "demo-pw",
			secret, testToken} {
			if strings.Contains(line, secretText) {
				t.Errorf("log line holds %q: %s", secretText, line)
			}
		}
	}
	want := []string{"signed in", "signed out", "listening",
		"shutting down: finishing the requests under way", "stopped"}
	opt := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if diff := cmp.Diff(want, subset(msgs, want), opt); diff != "" {
		t.Errorf("log messages mismatch (-want +got):\n%s", diff)
	}
}

// subset returns the elements of got that are in of, once each.
func subset(got, of []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range got {
		for _, o := range of {
			if g == o && !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	return out
}
