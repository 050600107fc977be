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

// Item is one line of a basket.
type Item struct {
	ProductID string      `json:"productId"`
	Name      string      `json:"name"`
	UnitPrice money.Money `json:"unitPrice"`
	Quantity  int         `json:"quantity"`
}

// Basket is a user's basket as the API shows it.
type Basket struct {
	Items []Item      `json:"items"`
	Total money.Money `json:"total"`
	// Merged are hashes of the guest baskets merged into this one.
	Merged []string `json:"merged,omitempty"`
}

// public is the basket as the API shows it (without the merge marks).
func (b Basket) public() Basket {
	b.Merged = nil
	return b
}

// withTotal returns b with its total computed from its lines.
func (b Basket) withTotal() Basket {
	if b.Items == nil {
		b.Items = []Item{}
	}
	b.Total = money.EUR(0)
	for _, it := range b.Items {
		b.Total, _ = b.Total.Plus(it.UnitPrice.Times(it.Quantity))
	}
	return b
}

// set puts quantity of item in the basket; 0 removes it.
func (b Basket) set(item Item) Basket {
	i := slices.IndexFunc(b.Items, func(it Item) bool { return it.ProductID == item.ProductID })
	switch {
	case item.Quantity == 0 && i >= 0:
		b.Items = slices.Delete(slices.Clone(b.Items), i, i+1)
	case item.Quantity == 0:
	case i >= 0:
		b.Items = slices.Clone(b.Items)
		b.Items[i] = item
	default:
		b.Items = append(slices.Clone(b.Items), item)
	}
	return b.withTotal()
}

// without takes the ordered quantities out of b.
func (b Basket) without(ordered []events.Line) Basket {
	items := make([]Item, 0, len(b.Items))
	for _, it := range b.Items {
		for _, l := range ordered {
			if l.ProductID == it.ProductID {
				it.Quantity -= l.Quantity
			}
		}
		if it.Quantity > 0 {
			items = append(items, it)
		}
	}
	b.Items = items
	return b.withTotal()
}

// ErrConflict means the basket changed between read and write.
var ErrConflict = errors.New("basket changed concurrently")

// Baskets stores baskets by user.
type Baskets interface {
	Get(ctx context.Context, user string) (Basket, string, error)
	Save(ctx context.Context, user string, b Basket, etag string) error
}

type sidecar interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
}

type basketStore struct {
	dapr  sidecar
	store string
}

func basketKey(user string) string { return "basket:" + user }

func (s *basketStore) Get(ctx context.Context, user string) (Basket, string, error) {
	item, err := s.dapr.GetState(ctx, s.store, basketKey(user), nil)
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
func (s *basketStore) Save(ctx context.Context, user string, b Basket, etag string) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	err = s.dapr.SaveStateWithETag(ctx, s.store, basketKey(user), data, etag, nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	if daprapp.IsETagMismatch(err) {
		return ErrConflict
	}
	if err != nil && etag == "" {
		// Two first writes of one basket race. Stores report the loser
		// differently (Redis: a script error, not an ETag error), so look:
		// if the basket exists now, this was a lost race, not a failure.
		if item, gerr := s.dapr.GetState(ctx, s.store, basketKey(user), nil); gerr == nil && item.Etag != "" {
			return ErrConflict
		}
	}
	if err != nil {
		return fmt.Errorf("save basket: %w", err)
	}
	return nil
}

// checkedOut reports whether an order was already placed from this basket.
func (s *basketStore) checkedOut(ctx context.Context, orderID string) (bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, "checkout:"+orderID, nil)
	if err != nil {
		return false, fmt.Errorf("read checkout: %w", err)
	}
	return len(item.Value) > 0, nil
}

func (s *basketStore) markCheckedOut(ctx context.Context, orderID string) error {
	return s.dapr.SaveStateWithETag(ctx, s.store, "checkout:"+orderID, []byte(`"accepted"`), "", nil)
}

// handled and markHandled remember the events basket has acted on.
func (s *basketStore) handled(ctx context.Context, key string) (bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, "handled:"+key, nil)
	if err != nil {
		return false, err
	}
	return len(item.Value) > 0, nil
}

func (s *basketStore) markHandled(ctx context.Context, key string) error {
	return s.dapr.SaveStateWithETag(ctx, s.store, "handled:"+key, []byte("1"), "", map[string]string{"ttlInSeconds": "604800"})
}
