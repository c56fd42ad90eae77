package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/sessionstats"
)

// adminUserID is the user ID of admin sessions in their own table.
const adminUserID = "admin"

// ReportHeader is the header row of /admin/report.csv.
var ReportHeader = []string{
	"user_id", "session_count", "total_session_seconds",
	"average_session_seconds", "last_logout_at", "never_returned",
}

// Figures are one user's figures as the admin pages show them, read
// from app_metadata.
type Figures struct {
	SessionCount          int64   `json:"session_count"`
	TotalSessionSeconds   int64   `json:"total_session_seconds"`
	AverageSessionSeconds float64 `json:"average_session_seconds"`
	LastSessionDuration   int64   `json:"last_session_duration_sec"`

	// LastLogoutAt and LastLoginAt are in the library's form
	// (2026-05-20T10:00:00.000Z), or "" when unknown.
	LastLogoutAt string `json:"last_logout_at"`
	LastLoginAt  string `json:"last_login_at"`

	// NeverReturned is true when exactly one session has been counted
	// and the user has not signed in since it ended: last_login_at is
	// missing or not after last_logout_at. A user with no counted
	// session has not returned either, but has not left yet: false.
	NeverReturned bool `json:"never_returned"`
}

// UserReport is one user on the admin pages: the stored app_metadata
// and the figures read from it.
type UserReport struct {
	UserID      string       `json:"user_id"`
	AppMetadata metadata.Map `json:"app_metadata"`
	Figures     Figures      `json:"figures"`
}

// UsersReport is the JSON of GET /admin/users.
type UsersReport struct {
	Users []UserReport `json:"users"`
}

// readFigures reads the figures of m as sessionstats does, with the
// sign-in time the server records.
func readFigures(m metadata.Map) Figures {
	f := sessionstats.Read(m)
	var login time.Time
	if v, ok := m[KeyLastLoginAt].(string); ok {
		login, _ = action.ParseTime(v)
	}
	return Figures{
		SessionCount:          f.SessionCount,
		TotalSessionSeconds:   f.TotalSessionSeconds,
		AverageSessionSeconds: f.AverageSessionSeconds(),
		LastSessionDuration:   f.LastSessionDuration,
		LastLogoutAt:          formatTime(f.LastLogoutAt),
		LastLoginAt:           formatTime(login),
		NeverReturned: f.SessionCount == 1 &&
			!login.After(f.LastLogoutAt),
	}
}

// formatTime writes t as the library does, or "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// admin guards h with the admin token: an Authorization header "Bearer
// TOKEN", or the cookie of an admin sign-in through /admin/login. A
// header that is present decides alone, so a wrong token is refused
// even with a valid cookie. Refusals get 401.
func (s *Server) admin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := false
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, token, _ := strings.Cut(auth, " ")
			ok = strings.EqualFold(scheme, "Bearer") &&
				s.constantTimeToken(strings.TrimSpace(token))
		} else {
			ok = s.admins.Lookup(cookieValue(r, AdminCookie)) != nil
		}
		if !ok {
			s.log.Info("admin request refused", logKeyPath, r.URL.Path)
			s.unauthorized(w, r)
			return
		}
		h(w, r)
	})
}

// unauthorized answers 401 in the form the client asked for.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="logoutflow admin"`)
	w.Header().Add("Vary", "Accept")
	if wantsJSON(r) {
		writeJSON(w, http.StatusUnauthorized,
			map[string]string{"error": "unauthorized"})
		return
	}
	s.render(w, http.StatusUnauthorized, "admin_login.html",
		adminLoginData{Error: "Sign in as admin to see this page."})
}

// adminLoginData is what the admin sign-in page shows.
type adminLoginData struct {
	Error string
}

// adminLoginForm shows the admin sign-in form.
func (s *Server) adminLoginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "admin_login.html", adminLoginData{})
}

