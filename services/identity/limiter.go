package main

import (
	"sync"
	"time"
)

// limiter counts failed sign-ins in fixed windows, per account and per
// client address, to slow password guessing. It lives in memory: enough for
// one replica; several replicas would each allow their own share.
type limiter struct {
	mu      sync.Mutex
	window  time.Duration
	limits  map[string]int // by kind of key
	counts  map[string]int
	started time.Time
	now     func() time.Time
}

func newLimiter() *limiter {
	return &limiter{window: 5 * time.Minute, limits: map[string]int{"account": 5, "client": 100},
		counts: map[string]int{}, now: time.Now}
}

// blocked reports whether any key ("account", "client") has used up its
// failed attempts in this window.
func (l *limiter) blocked(keys map[string]string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.now().Sub(l.started) > l.window {
		l.counts, l.started = map[string]int{}, l.now()
	}
	for kind, k := range keys {
		if l.counts[kind+":"+k] >= l.limits[kind] {
			return true
		}
	}
	return false
}

// failed records a wrong password for each key. Only failures count: a
// server that is slow to answer must not lock anyone out.
func (l *limiter) failed(keys map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for kind, k := range keys {
		l.counts[kind+":"+k]++
	}
}

// forget clears an account's count after a successful sign-in.
func (l *limiter) forget(kind, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.counts, kind+":"+key)
}
