package limit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWindow(t *testing.T) {
	now := time.Unix(0, 0)
	w := New(time.Minute, map[string]int{"account": 2, "client": 3})
	w.Now = func() time.Time { return now }
	ann := map[string]string{"account": "ann", "client": "10.0.0.1"}
	bob := map[string]string{"account": "bob", "client": "10.0.0.1"}
	assert.True(t, w.Take(ann))
	assert.True(t, w.Take(ann))
	assert.False(t, w.Take(ann), "the account's limit")
	assert.True(t, w.Take(bob))
	assert.False(t, w.Take(bob), "the client's limit, shared by its accounts")
	assert.Equal(t, 1, w.Count("account", "bob"), "a refused attempt takes nothing")
	w.Release(ann)
	assert.Equal(t, 1, w.Count("account", "ann"))
	w.Forget("account", "ann")
	assert.Zero(t, w.Count("account", "ann"))
	now = now.Add(61 * time.Second)
	assert.True(t, w.Take(bob), "a new window")
}

func TestWindowHoldsUnderParallelAttempts(t *testing.T) {
	w := New(time.Minute, map[string]int{"client": 5})
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.Take(map[string]string{"client": "x"}) {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(5), allowed.Load())
}
