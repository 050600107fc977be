package main

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bazaar-shop/bazaar/internal/contracts"

	"github.com/a-h/templ"
	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/fragment"
)

//go:embed static
var staticFiles embed.FS

// Shell composes the shop's pages from the services' fragments.
type Shell struct {
	log      *slog.Logger
	composer *Composer
	assets   *fragment.Assets
	status   *statusChecker
	// verifier checks the admins of the Traces pages; traces reads them.
	verifier *authn.Verifier
	traces   *traceReader
	mail     *mailReader
}

// NewServer wires the shell's routes: the pages, their form posts, the
// status page and the shell's own assets. Like every app, only its sidecar
// may call it (the gateway reaches it by service invocation).
func NewServer(log *slog.Logger, cfg daprapp.Config, invoke contracts.Invoker, status *statusChecker, verifier *authn.Verifier, traces *traceReader, mail *mailReader) http.Handler {
	s := newShell(log, invoke, status)
	s.verifier, s.traces, s.mail = verifier, traces, mail
	return s.routes(cfg)
}

func newShell(log *slog.Logger, invoke contracts.Invoker, status *statusChecker) *Shell {
	sub, _ := fs.Sub(staticFiles, "static")
	assets, err := fragment.NewAssets("shell", sub)
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	return &Shell{log: log, composer: &Composer{invoke: invoke, cache: newFragmentCache(10_000, 64<<20)}, assets: assets, status: status}
}

func (s *Shell) routes(cfg daprapp.Config) http.Handler {
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.PathPrefix("/static/shell/").Handler(s.assets.Handler()).Methods(http.MethodGet, http.MethodHead)
	// The gateway hands the browser's /<path> to the shell as /pages/<path>,
	// and the home page's /pages/ comes as /pages (see pagePath).
	r.Handle(pagesPrefix, s.page(pages["/"])).Methods(http.MethodGet, http.MethodHead)
	r.Handle(pagesPrefix, s.relay(pages["/"])).Methods(http.MethodPost)
	p := r.PathPrefix(pagesPrefix).Subrouter()
	for path, page := range pages {
		p.Handle(path, s.page(page)).Methods(http.MethodGet, http.MethodHead)
		p.Handle(path, s.relay(page)).Methods(http.MethodPost)
	}
	p.Handle("/status", s.statusPage()).Methods(http.MethodGet, http.MethodHead)
	p.Handle("/admin/traces", s.tracesPage()).Methods(http.MethodGet, http.MethodHead)
	p.Handle("/admin/traces/{id}", s.tracePage()).Methods(http.MethodGet, http.MethodHead)
	p.Handle("/admin/mail", s.mailPage()).Methods(http.MethodGet, http.MethodHead)
	p.Handle("/admin/mail/{id}", s.mailMessagePage()).Methods(http.MethodGet, http.MethodHead)
	p.NotFoundHandler = s.errorPage(http.StatusNotFound, "Page not found", "There is nothing at this address.")
	p.MethodNotAllowedHandler = s.errorPage(http.StatusMethodNotAllowed, "Not here", "This page takes no form.")
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(r)
}

// withBoundaries is path with the boundary toggle on.
func withBoundaries(path string) string {
	u, err := url.Parse(path)
	if err != nil {
		return "/?boundaries=1"
	}
	q := u.Query()
	q.Set("boundaries", "1")
	u.RawQuery = q.Encode()
	return u.String()
}

// withoutBoundaries is path with the toggle off (the page's own address).
func withoutBoundaries(r *http.Request) string {
	u, _ := url.Parse(pagePath(r))
	q := u.Query()
	q.Del("boundaries")
	u.RawQuery = q.Encode()
	return u.RequestURI()
}

func (s *Shell) page(p Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.compose(w, r, p, nil)
	})
}

