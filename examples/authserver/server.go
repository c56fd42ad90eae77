package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/sessionstats"
	"golang.org/x/crypto/bcrypt"
)

// Defaults of [Config].
const (
	DefaultSessionTTL    = 12 * time.Hour
	DefaultLogoutTimeout = 30 * time.Second
)

// Names of the cookies the server sets.
const (
	SessionCookie = "logoutflow_session"
	AdminCookie   = "logoutflow_admin"
)

// KeyLastLoginAt is the app_metadata key a sign-in writes: when the
// user last signed in, in the form of [sessionstats.KeyLastLogoutAt].
const KeyLastLoginAt = "last_login_at"

// MinAdminToken is the shortest admin token [New] accepts, in bytes.
const MinAdminToken = 16

// Attribute keys of the server's logs. Records carry the user ID and the
// session's public handle, never an email, a password or a cookie.
const (
	logKeyUserID  = flow.LogKeyUserID
	logKeySession = flow.LogKeySessionID
	logKeyError   = flow.LogKeyError
	logKeyStep    = "step"
	logKeyAction  = flow.LogKeyAction
	logKeyPage    = "page"

	logKeyAddr          = "addr"
	logKeyStore         = "store"
	logKeySecureCookies = "secure_cookies"
	logKeyMethod        = "method"
	logKeyPath          = "path"
	logKeyStatus        = "status"
	logKeyDuration      = "duration_ms"
)

// timeLayout writes times as the library does: UTC, milliseconds, 'Z'.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// maxFormBytes bounds the body of a form post.
const maxFormBytes = 16 << 10

// ErrBadConfig is wrapped by the errors of [New].
var ErrBadConfig = errors.New("authserver: bad config")

// Clock tells the time. Both clocks of github.com/benbjohnson/clock fit.
type Clock interface {
	Now() time.Time
}

// Config is what [New] builds a server from. The zero value of each
// field means its default, but Store, Users and AdminToken are required.
type Config struct {
	// Clock dates sign-ins and expires sessions; nil means the real
	// clock. Give the same clock to sessionstats.
	Clock Clock

	// Store keeps each user's app_metadata; every user of Users must
	// exist in it. Required.
	Store metadata.Store

	// Actions holds the actions of the Logout flow; it must hold
	// track-logout-stats. Nil means a registry of sessionstats alone,
	// on Clock.
	Actions *action.Registry

	// Users are the users who may sign in. Required.
	Users []User

	// Logger receives the server's and the flow's logs; nil is silent.
	Logger *slog.Logger

	// AdminToken guards /admin/; at least MinAdminToken bytes.
	// Required.
	AdminToken string

	// InsecureCookies drops the Secure attribute from cookies, for
	// local HTTP without TLS.
	InsecureCookies bool

	// SessionTTL is how long a session lasts after sign-in; zero means
	// DefaultSessionTTL. An expired session cannot sign out.
	SessionTTL time.Duration

	// ActionTimeout is the deadline of each action of the flow; zero
	// means flow.DefaultTimeout.
	ActionTimeout time.Duration

	// LogoutTimeout bounds one whole sign-out, which runs to the end
	// even when the client goes away; zero means DefaultLogoutTimeout.
	LogoutTimeout time.Duration
}

// Server is the example auth server: sign-in and sign-out for its users,
// with the Logout flow run at every sign-out, and admin pages that read
// the figures it keeps. Create one with [New]; it is safe for concurrent
// use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	users    map[string]*User
	ids      []string // user IDs, sorted
	dummy    []byte   // a hash compared for unknown users, for timing
	adminSum [sha256.Size]byte
	sessions *sessions // users' sessions
	admins   *sessions // admin sessions of the admin login form
	runner   *flow.Runner
	pages    *template.Template
}

//go:embed templates/*.html
var templateFS embed.FS

