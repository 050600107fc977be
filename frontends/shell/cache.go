package main

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// fragmentCache keeps the answers fragments marked public (the same for
// everyone) for their max-age. Personal answers never get here: the
// composer only looks up requests that carry no token and no cookie.
type fragmentCache struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry
	max     int
}

type cacheEntry struct {
	html    string
	styles  []string
	expires time.Time
}

func newFragmentCache(max int) *fragmentCache {
	return &fragmentCache{entries: map[string]cacheEntry{}, max: max}
}

func (c *fragmentCache) get(key string) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || time.Now().After(e.expires) {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *fragmentCache) put(key string, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Searches make keys without end: start again rather than grow.
		c.entries = map[string]cacheEntry{}
	}
	c.entries[key] = e
}

// publicMaxAge is how long a response may be shared: its max-age when it
// is public, else 0.
func publicMaxAge(cacheControl string) time.Duration {
	public, age := false, 0
	for _, d := range strings.Split(cacheControl, ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		switch {
		case d == "public":
			public = true
		case d == "private" || d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			age, _ = strconv.Atoi(strings.TrimPrefix(d, "max-age="))
		}
	}
	if !public || age <= 0 {
		return 0
	}
	return time.Duration(age) * time.Second
}
