package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/contracts"
)

// recordingInvoker answers 200 and remembers what it was asked.
type recordingInvoker struct {
	app string
	req *http.Request
}

func (f *recordingInvoker) Do(_ context.Context, app string, req *http.Request) (*http.Response, error) {
	f.app, f.req = app, req
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "X-Internal": {"secret"}},
		Body: io.NopCloser(strings.NewReader(`{}`))}, nil
}

func newGateway(rate float64) (http.Handler, *recordingInvoker) {
	inv := &recordingInvoker{}
	noKeys := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return authn.JWKS{}, nil }, time.Hour)
	return NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), inv, noKeys, newRateLimiter(rate, rate), nil), inv
}

func do(h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(`{}`))
	r.Host = "127.0.0.1:8080"
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRoutingAndHeaders(t *testing.T) {
	h, inv := newGateway(1000)
	w := do(h, http.MethodGet, "/api/catalog/products?category=garden", http.Header{"X-Secret-Internal": {"x"}, "Accept-Language": {"fr"}})
	require.Equal(t, 200, w.Code)
	assert.Equal(t, "catalog", inv.app)
	assert.Equal(t, "/products?category=garden", inv.req.URL.String())
	assert.Empty(t, inv.req.Header.Get("X-Secret-Internal"), "only allow-listed headers travel")
	assert.Equal(t, "fr", inv.req.Header.Get("Accept-Language"))
	assert.Empty(t, inv.req.Header.Get("Authorization"))
	assert.Empty(t, w.Header().Get("X-Internal"), "only allow-listed headers come back")
	assert.Contains(t, w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	assert.NotEmpty(t, w.Header().Get("Referrer-Policy"))
	assert.Len(t, w.Header().Get("X-Request-Id"), 24)
	assert.Equal(t, w.Header().Get("X-Request-Id"), inv.req.Header.Get("X-Request-Id"))

	assert.Equal(t, http.StatusNotFound, do(h, http.MethodPost, "/api/payment/authorize", nil).Code, "payment is not public")
}

func TestTokens(t *testing.T) {
	h, _ := newGateway(1000)
	for name, header := range map[string]http.Header{
		"garbage bearer": {"Authorization": {"Bearer not.a.token"}},
		"bad cookie":     {"Cookie": {contracts.SessionCookie + "=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}},
	} {
		w := do(h, http.MethodGet, "/api/basket", header)
		assert.Equal(t, http.StatusUnauthorized, w.Code, name)
		assert.NotContains(t, w.Body.String(), "signature", name)
	}
	w := do(h, http.MethodPost, "/api/identity/login", http.Header{"Cookie": {contracts.SessionCookie + "=stale"}, "Origin": {"http://127.0.0.1:8080"}})
	assert.Equal(t, http.StatusOK, w.Code, "a stale cookie does not block signing in")
}

func TestCrossOriginWritesAreRefused(t *testing.T) {
	h, _ := newGateway(1000)
	evil := do(h, http.MethodPost, "/api/basket/checkout", http.Header{"Origin": {"http://evil.example"}, "Cookie": {contracts.SessionCookie + "=x"}})
	assert.Equal(t, http.StatusForbidden, evil.Code)
	assert.Contains(t, evil.Body.String(), "cross_origin")
	noOrigin := do(h, http.MethodPut, "/api/basket/items/x", http.Header{"Cookie": {contracts.SessionCookie + "=x"}})
	assert.Equal(t, http.StatusForbidden, noOrigin.Code, "cookie writes need an Origin")
	refererEvil := do(h, http.MethodDelete, "/api/basket/items/x", http.Header{"Referer": {"http://evil.example/page"}})
	assert.Equal(t, http.StatusForbidden, refererEvil.Code)
}

func TestRateLimit(t *testing.T) {
	h, _ := newGateway(5)
	codes := map[int]int{}
	for range 8 {
		codes[do(h, http.MethodGet, "/api/catalog/products", nil).Code]++
	}
	assert.Equal(t, map[int]int{200: 5, 429: 3}, codes)
}

// readingInvoker reads the request body, as the sidecar does.
type readingInvoker struct{ recordingInvoker }

func (f *readingInvoker) Do(ctx context.Context, app string, req *http.Request) (*http.Response, error) {
	if _, err := io.ReadAll(req.Body); err != nil {
		return nil, err
	}
	return f.recordingInvoker.Do(ctx, app, req)
}

func TestBodyLimit(t *testing.T) {
	noKeys := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return authn.JWKS{}, nil }, time.Hour)
	h := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), &readingInvoker{}, noKeys, newRateLimiter(10, 10), nil)
	r := httptest.NewRequest(http.MethodPost, "/api/identity/register", strings.NewReader(strings.Repeat("x", maxBody+10)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	r = httptest.NewRequest(http.MethodPost, "/api/identity/register", strings.NewReader(`{}`))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
}

// answerInvoker answers every call with one canned response.
type answerInvoker struct{ resp func() *http.Response }

func (f answerInvoker) Do(context.Context, string, *http.Request) (*http.Response, error) {
	return f.resp(), nil
}

// brokenBody fails after a few bytes, as an app killed mid-answer does.
type brokenBody struct{ sent bool }

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.sent {
		return 0, io.ErrUnexpectedEOF
	}
	b.sent = true
	return copy(p, `{"id":"o1","sta`), nil
}
func (b *brokenBody) Close() error { return nil }

