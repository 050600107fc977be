package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

type sidecar interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	SaveState(ctx context.Context, store, key string, data []byte, meta map[string]string, so ...dapr.StateOption) error
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
}

// cardStore keeps card numbers by token (for an hour: long enough for a
// checkout to be authorized) and authorizations by order.
type cardStore struct {
	dapr  sidecar
	store string
}

func (s *cardStore) saveCard(ctx context.Context, token, number string) error {
	if err := s.dapr.SaveState(ctx, s.store, "card:"+token, []byte(number), map[string]string{"ttlInSeconds": "3600"}); err != nil {
		return fmt.Errorf("save card: %w", err)
	}
	return nil
}

func (s *cardStore) card(ctx context.Context, token string) (string, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, "card:"+token, nil)
	if err != nil {
		return "", false, fmt.Errorf("read card: %w", err)
	}
	return string(item.Value), len(item.Value) > 0, nil
}

func (s *cardStore) authorization(ctx context.Context, orderID string) (Authorization, bool, error) {
	a, _, ok, err := s.authorizationWithETag(ctx, orderID)
	return a, ok, err
}

func (s *cardStore) authorizationWithETag(ctx context.Context, orderID string) (Authorization, string, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, authorizationKey(orderID), nil)
	if err != nil {
		return Authorization{}, "", false, fmt.Errorf("read authorization: %w", err)
	}
	if len(item.Value) == 0 {
		return Authorization{}, "", false, nil
	}
	var a Authorization
	if err := json.Unmarshal(item.Value, &a); err != nil {
		return Authorization{}, "", false, err
	}
	return a, item.Etag, true, nil
}

// errExists means another write of the authorization came first.
var errExists = errors.New("authorization written concurrently")

// createAuthorization stores a only if the order has none yet.
func (s *cardStore) createAuthorization(ctx context.Context, a Authorization) error {
	return s.replaceAuthorization(ctx, a, "")
}

// replaceAuthorization stores a if the stored one still has etag (empty:
// if there is none).
func (s *cardStore) replaceAuthorization(ctx context.Context, a Authorization, etag string) error {
	b, _ := json.Marshal(a)
	err := s.dapr.SaveStateWithETag(ctx, s.store, authorizationKey(a.OrderID), b, etag, nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	if daprapp.IsETagMismatch(err) {
		return errExists
	}
	if err != nil && etag == "" {
		// Some stores answer a first write on an existing key with another
		// error than an ETag mismatch: look.
		if _, ok, gerr := s.authorization(ctx, a.OrderID); gerr == nil && ok {
			return errExists
		}
	}
	if err != nil {
		return fmt.Errorf("save authorization: %w", err)
	}
	return nil
}

func authorizationKey(orderID string) string { return "authorization:" + orderID }
