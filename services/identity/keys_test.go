package main

import (
	"context"
	"strconv"
	"sync"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memoryState is a one-store stand-in for the sidecar's state API, with
// first-write ETags.
type memoryState struct {
	mu    sync.Mutex
	value map[string][]byte
	etag  map[string]int
}

func (m *memoryState) GetState(_ context.Context, _, key string, _ map[string]string) (*dapr.StateItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &dapr.StateItem{Key: key, Value: m.value[key], Etag: strconv.Itoa(m.etag[key])}, nil
}

func (m *memoryState) SaveStateWithETag(_ context.Context, _, key string, data []byte, etag string, _ map[string]string, _ ...dapr.StateOption) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if etag != strconv.Itoa(m.etag[key]) {
		return assert.AnError
	}
	m.value[key], m.etag[key] = data, m.etag[key]+1
	return nil
}

func kids(t *testing.T, r *keyRing) []string {
	set, err := r.JWKS(context.Background())
	require.NoError(t, err)
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func TestRevokeTakesAKeyOutAtOnce(t *testing.T) {
	ctx := context.Background()
	state := &memoryState{value: map[string][]byte{}, etag: map[string]int{}}
	r := &keyRing{dapr: state, store: "identity-store", ttl: tokenTTL}
	require.NoError(t, r.load(ctx))
	first := kids(t, r)[0]
	require.NoError(t, r.Rotate(ctx))
	second := kids(t, r)[0]
	require.Equal(t, []string{second, first}, kids(t, r), "a rotation keeps the old key verifying")

	require.NoError(t, r.Revoke(ctx, first))
	assert.Equal(t, []string{second}, kids(t, r), "a revoked key leaves the key set")

	require.NoError(t, r.Revoke(ctx, second))
	after := kids(t, r)
	require.Len(t, after, 1, "revoking the signing key makes a new one")
	assert.NotEqual(t, second, after[0])
	_, _, err := r.Sign(User{ID: "u1", Email: "a@example.com"})
	assert.NoError(t, err, "and it signs")

	assert.ErrorIs(t, r.Revoke(ctx, "no-such-kid"), ErrUnknownKey)

	// Another replica learns of it on its next refresh.
	other := &keyRing{dapr: state, store: "identity-store", ttl: tokenTTL}
	require.NoError(t, other.refresh(ctx))
	assert.Equal(t, after, kids(t, other))
}
