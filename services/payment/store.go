package main

import (
	"context"
	"encoding/json"
	"fmt"

	dapr "github.com/dapr/go-sdk/client"
)

type sidecar interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	SaveState(ctx context.Context, store, key string, data []byte, meta map[string]string, so ...dapr.StateOption) error
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
	item, err := s.dapr.GetState(ctx, s.store, "authorization:"+orderID, nil)
	if err != nil || len(item.Value) == 0 {
		return Authorization{}, false, err
	}
	var a Authorization
	err = json.Unmarshal(item.Value, &a)
	return a, err == nil, err
}

func (s *cardStore) saveAuthorization(ctx context.Context, a Authorization) error {
	b, _ := json.Marshal(a)
	if err := s.dapr.SaveState(ctx, s.store, "authorization:"+a.OrderID, b, nil); err != nil {
		return fmt.Errorf("save authorization: %w", err)
	}
	return nil
}
