package main

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// envRequireChromium, set to 1, makes a missing Chromium fail the
// browser test instead of skipping it (CI sets it).
const envRequireChromium = "LOGOUTFLOW_REQUIRE_CHROMIUM"

// browserBudget bounds the whole browser session, so that a browser
// that hangs fails the test instead of holding it until go test's
// timeout. It is a safety net, not a measure of anything.
const browserBudget = 2 * time.Minute

// chromiumPath returns Debian's Chromium, or skips the test (fails it
// when envRequireChromium is 1) when there is none.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH nor at /usr/bin/chromium " +
		"(apt-get install chromium)"
	if os.Getenv(envRequireChromium) == "1" {
		tb.Fatalf("%s, and %s=1", msg, envRequireChromium)
	}
	tb.Skip(msg + "; the browser test needs it")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns
// a context for chromedp actions in its first tab; it is closed at
// cleanup, and what it printed is logged when the test failed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)

	// Only the flags the test needs: no sandbox (CI runs as root), no
	// GPU, and nothing that talks to the network on its own.
	var out syncBuffer
	ctx, cancel := context.WithTimeout(t.Context(), browserBudget)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(&out),
	)
	t.Cleanup(func() {
		cancelAlloc() // waits for the browser to exit
		cancel()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	return ctx
}

// TestBrowser signs alice in through the form, signs her out 2 h later
// with the button, signs in as admin with the token and reads her
// figures off the admin page.
func TestBrowser(t *testing.T) {
	f := newFixture(t, fixtureOptions{insecureCookies: true})
	ctx := newBrowser(t)

	// Sign in through the form.
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.url+"/"),
		chromedp.WaitVisible(chromedp.ID("user_id")),
		chromedp.SendKeys(chromedp.ID("user_id"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-demo-pw"),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("signed-in")),
	)
	if err != nil {
		t.Fatalf("signing in through the form: %v", err)
	}
	user, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("user")))
	if err != nil || user != "alice" {
		t.Fatalf("signed in as %q (%v), want alice", user, err)
	}

	// 2 h later, sign out with the button: the form is back.
	f.clock.Add(2 * time.Hour)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("sign-out")),
		chromedp.WaitVisible(chromedp.ID("sign-in")),
	)
	if err != nil {
		t.Fatalf("signing out: %v", err)
	}

	// The admin page asks for the token, then lists the users.
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.url+"/admin/users"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.Click(chromedp.ID("admin-sign-in")),
		chromedp.WaitVisible(chromedp.ID("users")),
	)
	if err != nil {
		t.Fatalf("opening the admin page with the token: %v", err)
	}

	// Read alice's row as a person sees it.
	fields := []string{
		"session_count", "total_session_seconds", "average_session_seconds",
		"last_session_duration_sec", "last_logout_at", "last_login_at",
		"never_returned",
	}
	got := make(map[string]string)
	for _, name := range fields {
		sel := chromedp.CSS(`tr[data-user="alice"] td[data-field="` +
			name + `"]`)
		if got[name], err = chromedp.Run(ctx, chromedp.Text(sel)); err != nil {
			t.Fatalf("reading alice's %s: %v", name, err)
		}
	}
	want := map[string]string{
		"session_count":             "1",
		"total_session_seconds":     "2h0m0s",
		"average_session_seconds":   "2h0m0s",
		"last_session_duration_sec": "2h0m0s",
		"last_logout_at":            "2026-05-20T10:00:00.000Z",
		"last_login_at":             "2026-05-20T08:00:00.000Z",
		"never_returned":            "yes",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alice's figures on the admin page mismatch "+
			"(-want +got):\n%s", diff)
	}
}
