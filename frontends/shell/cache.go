package main

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// fragmentCache keeps the answers fragments marked public (the same for
// everyone) for their max-age, and past it for their stale-if-error, to
// show while the fragment's service fails (RFC 5861). Personal answers
// never get here: the composer only looks up requests that carry no token
// and no cookie. It is bounded by entries and by bytes, since searches make
// keys without end and a fragment can be large.
type fragmentCache struct {
	mu       sync.RWMutex
	entries  map[string]cacheEntry
	bytes    int // held by entries, keys included
	max      int // entries
	maxBytes int
	now      func() time.Time
}

type cacheEntry struct {
	html       string
	styles     []string
	expires    time.Time // fresh until
	staleUntil time.Time // usable when the fragment fails, until
}

func newFragmentCache(max, maxBytes int) *fragmentCache {
	return &fragmentCache{entries: map[string]cacheEntry{}, max: max, maxBytes: maxBytes, now: time.Now}
}

func (e cacheEntry) size(key string) int {
	n := len(key) + len(e.html)
	for _, s := range e.styles {
		n += len(s)
	}
	return n
}

// get returns the entry for key and whether it is still fresh.
func (c *fragmentCache) get(key string) (e cacheEntry, ok, fresh bool) {
	c.mu.RLock()
	e, ok = c.entries[key]
	c.mu.RUnlock()
	now := c.now()
	if !ok || now.After(e.expires) && now.After(e.staleUntil) {
		return cacheEntry{}, false, false
	}
	return e, true, !now.After(e.expires)
}

// put keeps e, fresh for maxAge and usable on failure for staleIfError more.
func (c *fragmentCache) put(key, html string, styles []string, maxAge, staleIfError time.Duration) {
	now := c.now()
	e := cacheEntry{html: html, styles: styles, expires: now.Add(maxAge), staleUntil: now.Add(maxAge + staleIfError)}
	size := e.size(key)
	if size > c.maxBytes/8 {
		return // one answer may not crowd out the rest
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok {
		c.bytes -= old.size(key)
		delete(c.entries, key)
	}
	if len(c.entries) >= c.max || c.bytes+size > c.maxBytes {
		// First forget what can no longer be used; if that is not enough,
		// start again rather than grow.
		for k, old := range c.entries {
			if now.After(old.staleUntil) {
				c.bytes -= old.size(k)
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max || c.bytes+size > c.maxBytes {
			c.entries, c.bytes = map[string]cacheEntry{}, 0
		}
	}
	c.entries[key] = e
	c.bytes += size
}

// sharedFor reads how long a response may be shared: its max-age when it
// is public (else 0), and how much longer it may stand in for a failure.
func sharedFor(cacheControl string) (maxAge, staleIfError time.Duration) {
	public, age, stale := false, 0, 0
	for _, d := range strings.Split(cacheControl, ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		name, value, _ := strings.Cut(d, "=")
		switch name {
		case "public":
			public = true
		case "private", "no-store", "no-cache":
			return 0, 0
		case "max-age":
			age, _ = strconv.Atoi(value)
		case "stale-if-error":
			stale, _ = strconv.Atoi(value)
		}
	}
	if !public || age <= 0 {
		return 0, 0
	}
	return time.Duration(age) * time.Second, time.Duration(max(stale, 0)) * time.Second
}