func TestUpstreamErrorsAreReplaced(t *testing.T) {
	noKeys := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return authn.JWKS{}, nil }, time.Hour)
	daprError := `{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: ordering, err: Get \"http://127.0.0.1:38593/orders/x\": connection refused"}`
	cases := []struct {
		name    string
		resp    func() *http.Response
		status  int
		code    string
		relayed bool
	}{
		{"the sidecar's own error", func() *http.Response {
			return &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(daprError))}
		}, 502, "upstream_failed", false},
		{"access control refusing an internal operation", func() *http.Response {
			return &http.Response{StatusCode: 403, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(`{"errorCode":"ERR_DIRECT_INVOKE","message":"access control policy has denied access to id: gateway operation: reservations verb: POST"}`))}
		}, 404, "not_found", false},
		{"a timeout", func() *http.Response {
			return &http.Response{StatusCode: 504, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(daprError))}
		}, 504, "upstream_timeout", false},
		{"an answer cut off", func() *http.Response {
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: &brokenBody{}}
		}, 502, "upstream_broken", false},
		{"an empty 200 from the sidecar", func() *http.Response {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}
		}, 502, "upstream_broken", false},
		{"the service's own problem", func() *http.Response {
			return &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {"application/problem+json"}},
				Body: io.NopCloser(strings.NewReader(`{"status":503,"code":"busy"}`))}
		}, 503, "busy", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), answerInvoker{tc.resp}, noKeys, newRateLimiter(10, 10), nil)
			w := do(h, http.MethodGet, "/api/ordering/orders/x", nil)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			assert.Contains(t, w.Body.String(), `"code":"`+tc.code+`"`)
			assert.NotContains(t, w.Body.String(), "127.0.0.1")
			assert.NotContains(t, w.Body.String(), "ERR_DIRECT_INVOKE")
			if !tc.relayed {
				assert.Contains(t, w.Body.String(), `"requestId":"`+w.Header().Get("X-Request-Id")+`"`)
			}
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	behindProxy, err := parseTrustedProxies("10.0.0.0/8, 192.0.2.7")
	require.NoError(t, err)
	_, err = parseTrustedProxies("10.0.0.0/8,nonsense")
	require.ErrorContains(t, err, `"nonsense"`)

	for _, tc := range []struct {
		name    string
		proxies trustedProxies
		remote  string
		xff     string
		proto   string
		ip      string
		https   bool
	}{
		{"no proxy trusted: the headers are the client's own, ignored", nil, "10.0.0.1:5000", "6.6.6.6", "https", "10.0.0.1", false},
		{"a trusted proxy names the client", behindProxy, "10.0.0.1:5000", "203.0.113.9", "https", "203.0.113.9", true},
		{"what the client wrote before the proxy is not believed", behindProxy, "10.0.0.1:5000", "6.6.6.6, 203.0.113.9", "https", "203.0.113.9", true},
		{"a chain of trusted proxies", behindProxy, "192.0.2.7:5000", "203.0.113.9, 10.1.2.3", "http", "203.0.113.9", false},
		{"an untrusted peer cannot pose as a proxy", behindProxy, "198.51.100.1:5000", "203.0.113.9", "https", "198.51.100.1", false},
		{"garbage in the header stops the walk", behindProxy, "10.0.0.1:5000", "203.0.113.9, not-an-ip", "https", "10.0.0.1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := &recordingInvoker{}
			noKeys := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return authn.JWKS{}, nil }, time.Hour)
			h := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), inv, noKeys, newRateLimiter(1000, 1000), tc.proxies)
			r := httptest.NewRequest(http.MethodGet, "/api/catalog/products", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-For", tc.xff)
			r.Header.Set("X-Forwarded-Proto", tc.proto)
			h.ServeHTTP(httptest.NewRecorder(), r)
			require.NotNil(t, inv.req)
			assert.Equal(t, tc.ip, inv.req.Header.Get("X-Forwarded-For"))
			assert.Equal(t, map[bool]string{false: "http", true: "https"}[tc.https], inv.req.Header.Get("X-Forwarded-Proto"))
		})
	}

	t.Run("rate limits count each client behind the proxy", func(t *testing.T) {
		inv := &recordingInvoker{}
		noKeys := authn.NewVerifier(func(context.Context) (authn.JWKS, error) { return authn.JWKS{}, nil }, time.Hour)
		h := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), inv, noKeys, newRateLimiter(0.001, 1), behindProxy)
		get := func(client string) int {
			r := httptest.NewRequest(http.MethodGet, "/api/catalog/products", nil)
			r.RemoteAddr = "10.0.0.1:5000"
			r.Header.Set("X-Forwarded-For", client)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		assert.Equal(t, http.StatusOK, get("203.0.113.1"))
		assert.Equal(t, http.StatusOK, get("203.0.113.2"), "another client has its own budget")
		assert.Equal(t, http.StatusTooManyRequests, get("203.0.113.1"))
	})
}

