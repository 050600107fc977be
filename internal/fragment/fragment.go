// Package fragment is the contract between Bazaar's services and the shell
// that composes their HTML into pages (see frontends/shell).
//
// A service serves each fragment at GET /fragments/<name>: HTML without an
// <html> wrapper whose root (Root) carries data-boundary="<service>", with
// classes, ids and cookies prefixed by the service's name. GET /fragments
// lists them (Manifest). Its stylesheet is named in a Link header so the
// shell can put it in the page's head, and its assets live under
// /static/<service>/ with content-hashed names (Assets).
//
// Forms post to the page they are on (the shell relays the post to the
// fragment, so they work without JavaScript) or, enhanced by htmx, straight
// to /fragments/<service>/<name>. A fragment's POST answers:
//   - 303 See Other to the page to show next (post-redirect-get), or to an
//     htmx request the re-rendered fragment, with events in HX-Trigger;
//   - 422 with the re-rendered fragment and its errors, nothing lost.
package fragment

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// Cache policies a fragment answers with. The shell shares Public answers
// between everyone for max-age, and shows them for up to stale-if-error
// more while the service fails; Personal ones are never stored anywhere.
const (
	Public   = "public, max-age=10, stale-if-error=300"
	Personal = "private, no-store"
)

// Spec describes one fragment in the manifest.
type Spec struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Params      []string `json:"params,omitempty"`
	// Cache is the policy for anonymous callers; a signed-in caller's
	// answer is Personal unless the fragment says it does not depend on
	// who asks.
	Cache string `json:"cache"`
	// Actions are the form posts the fragment accepts.
	Actions []string `json:"actions,omitempty"`
}

// Service is one service's fragments: its name (the prefix of everything
// it renders), its assets and its manifest.
type Service struct {
	Name   string
	Assets *Assets
	Specs  []Spec
	// Stylesheet is the asset every fragment of the service needs.
	Stylesheet string
}

// NewService describes a service's fragments, with the assets in the
// folder "static" of files (the service's embedded files) and stylesheet
// among them. It panics when that folder cannot be read: it is compiled
// into the binary, so that is a programming error.
func NewService(name string, files fs.FS, stylesheet string, specs ...Spec) *Service {
	static, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	assets, err := NewAssets(name, static)
	if err != nil {
		panic(err)
	}
	assets.URL(stylesheet) // panics if it is missing
	return &Service{Name: name, Assets: assets, Stylesheet: stylesheet, Specs: specs}
}

// Manifest answers GET /fragments.
func (s *Service) Manifest() http.Handler {
	body, _ := json.Marshal(map[string]any{"service": s.Name, "fragments": s.Specs,
		"stylesheet": s.Assets.URL(s.Stylesheet)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", Public)
		_, _ = w.Write(body)
	})
}

// Write renders c as the answer, with the cache policy and the service's
// stylesheet in a Link header.
func (s *Service) Write(w http.ResponseWriter, r *http.Request, status int, cache string, c templ.Component) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", cache)
	// Personal answers differ by caller; say so to any cache on the way.
	h.Set("Vary", "Authorization, Cookie")
	h.Set("Link", "<"+s.Assets.URL(s.Stylesheet)+">; rel=stylesheet")
	w.WriteHeader(status)
	_ = c.Render(r.Context(), w)
}

// Done ends a successful form post: to a plain browser, 303 to page; to
// htmx, the re-rendered fragment c (with the events for other fragments).
func (s *Service) Done(w http.ResponseWriter, r *http.Request, page string, c templ.Component, events ...string) {
	if len(events) > 0 {
		w.Header().Set("HX-Trigger", strings.Join(events, ", "))
	}
	if IsHTMX(r) && c != nil {
		s.Write(w, r, http.StatusOK, Personal, c)
		return
	}
	if IsHTMX(r) {
		// htmx follows HX-Redirect with a full navigation.
		w.Header().Set("HX-Redirect", LocalPath(page))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, LocalPath(page), http.StatusSeeOther)
}

// Invalid answers a form post whose input was refused: 422 with the
// fragment re-rendered with its errors and the user's input.
func (s *Service) Invalid(w http.ResponseWriter, r *http.Request, c templ.Component) {
	s.Write(w, r, http.StatusUnprocessableEntity, Personal, c)
}

// IsHTMX reports whether htmx sent the request (not a plain browser form).
func IsHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// LocalPath returns p if it is a path on this site, else "/": redirects
// must never lead off the shop (an open redirect).
func LocalPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		u.Scheme != "" || u.Host != "" || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// Page returns the path of the page the fragment is on, as the shell passed
// it in the "page" parameter (or a form field of that name).
func Page(r *http.Request) string {
	if p := r.FormValue("page"); p != "" {
		return LocalPath(p)
	}
	return "/"
}

type highlightKey struct{}

// WithHighlight marks ctx so that Root adds the highlight class: set by a
// fragment re-rendered because of an event, so the change catches the eye.
func WithHighlight(ctx context.Context) context.Context {
	return context.WithValue(ctx, highlightKey{}, true)
}

func highlighted(ctx context.Context) bool {
	v, _ := ctx.Value(highlightKey{}).(bool)
	return v
}

// Fail answers a fragment request that could not be served, with the status
// of an *httpapi.Error (401, 403, 404, …) or 500 and a short message. The
// shell shows the slot's fallback, or its own error page, instead.
func (s *Service) Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *httpapi.Error
	if !errors.As(err, &e) {
		if log != nil {
			log.ErrorContext(r.Context(), "fragment failed", "path", r.URL.Path, "err", err)
		}
		e = httpapi.Errorf(http.StatusInternalServerError, "internal", "something went wrong")
	}
	s.Write(w, r, e.Status, Personal, Problem(s.Name, e.Detail))
}
