package main

import (
	"container/list"
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

	"golang.org/x/time/rate"

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

// maxClients bounds the buckets the gateway remembers.
const maxClients = 100_000

// rateLimiter is a token bucket (golang.org/x/time/rate) per client address.
// It remembers at most max clients, most recently seen first. A bucket idle
// long enough to have filled up again is forgotten, which changes nothing;
// when max busy clients are remembered, a new one evicts the least recently
// seen. So an attacker who rotates addresses pushes out only clients that
// have gone quiet, never one that keeps asking (the old limiter dropped
// every bucket at once, lifting everyone's limit).
type rateLimiter struct {
	limit  rate.Limit
	burst  int
	refill time.Duration // an idle bucket is full again after this
	max    int
	now    func() time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // of *clientBucket, in recent
	recent  *list.List               // most recently seen first
}

type clientBucket struct {
	ip       string
	lastSeen time.Time
	tokens   *rate.Limiter
}

// newRateLimiter allows each client perSecond requests a second on average
// and burst at once (at least one).
func newRateLimiter(perSecond, burst float64) *rateLimiter {
	b := max(1, int(math.Ceil(burst)))
	return &rateLimiter{limit: rate.Limit(perSecond), burst: b,
		refill: time.Duration(float64(b) / perSecond * float64(time.Second)), max: maxClients,
		now: time.Now, clients: map[string]*list.Element{}, recent: list.New()}
}

func (l *rateLimiter) allow(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e, ok := l.clients[client]
	if ok {
		l.recent.MoveToFront(e)
	} else {
		l.forget(now)
		e = l.recent.PushFront(&clientBucket{ip: client, tokens: rate.NewLimiter(l.limit, l.burst)})
		l.clients[client] = e
	}
	b := e.Value.(*clientBucket)
	b.lastSeen = now
	return b.tokens.AllowN(now, 1)
}

// forget drops, from the least recently seen end, the buckets that are full
// again, then one more if there is still no room for a new client.
func (l *rateLimiter) forget(now time.Time) {
	for e := l.recent.Back(); e != nil && now.Sub(e.Value.(*clientBucket).lastSeen) >= l.refill; e = l.recent.Back() {
		l.drop(e)
	}
	if l.recent.Len() >= l.max {
		l.drop(l.recent.Back())
	}
}

func (l *rateLimiter) drop(e *list.Element) {
	delete(l.clients, l.recent.Remove(e).(*clientBucket).ip)
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
