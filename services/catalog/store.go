package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// sidecar is the part of the Dapr client the store uses.
type sidecar interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	GetBulkState(ctx context.Context, store string, keys []string, meta map[string]string, parallelism int32) ([]*dapr.BulkStateItem, error)
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
	ExecuteStateTransaction(ctx context.Context, store string, meta map[string]string, ops []*dapr.StateOperation) error
	PublishEvent(ctx context.Context, pubsub, topic string, data any, opts ...dapr.PublishEventOption) error
}

// productStore keeps products in catalog's state store: one key per product
// plus an index key listing their ids, since not every store can query. It
// is the catalog's Products and the reservations' Shelf.
type productStore struct {
	dapr   sidecar
	store  string
	pubsub string
}

const indexKey = "product-ids"

func productKey(id string) string { return "product:" + id }

func (s *productStore) ids(ctx context.Context) ([]string, error) {
	item, err := s.dapr.GetState(ctx, s.store, indexKey, nil)
	if err != nil {
		return nil, fmt.Errorf("read product index: %w", err)
	}
	var ids []string
	if len(item.Value) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(item.Value, &ids); err != nil {
		return nil, fmt.Errorf("decode product index: %w", err)
	}
	return ids, nil
}

// List reads the index, then every product in one bulk read.
func (s *productStore) List(ctx context.Context) ([]Product, error) {
	ids, err := s.ids(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = productKey(id)
	}
	items, err := s.dapr.GetBulkState(ctx, s.store, keys, nil, 8)
	if err != nil {
		return nil, fmt.Errorf("read products: %w", err)
	}
	byKey := make(map[string][]byte, len(items))
	for _, it := range items {
		if it.Error != "" {
			return nil, fmt.Errorf("read %s: %s", it.Key, it.Error)
		}
		byKey[it.Key] = it.Value
	}
	out := make([]Product, 0, len(ids))
	for _, k := range keys {
		if len(byKey[k]) == 0 {
			continue
		}
		var p Product
		if err := json.Unmarshal(byKey[k], &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Get reads one product with its ETag.
func (s *productStore) Get(ctx context.Context, id string) (Product, string, error) {
	item, err := s.dapr.GetState(ctx, s.store, productKey(id), nil)
	if err != nil {
		return Product{}, "", fmt.Errorf("read product %s: %w", id, err)
	}
	if len(item.Value) == 0 {
		return Product{}, "", ErrNotFound
	}
	var p Product
	if err := json.Unmarshal(item.Value, &p); err != nil {
		return Product{}, "", fmt.Errorf("decode product %s: %w", id, err)
	}
	return p, item.Etag, nil
}

// Save writes p if etag still matches the stored product and announces the
// change. The ETag makes concurrent admin edits safe: the second one loses
// with ErrConflict instead of silently overwriting the first.
func (s *productStore) Save(ctx context.Context, p Product, etag string) (string, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	err = s.dapr.SaveStateWithETag(ctx, s.store, productKey(p.ID), data, etag, nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	if daprapp.IsETagMismatch(err) {
		return "", ErrConflict
	}
	if err != nil {
		return "", fmt.Errorf("save product %s: %w", p.ID, err)
	}
	_, newETag, err := s.Get(ctx, p.ID)
	if err != nil {
		return "", err
	}
	if err := s.dapr.PublishEvent(ctx, s.pubsub, TopicProductChanged, ProductChanged{ID: p.ID, Price: p.Price, Stock: p.Stock, Variants: p.Variants},
		dapr.PublishEventWithContentType("application/json")); err != nil {
		return "", fmt.Errorf("publish %s: %w", TopicProductChanged, err)
	}
	return newETag, nil
}

// Create adds a new product and lists it in the index.
func (s *productStore) Create(ctx context.Context, p Product) (string, error) {
	if _, _, err := s.Get(ctx, p.ID); err == nil {
		return "", ErrExists
	} else if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	data, _ := json.Marshal(p)
	if err := s.dapr.SaveStateWithETag(ctx, s.store, productKey(p.ID), data, "", nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)); err != nil {
		if _, _, gerr := s.Get(ctx, p.ID); gerr == nil {
			return "", ErrExists
		}
		return "", fmt.Errorf("create product %s: %w", p.ID, err)
	}
	for range 20 {
		item, err := s.dapr.GetState(ctx, s.store, indexKey, nil)
		if err != nil {
			return "", err
		}
		var ids []string
		if len(item.Value) > 0 {
			if err := json.Unmarshal(item.Value, &ids); err != nil {
				return "", err
			}
		}
		index, _ := json.Marshal(append(ids, p.ID))
		err = s.dapr.SaveStateWithETag(ctx, s.store, indexKey, index, item.Etag, nil,
			dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
		if err == nil {
			_, etag, err := s.Get(ctx, p.ID)
			return etag, err
		}
		if !daprapp.IsETagMismatch(err) {
			return "", fmt.Errorf("index product %s: %w", p.ID, err)
		}
	}
	return "", fmt.Errorf("index product %s: %w", p.ID, ErrConflict)
}

// Change applies change to a product under its ETag, re-reading and trying
// again when another writer got there first. Stock changes for
// reservations are not announced as product changes.
func (s *productStore) Change(ctx context.Context, id string, change func(*Product) (bool, error)) error {
	for attempt := range 100 {
		p, etag, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		changed, err := change(&p)
		if err != nil || !changed {
			return err
		}
		data, _ := json.Marshal(p)
		err = s.dapr.SaveStateWithETag(ctx, s.store, productKey(id), data, etag, nil,
			dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
		if err == nil {
			return nil
		}
		if !daprapp.IsETagMismatch(err) {
			return fmt.Errorf("save product %s: %w", id, err)
		}
		if sleep(ctx, attempt) != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("change product %s: too much contention", id)
}

// sleep backs off with jitter so that contending writers spread out.
func sleep(ctx context.Context, attempt int) error {
	d := time.Duration(1+rand.IntN(5*(1+min(attempt, 10)))) * time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// seed writes the initial catalog once: if the index exists, it does nothing,
// so restarts and replicas are harmless (they would write the same data).
func (s *productStore) seed(ctx context.Context, products []Product) error {
	ids, err := s.ids(ctx)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return nil
	}
	ops := make([]*dapr.StateOperation, 0, len(products)+1)
	ids = make([]string, 0, len(products))
	for _, p := range products {
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		ops = append(ops, &dapr.StateOperation{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: productKey(p.ID), Value: data}})
		ids = append(ids, p.ID)
	}
	index, _ := json.Marshal(ids)
	ops = append(ops, &dapr.StateOperation{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: indexKey, Value: index}})
	if err := s.dapr.ExecuteStateTransaction(ctx, s.store, nil, ops); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

// ProductChanged is the payload of catalog.product-changed: the product's
// price and stock, and each variant's.
type ProductChanged struct {
	ID       string              `json:"id"`
	Price    money.Money         `json:"price"`
	Stock    int                 `json:"stock"`
	Variants []contracts.Variant `json:"variants,omitempty"`
}

// reservationStore keeps one reservation per order in catalog's state store
// (the Reservations of reservations.go).
type reservationStore struct {
	dapr  sidecar
	store string
}

func reservationKey(orderID string) string { return "reservation:" + orderID }

// Get reads the order's reservation with its ETag.
func (s *reservationStore) Get(ctx context.Context, orderID string) (Reservation, string, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, reservationKey(orderID), nil)
	if err != nil {
		return Reservation{}, "", false, fmt.Errorf("read reservation: %w", err)
	}
	if len(item.Value) == 0 {
		return Reservation{}, "", false, nil
	}
	var r Reservation
	if err := json.Unmarshal(item.Value, &r); err != nil {
		return Reservation{}, "", false, fmt.Errorf("decode reservation: %w", err)
	}
	return r, item.Etag, true, nil
}

// Create stores r only if the order has no reservation yet: a first write
// without an ETag fails when the key exists.
func (s *reservationStore) Create(ctx context.Context, r Reservation) error {
	data, _ := json.Marshal(r)
	err := s.dapr.SaveStateWithETag(ctx, s.store, reservationKey(r.OrderID), data, "", nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	if err == nil {
		return nil
	}
	// Stores word a lost first write differently; the key's presence says
	// what happened.
	if _, _, ok, gerr := s.Get(ctx, r.OrderID); gerr == nil && ok {
		return ErrReservationExists
	}
	return fmt.Errorf("save reservation: %w", err)
}

// Replace stores r if the order's reservation is still the one read with
// etag. (On Redis, a key created with first-write can only be changed with
// its ETag.)
func (s *reservationStore) Replace(ctx context.Context, r Reservation, etag string) error {
	data, _ := json.Marshal(r)
	if err := s.dapr.SaveStateWithETag(ctx, s.store, reservationKey(r.OrderID), data, etag, nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong)); err != nil {
		return fmt.Errorf("save reservation: %w", err)
	}
	return nil
}