// TestRateLimitSurvivesAddressRotation: an attacker who rotates through more
// addresses than the limiter remembers must not lift the limit of a client
// that keeps asking (the old limiter dropped every bucket at 100,000).
func TestRateLimitSurvivesAddressRotation(t *testing.T) {
	l := newRateLimiter(1, 5)
	now := time.Unix(1_700_000_000, 0)
	l.now = func() time.Time { return now }
	limited := "203.0.113.7"
	for range 5 {
		require.True(t, l.allow(limited))
	}
	require.False(t, l.allow(limited), "the burst is spent")

	for i := range 3 * maxClients {
		attacker := fmt.Sprintf("2001:db8::%x:%x", i>>16, i&0xffff)
		require.True(t, l.allow(attacker), "a new address gets its burst")
		if i%1000 == 0 {
			now = now.Add(time.Millisecond) // the limited client keeps asking, faster than it refills
			require.False(t, l.allow(limited), "still limited after %d other addresses", i+1)
		}
	}
	assert.LessOrEqual(t, len(l.clients), maxClients, "memory stays bounded")
	assert.Equal(t, len(l.clients), l.recent.Len())

	// A bucket idle long enough to be full again is forgotten: a new one
	// would be the same.
	now = now.Add(5 * time.Second)
	assert.True(t, l.allow("198.51.100.1"))
	assert.Len(t, l.clients, 1, "every idle bucket forgotten")
	assert.True(t, l.allow(limited), "refilled after 5 s")
}
