// Package limit counts attempts in fixed windows, per kind of key (an
// account, a client address), to slow down guessing and flooding. The
// counts live in a Counts store: the service's own Dapr state store
// (DaprCounts) in production, so that every replica sees every attempt and
// "5 per account" stays 5 however many replicas run; memory (NewMemory) for
// unit tests.
package limit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// ErrConflict is Counts.Put's answer when the count changed since it was
// read (another replica's attempt came in between).
var ErrConflict = errors.New("limit: the count changed meanwhile")

// Counts is where a Window keeps its counts.
type Counts interface {
	// Get returns the count under key and its version ("" when there is none).
	Get(ctx context.Context, key string) (n int, version string, err error)
	// Put writes n under key if it is still at version ("": there must be
	// none yet), to be forgotten after ttl; ErrConflict if it is not.
	Put(ctx context.Context, key string, n int, version string, ttl time.Duration) error
	// Delete forgets key.
	Delete(ctx context.Context, key string) error
}

// Window allows, per kind of key, Limits[kind] attempts in each window.
type Window struct {
	// Limits is how many attempts each kind of key has per window.
	Limits map[string]int
	// Now is the clock (tests set it).
	Now    func() time.Time
	length time.Duration
	counts Counts
}

// New returns a Window of the given length and limits, counting in counts.
func New(length time.Duration, limits map[string]int, counts Counts) *Window {
	return &Window{Limits: limits, Now: time.Now, length: length, counts: counts}
}

// Length is how long a window lasts: a client told to wait is told that.
func (w *Window) Length() time.Duration { return w.length }

// maxTries bounds the read-modify-write rounds of one key; parallel
// attempts on one key conflict only until its limit is reached.
const maxTries = 50

// Take reserves an attempt for every key (kind → key), all or none, and
// reports false if any key has used up its attempts in this window. Taking
// before the costly or risky work, each count written under its version, is
// what keeps parallel attempts, on any replica, within the limit. A key
// too contended to be counted refuses, as a full one does.
func (w *Window) Take(ctx context.Context, keys map[string]string) (bool, error) {
	var taken []string
	for _, kind := range slices.Sorted(maps.Keys(keys)) {
		ok, err := w.take(ctx, w.key(kind, keys[kind]), w.Limits[kind])
		if err != nil || !ok {
			w.give(ctx, taken)
			return false, err
		}
		taken = append(taken, w.key(kind, keys[kind]))
	}
	return true, nil
}

func (w *Window) take(ctx context.Context, key string, limit int) (bool, error) {
	for try := range maxTries {
		n, version, err := w.counts.Get(ctx, key)
		if err != nil {
			return false, fmt.Errorf("read attempts: %w", err)
		}
		if n >= limit {
			return false, nil
		}
		err = w.counts.Put(ctx, key, n+1, version, w.length)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, ErrConflict) {
			return false, fmt.Errorf("count attempt: %w", err)
		}
		// Another attempt won the round: try again a little later, at a
		// random moment so that the losers do not meet again.
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Duration(rand.IntN(5*(try+1))+1) * time.Millisecond):
		}
	}
	return false, nil
}

// Release gives back the attempts taken for keys (an attempt that, in the
// end, should not count).
func (w *Window) Release(ctx context.Context, keys map[string]string) {
	var all []string
	for kind, k := range keys {
		all = append(all, w.key(kind, k))
	}
	w.give(ctx, all)
}

// give takes one off each key's count, best effort: a count left one too
// high only lasts until its window ends.
func (w *Window) give(ctx context.Context, keys []string) {
	for _, key := range keys {
		for range maxTries {
			n, version, err := w.counts.Get(ctx, key)
			if err != nil || n == 0 {
				break // the window may have started afresh since
			}
			if err = w.counts.Put(ctx, key, n-1, version, w.length); !errors.Is(err, ErrConflict) {
				break
			}
		}
	}
}

// Forget clears a key's count (e.g. an account after a good sign-in).
func (w *Window) Forget(ctx context.Context, kind, key string) error {
	return w.counts.Delete(ctx, w.key(kind, key))
}

// Count is how many attempts a key has used in this window.
func (w *Window) Count(ctx context.Context, kind, key string) (int, error) {
	n, _, err := w.counts.Get(ctx, w.key(kind, key))
	return n, err
}

// key names a count in the store: the window's number is part of it, so a
// new window starts from nothing while the old counts expire (TTL).
func (w *Window) key(kind, k string) string {
	return "limit:" + kind + ":" + strconv.FormatInt(w.Now().UnixNano()/int64(w.length), 10) + ":" + k
}
