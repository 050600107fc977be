package main

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pageCache is a small shared cache (RFC 9111) at the edge, for what a
// visitor without a session asks: what a service offers to shared caches
// (Cache-Control "public" with "s-maxage", which the shell gives a page that
// is the same for everyone) is answered by the gateway alone for that long,
// without the two sidecar hops and the composition behind it. A request with
// a cookie or a token, an htmx request, and anything but a GET pass by:
// nothing personal is ever kept or served from here.
type pageCache struct {
	mu       sync.RWMutex
	pages    map[string]cachedPage
	bytes    int // held, keys included
	maxBytes int
	now      func() time.Time
}

type cachedPage struct {
	header  http.Header // the answer's own headers (forwardResponse)
	body    []byte
	stored  time.Time
	expires time.Time
}

// maxCachedPage is the largest answer kept; larger ones pass by.
const maxCachedPage = 512 << 10

func newPageCache(maxBytes int) *pageCache {
	return &pageCache{pages: map[string]cachedPage{}, maxBytes: maxBytes, now: time.Now}
}

// key is where the answer to r is kept, and false when r must pass by. The
// shell's pages vary by language (the fragments see Accept-Language) and by
// scheme and host (canonical addresses).
func (c *pageCache) key(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet || r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" || r.Header.Get("HX-Request") != "" {
		return "", false
	}
	return clientOf(r).scheme() + "://" + r.Host + r.URL.RequestURI() + " " + r.Header.Get("Accept-Language"), true
}

func (c *pageCache) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := c.key(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if p, ok := c.get(key); ok {
			h := w.Header()
			for k, v := range p.header {
				h[k] = slices.Clone(v) // the next handler may add to it
			}
			h.Set("Age", strconv.Itoa(int(c.now().Sub(p.stored).Seconds())))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(p.body)
			return
		}
		rec := &pageRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if ttl := sharedMaxAge(rec); ttl > 0 {
			c.put(key, rec.header, rec.body.Bytes(), ttl)
		}
	})
}

func (c *pageCache) get(key string) (cachedPage, bool) {
	c.mu.RLock()
	p, ok := c.pages[key]
	c.mu.RUnlock()
	return p, ok && c.now().Before(p.expires)
}

func (c *pageCache) put(key string, header http.Header, body []byte, ttl time.Duration) {
	now := c.now()
	p := cachedPage{header: header, body: bytes.Clone(body), stored: now, expires: now.Add(ttl)}
	size := len(key) + len(body)
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.pages[key]; ok {
		c.bytes -= len(key) + len(old.body)
		delete(c.pages, key)
	}
	if c.bytes+size > c.maxBytes {
		// Full (searches make keys without end): drop what has expired,
		// and if that is not enough, everything; the next requests refill
		// it within seconds.
		for k, old := range c.pages {
			if !now.Before(old.expires) {
				c.bytes -= len(k) + len(old.body)
				delete(c.pages, k)
			}
		}
		if c.bytes+size > c.maxBytes {
			c.pages, c.bytes = map[string]cachedPage{}, 0
		}
	}
	c.pages[key] = p
	c.bytes += size
}

// sharedMaxAge is how long a shared cache may keep the recorded answer: its
// s-maxage, if it is a complete 200 that is public, sets no cookie and
// varies by nothing the key does not hold; otherwise 0.
func sharedMaxAge(rec *pageRecorder) time.Duration {
	if rec.status != http.StatusOK || rec.overflow || rec.header == nil || len(rec.Header().Values("Set-Cookie")) > 0 {
		return 0
	}
	for _, v := range rec.header.Values("Vary") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" && !strings.EqualFold(name, "Accept-Language") {
				return 0
			}
		}
	}
	public, age := false, 0
	for _, d := range strings.Split(rec.header.Get("Cache-Control"), ",") {
		name, value, _ := strings.Cut(strings.ToLower(strings.TrimSpace(d)), "=")
		switch name {
		case "public":
			public = true
		case "private", "no-store", "no-cache":
			return 0
		case "s-maxage":
			age, _ = strconv.Atoi(value)
		}
	}
	if !public || age <= 0 {
		return 0
	}
	return time.Duration(age) * time.Second
}

// pageRecorder passes an answer on while keeping a copy of it: its status,
// its own headers (those the gateway forwards from services; the edge's
// own, such as the request id, are the next request's business) and its
// body, up to maxCachedPage.
type pageRecorder struct {
	http.ResponseWriter
	status   int
	header   http.Header
	body     bytes.Buffer
	overflow bool
}

func (p *pageRecorder) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
		p.header = http.Header{}
		for _, k := range forwardResponse {
			if v := p.Header().Values(k); len(v) > 0 {
				p.header[http.CanonicalHeaderKey(k)] = v
			}
		}
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *pageRecorder) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if !p.overflow {
		if p.body.Len()+len(b) > maxCachedPage {
			p.overflow = true
			p.body = bytes.Buffer{}
		} else {
			p.body.Write(b)
		}
	}
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (p *pageRecorder) Unwrap() http.ResponseWriter { return p.ResponseWriter }