// New returns a server for cfg, with the Logout flow
// [RunCustomAction(track-logout-stats), RevokeSession] published on a
// runner whose RevokeSession ends the server's own session.
func New(cfg Config) (*Server, error) {
	// Check what has no default, then fill in the defaults.
	switch {
	case cfg.Store == nil:
		return nil, fmt.Errorf("%w: no store", ErrBadConfig)
	case len(cfg.AdminToken) < MinAdminToken:
		return nil, fmt.Errorf("%w: the admin token must be at least "+
			"%d bytes", ErrBadConfig, MinAdminToken)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.SessionTTL = cmp.Or(cfg.SessionTTL, DefaultSessionTTL)
	cfg.LogoutTimeout = cmp.Or(cfg.LogoutTimeout, DefaultLogoutTimeout)
	if cfg.Actions == nil {
		reg, err := action.NewRegistry(sessionstats.New(
			sessionstats.Options{Clock: cfg.Clock}))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
		cfg.Actions = reg
	}

	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		users:    make(map[string]*User, len(cfg.Users)),
		adminSum: sha256.Sum256([]byte(cfg.AdminToken)),
		sessions: newSessions(cfg.Clock, cfg.SessionTTL),
		admins:   newSessions(cfg.Clock, cfg.SessionTTL),
	}

	// Index the users; the hash compared for unknown IDs has the cost
	// of the real ones, so that timing does not tell which IDs exist.
	if err := s.indexUsers(cfg.Users); err != nil {
		return nil, err
	}

	// The Logout flow: record the figures, then end the session.
	runner, err := flow.NewRunner(flow.Options{
		Store:   cfg.Store,
		Revoker: s.sessions,
		Logger:  cfg.Logger,
		Timeout: cfg.ActionTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	logout, err := flow.New(action.Logout, cfg.Actions,
		flow.RunCustomAction{Action: sessionstats.Name},
		flow.RevokeSession{},
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if _, err := runner.Publish(logout); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	s.runner = runner

	s.pages, err = template.New("").Funcs(templateFuncs).
		ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("authserver: templates: %w", err)
	}
	return s, nil
}

// indexUsers checks users and keeps them by ID.
func (s *Server) indexUsers(users []User) error {
	if len(users) == 0 {
		return fmt.Errorf("%w: no users", ErrBadUsers)
	}
	cost := bcrypt.DefaultCost
	for i := range users {
		u := &users[i]
		if err := checkUserID(u.ID); err != nil {
			return fmt.Errorf("%w: user %d: %w", ErrBadUsers, i+1, err)
		}
		c, err := bcrypt.Cost(u.PasswordHash)
		if err != nil {
			return fmt.Errorf("%w: user %q: %w", ErrBadUsers, u.ID, err)
		}
		if _, dup := s.users[u.ID]; dup {
			return fmt.Errorf("%w: user_id %q appears twice",
				ErrBadUsers, u.ID)
		}
		s.users[u.ID] = u
		s.ids = append(s.ids, u.ID)
		cost = c
	}
	slices.Sort(s.ids)

	dummy, err := bcrypt.GenerateFromPassword([]byte("not a password"), cost)
	if err != nil {
		return fmt.Errorf("authserver: dummy hash: %w", err)
	}
	s.dummy = dummy
	return nil
}

// Handler returns the server's routes, behind cross-origin request
// protection and security headers:
//
//	GET  /                    home page: sign-in form, or sign-out button
//	POST /login               sign in (form: user_id, password)
//	POST /logout              sign out: runs the Logout flow
//	GET  /admin/users         every user's app_metadata and figures
//	GET  /admin/users/{id}    one user's
//	GET  /admin/report.csv    the figures as CSV, one row per user
//	GET  /admin/login         admin sign-in form (for browsers)
//	POST /admin/login         admin sign-in (form: token)
//	POST /admin/logout        admin sign-out
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.Handle("GET /admin/users", s.admin(s.adminUsers))
	mux.Handle("GET /admin/users/{id}", s.admin(s.adminUser))
	mux.Handle("GET /admin/report.csv", s.admin(s.adminReport))
	mux.HandleFunc("GET /admin/login", s.adminLoginForm)
	mux.HandleFunc("POST /admin/login", s.adminLogin)
	mux.HandleFunc("POST /admin/logout", s.adminLogout)

	// Refuse form posts from other sites (login CSRF, forced sign-out);
	// curl and other clients that send no Origin pass.
	csrf := http.NewCrossOriginProtection()
	return secureHeaders(csrf.Handler(mux))
}

// secureHeaders sets headers that keep pages out of frames, caches and
// other sites' Referer, and forbid every script.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; "+
			"style-src 'unsafe-inline'; form-action 'self'; "+
			"frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// homeData is what the home page shows.
type homeData struct {
	UserID  string // signed-in user, or ""
	LoginAt string
	Error   string
}

// home shows the sign-in form, or who is signed in and a sign-out button.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	var data homeData
	if sess := s.sessions.Lookup(cookieValue(r, SessionCookie)); sess != nil {
		data.UserID = sess.UserID
		data.LoginAt = sess.LoginAt.UTC().Format(timeLayout)
	}
	s.render(w, http.StatusOK, "home.html", data)
}

