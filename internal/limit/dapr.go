package limit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// StateAPI is the part of the Dapr client that DaprCounts uses.
type StateAPI interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
	DeleteState(ctx context.Context, store, key string, meta map[string]string) error
}

// DaprCounts keeps counts in a Dapr state store, which every replica of
// the service shares: each write is first-write-wins under the ETag read,
// and each count expires with its window (ttlInSeconds).
type DaprCounts struct {
	Client StateAPI
	Store  string
}

// Get implements Counts.
func (d DaprCounts) Get(ctx context.Context, key string) (int, string, error) {
	item, err := d.Client.GetState(ctx, d.Store, key, nil)
	if err != nil {
		return 0, "", err
	}
	if len(item.Value) == 0 {
		return 0, "", nil
	}
	n, err := strconv.Atoi(string(item.Value))
	if err != nil {
		return 0, "", fmt.Errorf("count %s: %w", key, err)
	}
	return n, item.Etag, nil
}

// Put implements Counts.
func (d DaprCounts) Put(ctx context.Context, key string, n int, version string, ttl time.Duration) error {
	meta := map[string]string{"ttlInSeconds": strconv.Itoa(max(1, int(ttl.Seconds()+0.5)))}
	err := d.Client.SaveStateWithETag(ctx, d.Store, key, []byte(strconv.Itoa(n)), version, meta,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	if daprapp.IsETagMismatch(err) {
		return ErrConflict
	}
	if err != nil && version == "" {
		// Two first writes of one key race, and stores report the loser
		// differently (SQLite a constraint, Redis a script error): if the
		// key exists now, this was a lost race.
		if item, gerr := d.Client.GetState(ctx, d.Store, key, nil); gerr == nil && item.Etag != "" {
			return ErrConflict
		}
	}
	return err
}

// Delete implements Counts.
func (d DaprCounts) Delete(ctx context.Context, key string) error {
	return d.Client.DeleteState(ctx, d.Store, key, nil)
}
