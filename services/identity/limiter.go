package main

import (
	"sync"
	"time"
)

// signInWindow is how long failed sign-ins are remembered; a client told to
// wait is told to wait that long.
const signInWindow = 5 * time.Minute

// limiter counts sign-in attempts in fixed windows, per account and per
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
	return &limiter{window: signInWindow, limits: map[string]int{"account": 5, "client": 100},
		counts: map[string]int{}, now: time.Now}
}

// take reserves an attempt for every key ("account", "client"), all or
// none, and reports false if any key has used up its attempts in this
// window. Taking before the password is checked, under one lock, is what
// keeps parallel guesses within the limit.
func (l *limiter) take(keys map[string]string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.now().Sub(l.started) > l.window {
		l.counts, l.started = map[string]int{}, l.now()
	}
	for kind, k := range keys {
		if l.counts[kind+":"+k] >= l.limits[kind] {
			return false
		}
	}
	for kind, k := range keys {
		l.counts[kind+":"+k]++
	}
	return true
}

// release gives back the attempts taken for keys: only wrong passwords
// count, so a right one, or a server that failed to check, costs nothing.
func (l *limiter) release(keys map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for kind, k := range keys {
		// The window may have started afresh since the attempt was taken.
		if key := kind + ":" + k; l.counts[key] > 1 {
			l.counts[key]--
		} else {
			delete(l.counts, key)
		}
	}
}

// forget clears an account's count after a successful sign-in.
func (l *limiter) forget(kind, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.counts, kind+":"+key)
}