// login checks the form's credentials, records the sign-in and starts a
// session. Bad credentials get 401 and change nothing.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	id, password := r.PostFormValue("user_id"), r.PostFormValue("password")

	// Compare against a hash even for an unknown user, so that the
	// answer takes as long whether the ID exists or not.
	u := s.users[id]
	hash := s.dummy
	if u != nil {
		hash = u.PasswordHash
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if u == nil || err != nil {
		if u != nil {
			s.log.Info("sign-in refused: wrong password",
				logKeyUserID, u.ID)
		} else {
			// The ID is not logged: it may be a typo of a password.
			s.log.Info("sign-in refused: unknown user")
		}
		s.render(w, http.StatusUnauthorized, "home.html",
			homeData{Error: "Wrong user ID or password."})
		return
	}

	// Record the sign-in on the user before the session exists: if the
	// store fails, the user is not signed in.
	now := s.cfg.Clock.Now()
	err = s.cfg.Store.Update(r.Context(), u.ID, "",
		func(metadata.Map) (metadata.Map, error) {
			return metadata.Map{
				KeyLastLoginAt: now.UTC().Format(timeLayout),
			}, nil
		})
	if err != nil {
		s.log.Error("sign-in failed: storing last_login_at",
			logKeyUserID, u.ID, logKeyError, err)
		http.Error(w, "sign-in failed, try again", http.StatusInternalServerError)
		return
	}

	// Start the session and hand its secret to the browser.
	//
	// TODO(logoutflow): a sign-in over a live session (curl, or a
	// second form) leaves the old session alive but unreachable, so it
	// is never counted; it should run the Logout flow for it first.
	sess, secret := s.sessions.Start(u.ID)
	http.SetCookie(w, s.cookie(SessionCookie, "/", secret, sess.Expires,
		http.SameSiteLaxMode))
	s.log.Info("signed in", logKeyUserID, u.ID, logKeySession, sess.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout runs the Logout flow for the cookie's session and clears the
// cookie. Without a live session (no cookie, a forged one, an ended or
// expired session) it answers 401 and runs nothing. The session comes
// from the cookie alone, so a user can end only their own.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess := s.sessions.Lookup(cookieValue(r, SessionCookie))
	if sess == nil {
		s.log.Info("sign-out refused: no live session")
		if _, err := r.Cookie(SessionCookie); err == nil {
			http.SetCookie(w, s.clearCookie(SessionCookie, "/"))
		}
		s.render(w, http.StatusUnauthorized, "message.html", message{
			Title: "Not signed in",
			Text:  "There is no live session to sign out of.",
		})
		return
	}
	u := s.users[sess.UserID]

	// Run the flow to its end even if the client goes away: the figures
	// and the revocation must not stop halfway. Shutdown waits for it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()),
		s.cfg.LogoutTimeout)
	defer cancel()
	res, err := s.runner.Run(ctx, &action.Event{
		Trigger: action.Logout,
		User: action.User{
			ID:          u.ID,
			Email:       u.Email,
			LastLoginAt: action.At(sess.LoginAt),
		},
		Session: action.Session{ID: sess.ID, CreatedAt: action.At(sess.LoginAt)},
	})

	// A failed revocation means the user is still signed in: say so.
	if err != nil {
		s.log.Error("sign-out failed", logKeyUserID, u.ID,
			logKeySession, sess.ID, logKeyError, err)
		s.render(w, http.StatusInternalServerError, "message.html", message{
			Title: "Sign-out failed",
			Text:  "You are still signed in. Please try again.",
		})
		return
	}

	// A failed action does not stop the sign-out; it is logged.
	for _, st := range res.Failed() {
		s.log.Warn("sign-out: a step failed", logKeyUserID, u.ID,
			logKeySession, sess.ID, logKeyStep, st.Block,
			logKeyAction, st.Action, logKeyError, st.Err)
	}
	s.log.Info("signed out", logKeyUserID, u.ID, logKeySession, sess.ID)
	http.SetCookie(w, s.clearCookie(SessionCookie, "/"))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// cookie returns an HttpOnly cookie, Secure unless configured otherwise,
// that the browser keeps until the session expires at expires. It
// carries Max-Age, which browsers count from when they receive it, so
// that a browser whose clock differs from the server's keeps it as long;
// Expires, in the server's time, is for the clients that know only it.
func (s *Server) cookie(name, path, value string, expires time.Time,
	site http.SameSite) *http.Cookie {
	left := expires.Sub(s.cfg.Clock.Now())
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		Expires:  expires.UTC(),
		MaxAge:   max(int((left+time.Second-1)/time.Second), 1),
		HttpOnly: true,
		Secure:   !s.cfg.InsecureCookies,
		SameSite: site,
	}
}

// clearCookie returns a cookie that makes the browser drop name.
func (s *Server) clearCookie(name, path string) *http.Cookie {
	c := s.cookie(name, path, "", time.Unix(0, 0), http.SameSiteLaxMode)
	c.MaxAge = -1
	return c
}

// cookieValue returns the value of the named cookie, or "".
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// message is the data of a page that only says something.
type message struct {
	Title string
	Text  string
}

// render writes the named page with status, or a 500 if it fails. The
// page is built whole first, so that a failure sends no half page.
func (s *Server) render(w http.ResponseWriter, status int, name string,
	data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("rendering a page", logKeyPage, name, logKeyError, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

// constantTimeToken reports whether token is the admin token, in a time
// that depends on neither its length nor where it differs.
func (s *Server) constantTimeToken(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], s.adminSum[:]) == 1
}