// compose fills the page's slots and the header's, then draws the page.
// done holds a slot already filled (a form the fragment refused).
func (s *Shell) compose(w http.ResponseWriter, r *http.Request, p Page, done map[string]Filled) {
	all := chrome(r)
	own := p.Slots(r)
	for name, slot := range own {
		if _, ok := done[name]; !ok {
			all[name] = slot
		}
	}
	filled := s.composer.Fill(r, all)
	for name, f := range done {
		filled[name] = f
	}
	status := http.StatusOK
	if len(done) > 0 {
		status = http.StatusUnprocessableEntity
	}
	main := p.Main
	if name, f, failed := firstFailure(own, filled); failed {
		s.log.WarnContext(r.Context(), "required fragment failed", "path", r.URL.Path, "slot", name, "status", f.Status, "err", f.Err)
		switch f.Status {
		case http.StatusUnauthorized:
			http.Redirect(w, r, "/sign-in?return="+url.QueryEscape(withoutBoundaries(r)), http.StatusSeeOther)
			return
		case http.StatusForbidden:
			status, main = f.Status, errorView(f.Status, "Not for you", "This page is for the shop's admins.")
		case http.StatusNotFound:
			status, main = f.Status, errorView(f.Status, "Not found", "There is nothing at this address; it may have been removed.")
		case 0:
			status, main = http.StatusGatewayTimeout, errorView(http.StatusGatewayTimeout, "This page is taking too long",
				"Part of the shop did not answer in time. Please try again in a moment.")
		default:
			status, main = http.StatusBadGateway, errorView(http.StatusBadGateway, "Something went wrong",
				"Part of the shop is unavailable right now. Please try again in a moment.")
		}
	}
	s.write(w, r, status, metaFor(r, p, filled), filled, main)
}

// failureRank orders the ways a required slot fails by what the visitor
// should be told first: sign in, then not allowed, then not found, then a
// timeout, then anything else.
func failureRank(status int) int {
	switch status {
	case http.StatusUnauthorized:
		return 0
	case http.StatusForbidden:
		return 1
	case http.StatusNotFound:
		return 2
	case 0:
		return 3
	default:
		return 4
	}
}

// firstFailure picks the required slot whose failure decides the page, the
// same one on every run when several fail (by rank, then by slot name).
func firstFailure(own map[string]Slot, filled map[string]Filled) (string, Filled, bool) {
	var name string
	var worst Filled
	for n := range own {
		f := filled[n]
		if !f.Slot.Required || f.OK() || f.Status == http.StatusUnprocessableEntity {
			continue
		}
		if name == "" || failureRank(f.Status) < failureRank(worst.Status) ||
			failureRank(f.Status) == failureRank(worst.Status) && n < name {
			name, worst = n, f
		}
	}
	return name, worst, name != ""
}

func errorView(status int, title, detail string) func(View) templ.Component {
	return func(View) templ.Component { return errorMain(status, title, detail) }
}

