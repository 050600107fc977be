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
// and no cookie.
type fragmentCache struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry
	max     int
	now     func() time.Time
}

type cacheEntry struct {
	html       string
	styles     []string
	expires    time.Time // fresh until
	staleUntil time.Time // usable when the fragment fails, until
}

func newFragmentCache(max int) *fragmentCache {
	return &fragmentCache{entries: map[string]cacheEntry{}, max: max, now: time.Now}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Searches make keys without end: start again rather than grow.
		c.entries = map[string]cacheEntry{}
	}
	c.entries[key] = e
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
