package limit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWindow(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(0, 0)
	w := New(time.Minute, map[string]int{"account": 2, "client": 3}, NewMemory())
	w.Now = func() time.Time { return now }
	take := func(keys map[string]string) bool {
		ok, err := w.Take(ctx, keys)
		require.NoError(t, err)
		return ok
	}
	count := func(kind, key string) int {
		n, err := w.Count(ctx, kind, key)
		require.NoError(t, err)
		return n
	}
	ann := map[string]string{"account": "ann", "client": "10.0.0.1"}
	bob := map[string]string{"account": "bob", "client": "10.0.0.1"}
	assert.True(t, take(ann))
	assert.True(t, take(ann))
	assert.False(t, take(ann), "the account's limit")
	assert.True(t, take(bob))
	assert.False(t, take(bob), "the client's limit, shared by its accounts")
	assert.Equal(t, 1, count("account", "bob"), "a refused attempt takes nothing")
	assert.Equal(t, 3, count("client", "10.0.0.1"), "a refused attempt takes nothing")
	w.Release(ctx, ann)
	assert.Equal(t, 1, count("account", "ann"))
	require.NoError(t, w.Forget(ctx, "account", "ann"))
	assert.Zero(t, count("account", "ann"))
	now = now.Add(61 * time.Second)
	assert.True(t, take(bob), "a new window")
}

// Windows that share one store share their counts: two replicas of a
// service allow, together, what one would.
func TestWindowHoldsUnderParallelAttemptsAcrossReplicas(t *testing.T) {
	counts := NewMemory()
	replicas := []*Window{New(time.Minute, map[string]int{"client": 5}, counts), New(time.Minute, map[string]int{"client": 5}, counts)}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := replicas[i%2].Take(context.Background(), map[string]string{"client": "x"})
			assert.NoError(t, err)
			if ok {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(5), allowed.Load())
}
