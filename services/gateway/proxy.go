package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// cookieName is the identity service's session cookie.
const cookieName = "identity_session"

// Only these request headers reach a service (plus the ones the gateway
// sets itself); only these response headers reach the client.
var (
	forwardRequest  = []string{"Accept", "Accept-Language", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match", "X-Request-Id", "Traceparent", "Tracestate"}
	forwardResponse = []string{"Content-Type", "ETag", "Location", "Retry-After", "Cache-Control"}
)

// tokenFree are identity's paths that work without a token, where a stale
// cookie must not stand in the way of signing in again.
var tokenFree = map[string]bool{"/register": true, "/login": true, "/logout": true, "/jwks.json": true}

// proxy routes /api/<service>/<path> to <path> of that service.
func proxy(log *slog.Logger, invoke invoker, verifier *authn.Verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/api/")
		service, path, _ := strings.Cut(rest, "/")
		rt, ok := routes[service]
		if !ok {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusNotFound, "not_found", "no such API"))
			return
		}
		appID := rt.app
		path = strings.TrimSuffix(rt.prefix+"/"+path, "/")
		unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		// A cross-site page must never make the browser write on its
		// user's behalf: unsafe requests from another origin are refused.
		if unsafe && !sameOrigin(r) {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusForbidden, "cross_origin", "cross-origin request refused"))
			return
		}
		token, fromCookie := credentials(r)
		if appID == "identity" && tokenFree[path] {
			token = ""
		}
		if fromCookie && unsafe && r.Header.Get("Origin") == "" && r.Header.Get("Referer") == "" {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusForbidden, "cross_origin", "a cookie-authenticated change needs an Origin header"))
			return
		}
		if token != "" {
			if _, err := verifier.Verify(r.Context(), token); err != nil {
				httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusUnauthorized, "invalid_token", "sign in again"))
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		out, err := http.NewRequestWithContext(ctx, r.Method, (&url.URL{Path: path, RawQuery: r.URL.RawQuery}).String(), r.Body)
		if err != nil {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusBadRequest, "bad_path", "malformed path"))
			return
		}
		for _, h := range forwardRequest {
			if v := r.Header.Values(h); len(v) > 0 {
				out.Header[h] = v
			}
		}
		if token != "" {
			out.Header.Set("Authorization", "Bearer "+token)
		}
		out.Header.Set("X-Forwarded-For", clientIP(r))
		out.Header.Set("X-Forwarded-Proto", "http")
		resp, err := invoke.Do(ctx, appID, out)
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the body is too large"))
				return
			}
			log.WarnContext(r.Context(), "upstream failed", "service", service, "err", err)
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusBadGateway, "upstream_unavailable", "the %s service did not answer", service))
			return
		}
		defer resp.Body.Close()
		for _, h := range forwardResponse {
			if v := resp.Header.Values(h); len(v) > 0 {
				w.Header()[h] = v
			}
		}
		if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/") {
			w.Header().Set("Location", "/api/"+service+strings.TrimPrefix(loc, rt.prefix))
		}
		if appID == "identity" {
			w.Header()["Set-Cookie"] = resp.Header.Values("Set-Cookie")
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}

// credentials returns the caller's token: the Authorization header for API
// clients, else the session cookie for browsers.
func credentials(r *http.Request) (token string, fromCookie bool) {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t, false
	}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
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
func health(invoke invoker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		status := map[string]string{}
		for name, rt := range routes {
			app := rt.app
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
