package main

import (
	"context"
	"sync"
	"time"
)

// Waiting for an order to move on (a long poll) instead of asking every
// second. The saga's steps write orders through this replica's orderStore,
// which tells the requests waiting here at once; a write by another replica
// is seen by reading the order again every recheck.

// orderChanges tells the requests waiting on an order that this replica
// just wrote it.
type orderChanges struct {
	mu      sync.Mutex
	waiting map[string]*watch
}

type watch struct {
	changed chan struct{} // closed on the next write
	n       int           // requests waiting on it
}

func newOrderChanges() *orderChanges { return &orderChanges{waiting: map[string]*watch{}} }

// watch returns a channel closed when order id is next written here, and a
// function to call when no longer waiting on it.
func (c *orderChanges) watch(id string) (<-chan struct{}, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.waiting[id]
	if w == nil {
		w = &watch{changed: make(chan struct{})}
		c.waiting[id] = w
	}
	w.n++
	return w.changed, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if w.n--; w.n == 0 && c.waiting[id] == w {
			delete(c.waiting, id)
		}
	}
}

// written wakes every request waiting on order id.
func (c *orderChanges) written(id string) {
	c.mu.Lock()
	w := c.waiting[id]
	delete(c.waiting, id)
	c.mu.Unlock()
	if w != nil {
		close(w.changed)
	}
}

// The longest a request waits (under the gateway's 10 s for a call), and
// how often a waiting request reads the order again for another replica's
// writes.
const (
	MaxWait = 8 * time.Second
	recheck = time.Second
)

// Await is Track once the order's status is no longer seen: at once if it
// already differs, or when it changes, or with the status as it is after
// wait (at most MaxWait) or when ctx ends.
func (o Ordering) Await(ctx context.Context, v Viewer, id, seen string, wait time.Duration) (order Order, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, min(wait, MaxWait))
	defer cancel()
	for {
		var changed <-chan struct{} // nil: only the re-read wakes it
		done := func() {}
		if o.changes != nil {
			// Watch before reading: a write between the two is not missed.
			changed, done = o.changes.watch(id)
		}
		// Read with a context of its own: the wait ending must not fail it.
		order, found, err = o.Track(context.WithoutCancel(ctx), v, id)
		if err != nil || order.Status != seen {
			done()
			return order, found, err
		}
		select {
		case <-changed:
		case <-time.After(recheck):
		case <-ctx.Done():
			done()
			return order, found, nil
		}
		done()
	}
}
