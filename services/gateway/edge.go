package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// maxBody bounds every request body at the edge.
const maxBody = 1 << 20

// maxTarget bounds a request's path and query: a sidecar reads a request's
// line and headers into 4 KiB and answers 431 beyond.
const maxTarget = 2048

// csp lets the UI load only its own scripts, styles and images.
const csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// requestID gives every request an id (or keeps a well-formed one from the
// client), answers with it and passes it on.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if len(id) < 8 || len(id) > 64 || !printable(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r)
	})
}

func printable(s string) bool {
	for _, c := range s {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

// rateLimiter is a token bucket per client address.
type rateLimiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate, burst float64) *rateLimiter {
	return &rateLimiter{rate: rate, burst: burst, now: time.Now, buckets: map[string]*bucket{}}
}

func (l *rateLimiter) allow(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) > 100_000 { // forget idle clients rather than grow without bound
			l.buckets = map[string]*bucket{}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *rateLimiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.allow(clientOf(r).ip) {
			w.Header().Set("Retry-After", "1")
			httpapi.Fail(w, r, nil, httpapi.Errorf(http.StatusTooManyRequests, "rate_limited", "too many requests; slow down"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// trustedProxies are the reverse proxies (a TLS terminator, a load
// balancer) whose X-Forwarded-For and X-Forwarded-Proto the gateway
// believes: GATEWAY_TRUSTED_PROXIES, addresses or CIDR prefixes. None by
// default: the gateway is then the edge, and a client's own X-Forwarded-*
// headers are ignored.
type trustedProxies []netip.Prefix

// parseTrustedProxies reads a comma-separated list of addresses and prefixes.
func parseTrustedProxies(v string) (trustedProxies, error) {
	var out trustedProxies
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (t trustedProxies) trusts(addr string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client is who made a request: their address and whether they reached the
// shop over HTTPS.
type client struct {
	ip    string
	https bool
}

// scheme is how the client reached the shop.
func (c client) scheme() string {
	if c.https {
		return "https"
	}
	return "http"
}

type clientKey struct{}

// identify finds the client behind the trusted proxies, once per request:
// the rightmost X-Forwarded-For address that is not a trusted proxy (the
// left part of the header is whatever the client sent), and the scheme the
// nearest proxy saw.
func (t trustedProxies) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := client{ip: remoteIP(r), https: r.TLS != nil}
		if t.trusts(c.ip) {
			hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
			for i := len(hops) - 1; i >= 0; i-- {
				hop := strings.TrimSpace(hops[i])
				if _, err := netip.ParseAddr(hop); err != nil {
					break
				}
				c.ip = hop
				if !t.trusts(hop) {
					break
				}
			}
			c.https = strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// clientOf is the request's client, as identify found it.
func clientOf(r *http.Request) client {
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		return c
	}
	return client{ip: remoteIP(r), https: r.TLS != nil}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