// write draws the page with the stylesheets its fragments named, and passes
// on the cookies they set (each service's own).
func (s *Shell) write(w http.ResponseWriter, r *http.Request, status int, meta pageMeta, filled map[string]Filled, main func(View) templ.Component) {
	v := View{Title: meta.Title, Description: meta.Description, Canonical: meta.Canonical, Data: meta.Data, Path: withoutBoundaries(r), Slots: filled, Boundaries: r.URL.Query().Get("boundaries") == "1",
		Styles: []string{s.assets.URL("shell.css")}, HTMX: s.assets.URL("htmx.min.js"), Events: s.assets.URL("events.js"), Icon: s.assets.URL("favicon.svg")}
	names := make([]string, 0, len(filled))
	for name := range filled {
		names = append(names, name)
	}
	slices.Sort(names) // the same page always lists its stylesheets in one order
	for _, name := range names {
		f := filled[name]
		for _, href := range f.Styles {
			if !slices.Contains(v.Styles, href) {
				v.Styles = append(v.Styles, href)
			}
		}
		for _, c := range f.Cookies {
			w.Header().Add("Set-Cookie", c)
		}
	}
	v.Main = main(v)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	switch {
	case r.Header.Get("Authorization") != "":
		h.Set("Cache-Control", "private, no-store")
	case status == http.StatusOK && sharedPage(r, filled):
		h.Set("Cache-Control", SharedPage)
	default:
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(status)
	if err := Layout(v).Render(r.Context(), w); err != nil && !errors.Is(err, context.Canceled) {
		s.log.WarnContext(r.Context(), "page render", "path", r.URL.Path, "err", err)
	}
}

// SharedPage is the Cache-Control of a page that is the same for everyone:
// browsers ask again each time (max-age=0), and a shared cache in front (the
// gateway's) may answer it for 2 s without composing it again. Its
// fragments are public for longer already (10 s), so this adds little to
// how old what a visitor sees can be.
const SharedPage = "public, max-age=0, s-maxage=2"

// sharedPage reports whether a page is the same for everyone: asked with no
// token and no cookie, made only of shared fragments (public and fresh:
// none failed, none personal, none stale), none of which set a cookie.
func sharedPage(r *http.Request, filled map[string]Filled) bool {
	if r.Header.Get("Cookie") != "" || r.Method != http.MethodGet {
		return false
	}
	for _, f := range filled {
		if !f.shared {
			return false
		}
	}
	return true
}

func (s *Shell) errorPage(status int, title, detail string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.write(w, r, status, pageMeta{Title: title}, s.composer.Fill(r, chrome(r)), errorView(status, title, detail))
	})
}

// relay takes a form posted to a page (a browser without JavaScript, or a
// form that navigates) to the fragment named in its _fragment field. The
// fragment answers 303 (followed by the browser) or 422 with itself
// re-rendered, which the page shows in place with the rest around it.
func (s *Shell) relay(p Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.errorPage(http.StatusBadRequest, "That form could not be read", "Please go back and try again.").ServeHTTP(w, r)
			return
		}
		name := r.PostForm.Get("_fragment")
		var target string
		var slot Slot
		for n, sl := range mergeSlots(chrome(r), p.Slots(r)) {
			if sl.Fragment == name {
				target, slot = n, sl
			}
		}
		if target == "" {
			s.errorPage(http.StatusBadRequest, "That form is not on this page", "Please go back and try again.").ServeHTTP(w, r)
			return
		}
		form := url.Values{}
		for k, v := range r.PostForm {
			if k != "_fragment" {
				form[k] = v
			}
		}
		f := s.composer.fetch(r, slot, http.MethodPost, form)
		for _, c := range f.Cookies {
			w.Header().Add("Set-Cookie", c)
		}
		switch {
		case f.Status == http.StatusSeeOther:
			http.Redirect(w, r, fragment.LocalPath(f.Location), http.StatusSeeOther)
		case f.Status == http.StatusUnprocessableEntity:
			get := r.Clone(r.Context())
			get.Method = http.MethodGet
			s.compose(w, get, p, map[string]Filled{target: f})
		case f.Status == http.StatusUnauthorized:
			http.Redirect(w, r, "/sign-in?return="+url.QueryEscape(pagePath(r)), http.StatusSeeOther)
		default:
			s.log.WarnContext(r.Context(), "form post failed", "path", r.URL.Path, "fragment", name, "status", f.Status, "err", f.Err)
			status := http.StatusBadGateway
			if f.Status == http.StatusForbidden || f.Status == http.StatusNotFound || f.Status == http.StatusTooManyRequests {
				status = f.Status
			}
			s.errorPage(status, "That did not work", "Nothing was changed. Please try again in a moment.").ServeHTTP(w, r)
		}
	})
}

func mergeSlots(a, b map[string]Slot) map[string]Slot {
	out := make(map[string]Slot, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func statusText(code int) string {
	return strings.TrimSpace(http.StatusText(code)) + " (" + itoa(code) + ")"
}
