package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

// Only these request headers reach a service (plus the ones the gateway
// sets itself); only these response headers reach the client.
var (
	// No trace context: a request from outside starts its own trace, which
	// the invoker passes on (telemetry).
	forwardRequest  = []string{"Accept", "Accept-Language", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match", "X-Request-Id", "HX-Request"}
	forwardResponse = []string{"Content-Type", "ETag", "Location", "Retry-After", "Cache-Control", "Vary", "HX-Trigger", "HX-Redirect", "HX-Push-Url"}
)

// tokenFree are identity's paths that work without a token, where a stale
// cookie must not stand in the way of signing in again. Signing out takes
// the token when it is good (its session ends everywhere), and works
// without one.
var tokenFree = map[string]bool{"/register": true, "/login": true, "/jwks.json": true}

// internalOnly reports whether identity's path p serves Bazaar's own
// services only: the signed-out sessions list (up to 100,000 ids, read by
// every verifier through its sidecar). The gateway is one of those
// verifiers, so the access-control policy must let its sidecar read the
// list; what keeps it from the public is that the gateway never routes it.
func internalOnly(p string) bool {
	p = path.Clean(p)
	return p == "/sessions" || strings.HasPrefix(p, "/sessions/")
}

const signOutPath = "/logout"

// target is where one request goes.
type target struct {
	app, path string
	// api: a JSON API, whose Location headers are rewritten under
	// /api/<service>; a bad token is refused (401). Pages and fragments
	// treat a bad session cookie as signed out instead.
	api bool
	// anonymous: static files, sent without token or cookies.
	anonymous bool
	// tokenFree: identity's sign-in paths, which ignore a stale token.
	tokenFree bool
	// signOut: a good token goes along, a bad one is dropped.
	signOut bool
}

// route finds the app for a path: /api/<service>/... and
// /fragments/<service>[/<name>] to that service, /static/<service>/... to its
// owner, every other path to the shell's /pages, which it composes.
func route(path string) (target, bool) {
	if rest, ok := strings.CutPrefix(path, "/api/"); ok {
		service, p, _ := strings.Cut(rest, "/")
		rt, ok := routes[service]
		p = strings.TrimSuffix(rt.prefix+"/"+p, "/")
		identity := rt.app == contracts.IdentityApp
		if identity && internalOnly(p) {
			return target{}, false
		}
		return target{app: rt.app, path: p, api: true, tokenFree: identity && tokenFree[p], signOut: identity && p == signOutPath}, ok
	}
	if rest, ok := strings.CutPrefix(path, "/fragments/"); ok {
		service, name, _ := strings.Cut(rest, "/")
		rt, ok := routes[service]
		if name == "" { // the service's manifest
			return target{app: rt.app, path: "/fragments"}, ok
		}
		return target{app: rt.app, path: "/fragments/" + name}, ok && !strings.Contains(name, "/")
	}
	if rest, ok := strings.CutPrefix(path, "/static/"); ok {
		service, _, _ := strings.Cut(rest, "/")
		_, known := routes[service]
		return target{app: service, path: path, anonymous: true}, known || service == "shell"
	}
	// Dapr's access control matches operations by path prefix, so the
	// shell's pages live under /pages: one rule lets the gateway reach them
	// all (and only them), and an unknown path gets the shell's 404 page.
	return target{app: "shell", path: "/pages" + path}, true
}

// proxy forwards every request to the app that route names, by service
// invocation through the gateway's sidecar.
func proxy(log *slog.Logger, invoke contracts.Invoker, verifier *authn.Verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RequestURI()) > maxTarget {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusRequestURITooLong, "uri_too_long", "the address is longer than %d bytes", maxTarget))
			return
		}
		if e := controlInPath(r.URL.Path); e != nil {
			httpapi.Fail(w, r, log, e)
			return
		}
		to, ok := route(r.URL.Path)
		if !ok {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusNotFound, "not_found", "no such API"))
			return
		}
		unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		// A cross-site page must never make the browser write on its
		// user's behalf: unsafe requests from another origin are refused.
		if unsafe && !sameOrigin(r) {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusForbidden, "cross_origin", "cross-origin request refused"))
			return
		}
		token, fromCookie := credentials(r)
		if to.tokenFree || to.anonymous {
			token = ""
		}
		if fromCookie && unsafe && r.Header.Get("Origin") == "" && r.Header.Get("Referer") == "" {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusForbidden, "cross_origin", "a cookie-authenticated change needs an Origin header"))
			return
		}
		if token != "" {
			if err := verify(r.Context(), verifier, token); err != nil {
				if (to.api || !fromCookie) && !to.signOut {
					httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusUnauthorized, "invalid_token", "sign in again"))
					return
				}
				// An expired session in a browser: carry on signed out.
				token = ""
				http.SetCookie(w, &http.Cookie{Name: contracts.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		out, err := http.NewRequestWithContext(ctx, r.Method, (&url.URL{Path: to.path, RawQuery: r.URL.RawQuery}).String(), r.Body)
		if err != nil {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusBadRequest, "bad_path", "malformed path"))
			return
		}
		for _, h := range forwardRequest {
			if v := r.Header.Values(h); len(v) > 0 {
				out.Header[h] = v
			}
		}
		if !to.anonymous {
			if c := cookiesFor(r, to.app); c != "" {
				out.Header.Set("Cookie", c)
			}
		}
		if token != "" {
			out.Header.Set("Authorization", "Bearer "+token)
		}
		c := clientOf(r)
		out.Header.Set("X-Forwarded-For", c.ip)
		out.Header.Set("X-Forwarded-Proto", c.scheme())
		// The address the browser used: the shell writes canonical links with it.
		out.Header.Set("X-Forwarded-Host", r.Host)
		resp, err := invoke.Do(ctx, to.app, out)
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the body is too large"))
				return
			}
			if r.Context().Err() != nil {
				return // the client hung up: nobody to answer, nothing to report
			}
			log.WarnContext(r.Context(), "upstream failed", "app", to.app, "err", err)
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusBadGateway, "upstream_unavailable", "the %s service did not answer", to.app))
			return
		}
		defer resp.Body.Close()
		// The whole answer is read before anything is sent: an app that dies
		// mid-answer must give the client an error, never a 2xx with part
		// of a body (or none).
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
		if err != nil && r.Context().Err() != nil {
			return // the client hung up
		}
		if err != nil || len(body) > maxResponse {
			log.WarnContext(r.Context(), "upstream answer broken", "app", to.app, "status", resp.StatusCode, "bytes", len(body), "err", err)
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusBadGateway, "upstream_broken", "the %s service did not answer completely", to.app))
			return
		}
		if e := upstreamError(resp, body, to.app); e != nil {
			log.WarnContext(r.Context(), "upstream failed", "app", to.app, "status", resp.StatusCode, "body", truncate(body, 300))
			w.Header().Set("Cache-Control", "no-store")
			httpapi.Fail(w, r, log, e)
			return
		}
		for _, h := range forwardResponse {
			if v := resp.Header.Values(h); len(v) > 0 {
				w.Header()[h] = v
			}
		}
		if loc := resp.Header.Get("Location"); to.api && strings.HasPrefix(loc, "/") {
			service, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
			w.Header().Set("Location", "/api/"+service+strings.TrimPrefix(loc, routes[service].prefix))
		}
		for _, c := range resp.Header.Values("Set-Cookie") {
			if mayCookie(to.app, c) {
				w.Header().Add("Set-Cookie", c)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	})
}

