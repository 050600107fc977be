// Package limit counts attempts in fixed windows, per kind of key (an
// account, a client address), to slow down guessing and flooding. It lives
// in memory: enough for one replica; several replicas each allow their own
// share.
package limit

import (
	"sync"
	"time"
)

// Window allows, per kind of key, Limits[kind] attempts in each window.
type Window struct {
	// Limits is how many attempts each kind of key has per window.
	Limits map[string]int
	// Now is the clock (tests set it).
	Now func() time.Time

	mu      sync.Mutex
	length  time.Duration
	counts  map[string]int
	started time.Time
}

// New returns a Window of the given length and limits.
func New(length time.Duration, limits map[string]int) *Window {
	return &Window{Limits: limits, Now: time.Now, length: length, counts: map[string]int{}}
}

// Length is how long a window lasts: a client told to wait is told that.
func (w *Window) Length() time.Duration { return w.length }

// Take reserves an attempt for every key (kind → key), all or none, and
// reports false if any key has used up its attempts in this window. Taking
// before the costly or risky work, under one lock, is what keeps parallel
// attempts within the limit.
func (w *Window) Take(keys map[string]string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Now().Sub(w.started) > w.length {
		w.counts, w.started = map[string]int{}, w.Now()
	}
	for kind, k := range keys {
		if w.counts[kind+":"+k] >= w.Limits[kind] {
			return false
		}
	}
	for kind, k := range keys {
		w.counts[kind+":"+k]++
	}
	return true
}

// Release gives back the attempts taken for keys (an attempt that, in the
// end, should not count).
func (w *Window) Release(keys map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for kind, k := range keys {
		// The window may have started afresh since the attempt was taken.
		if key := kind + ":" + k; w.counts[key] > 1 {
			w.counts[key]--
		} else {
			delete(w.counts, key)
		}
	}
}

// Forget clears a key's count (e.g. an account after a good sign-in).
func (w *Window) Forget(kind, key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.counts, kind+":"+key)
}

// Count is how many attempts a key has used in this window.
func (w *Window) Count(kind, key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[kind+":"+key]
}
