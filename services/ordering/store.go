package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/money"
)

const stateStore = "ordering-store"

// Order is an order with its status history.
type Order struct {
	ID        string         `json:"id"`
	UserID    string         `json:"userId"`
	Status    string         `json:"status"`
	Reason    string         `json:"reason,omitempty"`
	Lines     []events.Line  `json:"lines"`
	Total     money.Money    `json:"total"`
	Address   events.Address `json:"shippingAddress"`
	CreatedAt string         `json:"createdAt"`
	History   []Step         `json:"history"`
}

// Step is one status an order went through, and when.
type Step struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	At     string `json:"at"`
}

// Summary is an order in a list.
type Summary struct {
	ID        string      `json:"id"`
	Status    string      `json:"status"`
	Total     money.Money `json:"total"`
	CreatedAt string      `json:"createdAt"`
}

// errConflict is a write that lost to a concurrent one: read again and retry.
var errConflict = errors.New("order changed concurrently")

type sidecar interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	GetBulkState(ctx context.Context, store string, keys []string, meta map[string]string, parallelism int32) ([]*dapr.BulkStateItem, error)
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
}

// orderStore keeps orders by id and, per user, the list of their order ids.
type orderStore struct {
	dapr    sidecar
	store   string
	changes *orderChanges // told of every order written (Ordering.Await)
}

func orderKey(id string) string  { return "order:" + id }
func userKey(user string) string { return "user-orders:" + user }

// recentKey lists the newest orders of everyone, for the admin area.
const (
	recentKey    = "recent-orders"
	recentOrders = 50
)

func strong() []dapr.StateOption {
	return []dapr.StateOption{dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong)}
}

func (s *orderStore) Get(ctx context.Context, id string) (Order, string, error) {
	item, err := s.dapr.GetState(ctx, s.store, orderKey(id), nil)
	if err != nil {
		return Order{}, "", fmt.Errorf("read order: %w", err)
	}
	if len(item.Value) == 0 {
		return Order{}, "", ErrNotFound
	}
	var o Order
	if err := json.Unmarshal(item.Value, &o); err != nil {
		return Order{}, "", err
	}
	return o, item.Etag, nil
}

// Create stores a new order unless it exists (a re-run step), and lists it
// for its user and in the recent orders.
func (s *orderStore) Create(ctx context.Context, o Order) error {
	if _, _, err := s.Get(ctx, o.ID); errors.Is(err, ErrNotFound) {
		if err := s.Save(ctx, o, ""); err != nil && !errors.Is(err, errConflict) {
			return err
		}
	} else if err != nil {
		return err
	}
	return s.index(ctx, o.UserID, o.ID)
}

// Save writes o if it is unchanged since it was read with etag (empty: if it
// does not exist yet); otherwise it returns errConflict.
func (s *orderStore) Save(ctx context.Context, o Order, etag string) error {
	data, _ := json.Marshal(o)
	err := s.dapr.SaveStateWithETag(ctx, s.store, orderKey(o.ID), data, etag, nil, strong()...)
	if err == nil && s.changes != nil {
		s.changes.written(o.ID)
	}
	if daprapp.IsETagMismatch(err) {
		return errConflict
	}
	if err != nil && etag == "" {
		if _, _, gerr := s.Get(ctx, o.ID); gerr == nil {
			return errConflict // a concurrent first write won
		}
	}
	return err
}

// ForUser lists a user's orders, newest first.
func (s *orderStore) ForUser(ctx context.Context, user string) ([]Summary, error) {
	ids, _, err := s.ids(ctx, userKey(user))
	if err != nil {
		return nil, err
	}
	return s.summaries(ctx, ids)
}

// Recent lists the newest orders of all users, newest first (for admins).
func (s *orderStore) Recent(ctx context.Context) ([]Summary, error) {
	ids, _, err := s.ids(ctx, recentKey)
	if err != nil {
		return nil, err
	}
	return s.summaries(ctx, ids)
}

// summaries reads the orders of ids (oldest first) and lists them newest first.
func (s *orderStore) summaries(ctx context.Context, ids []string) ([]Summary, error) {
	if len(ids) == 0 {
		return []Summary{}, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[len(ids)-1-i] = orderKey(id)
	}
	items, err := s.dapr.GetBulkState(ctx, s.store, keys, nil, 8)
	if err != nil {
		return nil, err
	}
	byKey := map[string][]byte{}
	for _, it := range items {
		byKey[it.Key] = it.Value
	}
	out := make([]Summary, 0, len(keys))
	for _, k := range keys {
		var o Order
		if json.Unmarshal(byKey[k], &o) == nil && o.ID != "" {
			out = append(out, Summary{ID: o.ID, Status: o.Status, Total: o.Total, CreatedAt: o.CreatedAt})
		}
	}
	return out, nil
}

// ids reads a list of order ids (a user's, or the recent ones).
func (s *orderStore) ids(ctx context.Context, key string) ([]string, string, error) {
	item, err := s.dapr.GetState(ctx, s.store, key, nil)
	if err != nil {
		return nil, "", err
	}
	var ids []string
	if len(item.Value) > 0 {
		if err := json.Unmarshal(item.Value, &ids); err != nil {
			return nil, "", err
		}
	}
	return ids, item.Etag, nil
}

// index adds an order to its user's list and to the recent orders, once.
func (s *orderStore) index(ctx context.Context, user, id string) error {
	if err := s.appendID(ctx, userKey(user), id, 0); err != nil {
		return err
	}
	return s.appendID(ctx, recentKey, id, recentOrders)
}

// appendID adds id to the list under key unless it is there, keeping the
// newest keep ids (0: all of them).
func (s *orderStore) appendID(ctx context.Context, key, id string, keep int) error {
	for range 20 {
		ids, etag, err := s.ids(ctx, key)
		if err != nil {
			return err
		}
		if slices.Contains(ids, id) {
			return nil
		}
		ids = append(ids, id)
		if keep > 0 && len(ids) > keep {
			ids = ids[len(ids)-keep:]
		}
		data, _ := json.Marshal(ids)
		err = s.dapr.SaveStateWithETag(ctx, s.store, key, data, etag, nil, strong()...)
		if err == nil {
			return nil
		}
		if !daprapp.IsETagMismatch(err) && etag != "" {
			return err
		}
	}
	return fmt.Errorf("index order %s under %s: %w", id, key, errConflict)
}