// controlInPath refuses a path that holds a control character (most often
// an encoded one, %00 or %0A): no route, page or file has one, and Dapr
// 1.18's sidecars answer such a path with ERR_DIRECT_INVOKE 500, so it is
// refused here, before anyone is invoked, naming the segment at fault.
func controlInPath(path string) *httpapi.Error {
	for i, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		for _, c := range seg {
			if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
				e := httpapi.Errorf(http.StatusBadRequest, "bad_path",
					"segment %d of the path holds the control character U+%04X; an address may hold none", i+1, c)
				e.Fields = map[string]string{"path": fmt.Sprintf("segment %d holds U+%04X", i+1, c)}
				return e
			}
		}
	}
	return nil
}

// maxResponse is the largest answer the gateway relays (pages, files, JSON).
const maxResponse = 8 << 20

// upstreamError returns the problem to answer instead of a failed upstream
// answer, or nil to relay it. The services' own problems and error pages are
// safe to show; anything else at 5xx comes from the sidecars (Dapr's error
// JSON names hosts, ports and paths) or from a crash, and is replaced by a
// problem with a stable code: the client learns which service failed, the
// log keeps the detail.
func upstreamError(resp *http.Response, body []byte, app string) *httpapi.Error {
	if resp.StatusCode == http.StatusOK && len(body) == 0 && resp.Header.Get("Content-Type") == "" {
		// Every service's 200 has a typed body (204 is "no content"); an
		// empty, untyped 200 is the sidecar's when the app died mid-call.
		return httpapi.Errorf(http.StatusBadGateway, "upstream_broken", "the %s service did not answer completely", app)
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && strings.HasPrefix(ct, "application/json") {
		// Services answer their errors as problems; a plain JSON 4xx is the
		// sidecar's own, e.g. access control refusing an internal
		// operation, which does not exist for the public.
		return httpapi.Errorf(http.StatusNotFound, "not_found", "there is nothing at this address")
	}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && !strings.HasPrefix(ct, "application/problem+json") && !strings.HasPrefix(ct, "text/html") {
		// Another 4xx of the sidecar's own (e.g. 431 for headers too
		// large): keep the status, in the shape every error has.
		return httpapi.Errorf(resp.StatusCode, "bad_request", "the request was refused")
	}
	if resp.StatusCode < 500 {
		return nil
	}
	if strings.HasPrefix(ct, "application/problem+json") || strings.HasPrefix(ct, "text/html") {
		return nil
	}
	switch resp.StatusCode {
	case http.StatusServiceUnavailable:
		return httpapi.Errorf(http.StatusServiceUnavailable, "upstream_unavailable", "the %s service is unavailable; try again shortly", app)
	case http.StatusGatewayTimeout:
		return httpapi.Errorf(http.StatusGatewayTimeout, "upstream_timeout", "the %s service did not answer in time", app)
	default:
		return httpapi.Errorf(http.StatusBadGateway, "upstream_failed", "the %s service failed; try again shortly", app)
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// cookiesFor returns the browser's cookies that app may see: a service sees
// its own ("<service>_..."), the shell those of every service (to pass each
// its own), and no one the session cookie, which travels as a token.
func cookiesFor(r *http.Request, app string) string {
	var out []string
	for _, c := range r.Cookies() {
		if c.Name != contracts.SessionCookie && ownedBy(c.Name, app) {
			out = append(out, c.Name+"="+c.Value)
		}
	}
	return strings.Join(out, "; ")
}

// mayCookie reports whether app may set the cookie in a Set-Cookie header.
func mayCookie(app, setCookie string) bool {
	name, _, _ := strings.Cut(setCookie, "=")
	return ownedBy(strings.TrimSpace(name), app)
}

func ownedBy(cookie, app string) bool {
	if app != "shell" {
		return strings.HasPrefix(cookie, app+"_")
	}
	for _, rt := range routes {
		if strings.HasPrefix(cookie, rt.app+"_") {
			return true
		}
	}
	return false
}

// credentials returns the caller's token: the Authorization header for API
// clients, else the session cookie for browsers.
func credentials(r *http.Request) (token string, fromCookie bool) {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t, false
	}
	if c, err := r.Cookie(contracts.SessionCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// sameOrigin is false when the request says it comes from another origin.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if ref := r.Header.Get("Referer"); ref != "" {
			u, err := url.Parse(ref)
			return err == nil && u.Host == r.Host
		}
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// health reports each service: the gateway reaches it through the sidecars.
func health(invoke contracts.Invoker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		status := map[string]string{}
		apps := map[string]string{"shell": "shell"}
		for name, rt := range routes {
			apps[name] = rt.app
		}
		for name, app := range apps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
				defer cancel()
				state := "down"
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil)
				if resp, err := invoke.Do(ctx, app, req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						state = "up"
					}
				}
				mu.Lock()
				status[name] = state
				mu.Unlock()
			}()
		}
		wg.Wait()
		code := http.StatusOK
		for _, s := range status {
			if s != "up" {
				code = http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(status)
	})
}

// verify checks the caller's token, in a span of its own: a verification
// that has to fetch identity's keys shows in the trace.
func verify(ctx context.Context, verifier *authn.Verifier, token string) error {
	ctx, span := telemetry.Tracer().Start(ctx, "verify token")
	defer span.End()
	_, err := verifier.Verify(ctx, token)
	if err != nil {
		span.SetStatus(codes.Error, "refused")
	}
	return err
}
