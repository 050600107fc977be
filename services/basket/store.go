package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// sidecar is what basketStore needs of the Dapr SDK.
type sidecar interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
}

// basketStore implements Baskets, Checkouts and HandledEvents over
// basket's Dapr state store.
type basketStore struct {
	dapr  sidecar
	store string
	// guestTTL is how long a guest basket outlives its last change (the
	// guest cookie's life): the store deletes it then.
	guestTTL time.Duration
}

func basketKey(owner string) string { return "basket:" + owner }

// Get reads owner's basket, with its lines' total.
func (s *basketStore) Get(ctx context.Context, owner string) (Basket, string, error) {
	item, err := s.dapr.GetState(ctx, s.store, basketKey(owner), nil)
	if err != nil {
		return Basket{}, "", fmt.Errorf("read basket: %w", err)
	}
	var b Basket
	if len(item.Value) > 0 {
		if err := json.Unmarshal(item.Value, &b); err != nil {
			return Basket{}, "", fmt.Errorf("decode basket: %w", err)
		}
	}
	return b.withTotal(), item.Etag, nil
}

// Save writes b if the basket is unchanged since it was read (etag; empty
// for a basket that did not exist yet).
func (s *basketStore) Save(ctx context.Context, owner string, b Basket, etag string) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	var meta map[string]string
	if strings.HasPrefix(owner, guestOwner("")) && s.guestTTL > 0 {
		meta = map[string]string{"ttlInSeconds": strconv.Itoa(int(s.guestTTL.Seconds()))}
	}
	err = s.dapr.SaveStateWithETag(ctx, s.store, basketKey(owner), data, etag, meta,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	if daprapp.IsETagMismatch(err) {
		return ErrConflict
	}
	if err != nil && etag == "" {
		// Two first writes of one basket race. Stores report the loser
		// differently (Redis: a script error, not an ETag error), so look:
		// if the basket exists now, this was a lost race, not a failure.
		if item, gerr := s.dapr.GetState(ctx, s.store, basketKey(owner), nil); gerr == nil && item.Etag != "" {
			return ErrConflict
		}
	}
	if err != nil {
		return fmt.Errorf("save basket: %w", err)
	}
	return nil
}

// CheckedOut reports whether the order was already placed.
func (s *basketStore) CheckedOut(ctx context.Context, orderID string) (bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, "checkout:"+orderID, nil)
	if err != nil {
		return false, fmt.Errorf("read checkout: %w", err)
	}
	return len(item.Value) > 0, nil
}

// MarkCheckedOut remembers a placed order.
func (s *basketStore) MarkCheckedOut(ctx context.Context, orderID string) error {
	return s.dapr.SaveStateWithETag(ctx, s.store, "checkout:"+orderID, []byte(`"accepted"`), "", nil)
}

// Handled reports whether the event with key was acted on.
func (s *basketStore) Handled(ctx context.Context, key string) (bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, "handled:"+key, nil)
	if err != nil {
		return false, err
	}
	return len(item.Value) > 0, nil
}

// MarkHandled remembers an event for a week, far longer than the bus
// redelivers it.
func (s *basketStore) MarkHandled(ctx context.Context, key string) error {
	return s.dapr.SaveStateWithETag(ctx, s.store, "handled:"+key, []byte("1"), "", map[string]string{"ttlInSeconds": "604800"})
}
