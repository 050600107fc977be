package main

import (
	"context"
	"encoding/json"
	"fmt"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

const stateStore = "payment-store"

type sidecar interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	SaveState(ctx context.Context, store, key string, data []byte, meta map[string]string, so ...dapr.StateOption) error
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
}

// cardStore implements Store over Dapr state: card numbers by token (for an
// hour: long enough for a checkout to be authorized) and authorizations by
// order.
type cardStore struct {
	dapr  sidecar
	store string
}

// SaveCard implements Store.
func (s *cardStore) SaveCard(ctx context.Context, token string, c Card) error {
	b, _ := json.Marshal(c)
	if err := s.dapr.SaveState(ctx, s.store, "card:"+token, b, map[string]string{"ttlInSeconds": "3600"}); err != nil {
		return fmt.Errorf("save card: %w", err)
	}
	return nil
}

// Card implements Store.
func (s *cardStore) Card(ctx context.Context, token string) (Card, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, "card:"+token, nil)
	if err != nil {
		return Card{}, false, fmt.Errorf("read card: %w", err)
	}
	if len(item.Value) == 0 {
		return Card{}, false, nil
	}
	var c Card
	if err := json.Unmarshal(item.Value, &c); err != nil {
		return Card{}, false, fmt.Errorf("read card: %w", err)
	}
	return c, true, nil
}

// Authorization implements Store.
func (s *cardStore) Authorization(ctx context.Context, orderID string) (contracts.Authorization, string, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, authorizationKey(orderID), nil)
	if err != nil {
		return contracts.Authorization{}, "", false, fmt.Errorf("read authorization: %w", err)
	}
	if len(item.Value) == 0 {
		return contracts.Authorization{}, "", false, nil
	}
	var a contracts.Authorization
	if err := json.Unmarshal(item.Value, &a); err != nil {
		return contracts.Authorization{}, "", false, err
	}
	return a, item.Etag, true, nil
}

// SaveAuthorization implements Store with a first-write-wins save under etag.
func (s *cardStore) SaveAuthorization(ctx context.Context, a contracts.Authorization, etag string) error {
	b, _ := json.Marshal(a)
	err := s.dapr.SaveStateWithETag(ctx, s.store, authorizationKey(a.OrderID), b, etag, nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	if daprapp.IsETagMismatch(err) {
		return ErrExists
	}
	if err != nil && etag == "" {
		// Some stores answer a first write on an existing key with another
		// error than an ETag mismatch: look.
		if _, _, ok, gerr := s.Authorization(ctx, a.OrderID); gerr == nil && ok {
			return ErrExists
		}
	}
	if err != nil {
		return fmt.Errorf("save authorization: %w", err)
	}
	return nil
}

func authorizationKey(orderID string) string { return "authorization:" + orderID }