// adminLogin checks the form's token and starts an admin session whose
// cookie, HttpOnly and SameSite=Strict, is sent to /admin/ only. The
// token never travels in a URL, so it stays out of histories and logs.
func (s *Server) adminLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !s.constantTimeToken(r.PostFormValue("token")) {
		s.log.Info("admin sign-in refused")
		s.render(w, http.StatusUnauthorized, "admin_login.html",
			adminLoginData{Error: "Wrong token."})
		return
	}
	sess, secret := s.admins.Start(adminUserID)
	http.SetCookie(w, s.cookie(AdminCookie, "/admin", secret, sess.Expires,
		http.SameSiteStrictMode))
	s.log.Info("admin signed in", logKeySession, sess.ID)
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// adminLogout ends the admin session of the cookie, if any.
func (s *Server) adminLogout(w http.ResponseWriter, r *http.Request) {
	if sess := s.admins.Lookup(cookieValue(r, AdminCookie)); sess != nil {
		s.admins.Revoke(r.Context(), adminUserID, sess.ID) //nolint:errcheck
	}
	http.SetCookie(w, s.clearCookie(AdminCookie, "/admin"))
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// adminUsers lists every user, as HTML or as JSON.
func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) {
	reports, err := s.reports(r, s.ids)
	if err != nil {
		s.storeFailed(w, err)
		return
	}
	w.Header().Add("Vary", "Accept")
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, UsersReport{Users: reports})
		return
	}
	s.render(w, http.StatusOK, "admin_users.html", reports)
}

// adminUser shows one user, as HTML or as JSON.
func (s *Server) adminUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	w.Header().Add("Vary", "Accept")
	if _, ok := s.users[id]; !ok {
		if wantsJSON(r) {
			writeJSON(w, http.StatusNotFound,
				map[string]string{"error": "no such user"})
			return
		}
		s.render(w, http.StatusNotFound, "message.html", message{
			Title: "No such user", Text: "No user has this ID.",
		})
		return
	}
	reports, err := s.reports(r, []string{id})
	if err != nil {
		s.storeFailed(w, err)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, reports[0])
		return
	}
	s.render(w, http.StatusOK, "admin_users.html", reports)
}

// adminReport writes the figures as CSV: the header row, then one row
// per user, by user ID.
func (s *Server) adminReport(w http.ResponseWriter, r *http.Request) {
	reports, err := s.reports(r, s.ids)
	if err != nil {
		s.storeFailed(w, err)
		return
	}

	// Build the whole file first: a store error must not leave half.
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(ReportHeader) //nolint:errcheck // checked by Flush below
	for _, u := range reports {
		f := u.Figures
		cw.Write([]string{ //nolint:errcheck // checked by Flush below
			u.UserID,
			strconv.FormatInt(f.SessionCount, 10),
			strconv.FormatInt(f.TotalSessionSeconds, 10),
			strconv.FormatFloat(f.AverageSessionSeconds, 'f', -1, 64),
			f.LastLogoutAt,
			strconv.FormatBool(f.NeverReturned),
		})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.storeFailed(w, err)
		return
	}

	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition",
		`attachment; filename="report.csv"`)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

// reports reads the app_metadata of each user of ids. A user missing
// from the store is shown with nothing stored.
//
// TODO(logoutflow): one Get per user is fine for an example; a real
// admin page wants a paged List on the store.
func (s *Server) reports(r *http.Request, ids []string) ([]UserReport,
	error) {
	out := make([]UserReport, 0, len(ids))
	for _, id := range ids {
		m, err := s.cfg.Store.Get(r.Context(), id)
		if err != nil && !errors.Is(err, metadata.ErrUserNotFound) {
			return nil, fmt.Errorf("reading user %q: %w", id, err)
		}
		out = append(out, UserReport{
			UserID:      id,
			AppMetadata: m,
			Figures:     readFigures(m),
		})
	}
	return out, nil
}

// storeFailed logs err and answers 500.
func (s *Server) storeFailed(w http.ResponseWriter, err error) {
	s.log.Error("admin page failed", logKeyError, err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// wantsJSON reports whether the Accept header names application/json
// with a quality above 0. Browsers do not, so they get HTML.
func wantsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(part)
			if err != nil || mt != "application/json" {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); err == nil &&
				q <= 0 {
				continue
			}
			return true
		}
	}
	return false
}

// writeJSON writes v as indented JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client went away
}

// humanSeconds writes sec as 2h0m0s, or as plain seconds beyond what a
// time.Duration holds.
func humanSeconds(sec int64) string {
	if sec < 0 || sec > math.MaxInt64/int64(time.Second) {
		return strconv.FormatInt(sec, 10) + "s"
	}
	return (time.Duration(sec) * time.Second).String()
}

// templateFuncs are the helpers the pages use.
var templateFuncs = template.FuncMap{
	"duration": humanSeconds,
	// average writes mean seconds rounded to the second, as 1h0m30s.
	"average": func(sec float64) string {
		return humanSeconds(int64(min(sec+0.5, sessionstats.MaxInt)))
	},
	"number": func(f float64) string {
		return strconv.FormatFloat(f, 'f', -1, 64)
	},
	"json": func(m metadata.Map) string {
		if m == nil {
			return "null"
		}
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return "(cannot be shown)"
		}
		return string(b)
	},
}
