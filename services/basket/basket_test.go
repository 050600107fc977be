package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/limit"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// fakeCatalog answers from products, or with err for every product.
type fakeCatalog struct {
	products map[string]contracts.Product
	err      error
	asked    int
}

func (c *fakeCatalog) Product(_ context.Context, id string) (contracts.Product, error) {
	c.asked++
	if c.err != nil {
		return contracts.Product{}, c.err
	}
	p, ok := c.products[id]
	if !ok {
		return contracts.Product{}, ErrUnknownProduct
	}
	return p, nil
}

func newCatalog() *fakeCatalog {
	return &fakeCatalog{products: map[string]contracts.Product{
		"headlamp": {ID: "headlamp", Name: "Headlamp", Price: money.EUR(2900), Stock: 10},
		"blanket":  {ID: "blanket", Name: "Wool blanket", Price: money.EUR(9900), Stock: 3},
		"plenty":   {ID: "plenty", Name: "Plenty", Price: money.EUR(100), Stock: 1000},
	}}
}

func newMemBaskets() *memBaskets {
	return &memBaskets{items: map[string]Basket{}, etags: map[string]int{}}
}

// conflictingBaskets loses every write to another request.
type conflictingBaskets struct{ *memBaskets }

func (conflictingBaskets) Save(context.Context, string, Basket, string) error { return ErrConflict }

var (
	errCatalogDown = errors.Join(ErrCatalogUnavailable, errors.New("connection refused"))
	headlamps      = func(n int) Item {
		return Item{ProductID: "headlamp", Name: "Headlamp", UnitPrice: money.EUR(2900), Quantity: n}
	}
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// seed gives owner a basket of items.
func seed(t *testing.T, m *memBaskets, owner string, items ...Item) {
	t.Helper()
	require.NoError(t, m.Save(t.Context(), owner, Basket{Items: items}.withTotal(), ""))
}

func TestSetChangeRemove(t *testing.T) {
	tests := []struct {
		name      string
		start     []Item
		call      func(s *Service, ctx context.Context) (Basket, error)
		catalog   error
		want      []Item
		err       error
		fields    []string // of an *InvalidError
		stock     int      // of a *StockError
		noCatalog bool     // catalog must not be asked
	}{
		{name: "set adds a line with catalog's name and price",
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Set(ctx, "ann", "headlamp", 2) },
			want: []Item{headlamps(2)}},
		{name: "set replaces the quantity", start: []Item{headlamps(5)},
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Set(ctx, "ann", "headlamp", 2) },
			want: []Item{headlamps(2)}},
		{name: "set 0 takes the line out without asking catalog", start: []Item{headlamps(5)}, catalog: errCatalogDown,
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Set(ctx, "ann", "headlamp", 0) },
			want: []Item{}, noCatalog: true},
		{name: "set beyond stock", start: []Item{headlamps(1)},
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Set(ctx, "ann", "blanket", 4) },
			want: []Item{headlamps(1)}, stock: 3},
		{name: "set exactly the stock",
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Set(ctx, "ann", "blanket", 3) },
			want: []Item{{ProductID: "blanket", Name: "Wool blanket", UnitPrice: money.EUR(9900), Quantity: 3}}},
		{name: "set an unknown product",
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Set(ctx, "ann", "nope", 1) },
			want: []Item{}, err: ErrUnknownProduct},
		{name: "set while catalog is down", start: []Item{headlamps(1)}, catalog: errCatalogDown,
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Set(ctx, "ann", "headlamp", 2) },
			want: []Item{headlamps(1)}, err: ErrCatalogUnavailable},
		{name: "set more than a basket holds",
			call: func(s *Service, ctx context.Context) (Basket, error) {
				return s.Set(ctx, "ann", "plenty", MaxQuantity+1)
			},
			want: []Item{}, fields: []string{"quantity"}, noCatalog: true},
		{name: "set a negative quantity",
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Set(ctx, "ann", "headlamp", -1) },
			want: []Item{}, fields: []string{"quantity"}, noCatalog: true},
		{name: "change a line", start: []Item{headlamps(1)},
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Change(ctx, "ann", "headlamp", 4) },
			want: []Item{headlamps(4)}},
		{name: "change leaves out a product not in the basket", start: []Item{headlamps(1)},
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Change(ctx, "ann", "blanket", 1) },
			want: []Item{headlamps(1)}},
		{name: "change beyond stock", start: []Item{headlamps(1)},
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Change(ctx, "ann", "headlamp", 11) },
			want: []Item{headlamps(1)}, stock: 10},
		{name: "remove", start: []Item{headlamps(1)}, catalog: errCatalogDown,
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Remove(ctx, "ann", "headlamp") },
			want: []Item{}, noCatalog: true},
		{name: "remove what is not there",
			call: func(s *Service, ctx context.Context) (Basket, error) { return s.Remove(ctx, "ann", "headlamp") },
			want: []Item{}, noCatalog: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, cat := newMemBaskets(), newCatalog()
			cat.err = tt.catalog
			if tt.start != nil {
				seed(t, m, "ann", tt.start...)
			}
			svc := &Service{baskets: m, catalog: cat}
			b, err := tt.call(svc, t.Context())
			var invalid *InvalidError
			var stock *StockError
			switch {
			case tt.err != nil:
				require.ErrorIs(t, err, tt.err)
			case tt.fields != nil:
				require.ErrorAs(t, err, &invalid)
				assert.ElementsMatch(t, tt.fields, keys(invalid.Fields))
			case tt.stock != 0:
				require.ErrorAs(t, err, &stock)
				assert.Equal(t, tt.stock, stock.Stock)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, b.Items, "the answer")
			}
			stored, _, err := m.Get(t.Context(), "ann")
			require.NoError(t, err)
			assert.Equal(t, tt.want, stored.Items, "the stored basket")
			assert.Equal(t, Basket{Items: tt.want}.withTotal().Total, stored.Total)
			if tt.noCatalog {
				assert.Zero(t, cat.asked, "catalog was asked")
			}
		})
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name    string
		start   []Item
		product string
		n       int
		want    []Item
		err     error
		stock   *StockError
		limit   *LimitError
		invalid bool
	}{
		{name: "to an empty basket", product: "headlamp", n: 2, want: []Item{headlamps(2)}},
		{name: "on top of what it holds", start: []Item{headlamps(3)}, product: "headlamp", n: 2, want: []Item{headlamps(5)}},
		{name: "beyond stock, counting what it holds", start: []Item{headlamps(9)}, product: "headlamp", n: 2,
			want: []Item{headlamps(9)}, stock: &StockError{Stock: 10, InCart: 9}},
		{name: "beyond what a basket holds", start: []Item{{ProductID: "plenty", Name: "Plenty", UnitPrice: money.EUR(100), Quantity: 98}},
			product: "plenty", n: 2, want: []Item{{ProductID: "plenty", Name: "Plenty", UnitPrice: money.EUR(100), Quantity: 98}},
			limit: &LimitError{InCart: 98}},
		{name: "nothing", product: "headlamp", n: 0, want: []Item{}, invalid: true},
		{name: "more than a line holds", product: "plenty", n: 100, want: []Item{}, invalid: true},
		{name: "an unknown product", product: "nope", n: 1, want: []Item{}, err: ErrUnknownProduct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemBaskets()
			if tt.start != nil {
				seed(t, m, "ann", tt.start...)
			}
			svc := &Service{baskets: m, catalog: newCatalog()}
			a, err := svc.Add(t.Context(), "ann", "", tt.product, tt.n)
			var stock *StockError
			var limit *LimitError
			var invalid *InvalidError
			switch {
			case tt.err != nil:
				require.ErrorIs(t, err, tt.err)
			case tt.stock != nil:
				require.ErrorAs(t, err, &stock)
				assert.Equal(t, tt.stock, stock)
			case tt.limit != nil:
				require.ErrorAs(t, err, &limit)
				assert.Equal(t, tt.limit, limit)
			case tt.invalid:
				require.ErrorAs(t, err, &invalid)
				assert.Contains(t, invalid.Fields, "quantity")
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want[0], a.Item)
				assert.Empty(t, a.Guest, "a user needs no guest basket")
			}
			stored, _, _ := m.Get(t.Context(), "ann")
			assert.Equal(t, tt.want, stored.Items)
		})
	}
}

func TestAddStartsAGuestBasket(t *testing.T) {
	m := newMemBaskets()
	svc := &Service{baskets: m, catalog: newCatalog()}
	ctx := t.Context()

	_, err := svc.Add(ctx, "", "", "blanket", 4)
	require.Error(t, err)
	assert.Empty(t, m.items, "a refused addition starts no basket")

	a, err := svc.Add(ctx, "", "", "headlamp", 1)
	require.NoError(t, err)
	require.True(t, validGuestID(a.Guest), "guest id %q", a.Guest)
	b, err := svc.Basket(ctx, guestOwner(a.Guest))
	require.NoError(t, err)
	assert.Equal(t, []Item{headlamps(1)}, b.Items)

	again, err := svc.Add(ctx, "", "", "headlamp", 1)
	require.NoError(t, err)
	assert.NotEqual(t, a.Guest, again.Guest, "every visitor gets a basket of their own")
}

func TestGuestBasketsPerClientAreLimited(t *testing.T) {
	m := newMemBaskets()
	svc := &Service{guests: limit.New(time.Minute, map[string]int{"client": 2}, limit.NewMemory()), baskets: m, catalog: newCatalog()}
	ctx := t.Context()
	_, err := svc.Add(ctx, "", "10.0.0.1", "blanket", 4)
	require.Error(t, err, "too many blankets")
	for range 2 {
		_, err := svc.Add(ctx, "", "10.0.0.1", "headlamp", 1)
		require.NoError(t, err, "a refused addition did not use up a basket")
	}
	_, err = svc.Add(ctx, "", "10.0.0.1", "headlamp", 1)
	assert.ErrorIs(t, err, ErrTooManyGuests)
	assert.Len(t, m.items, 2, "no third basket")
	_, err = svc.Add(ctx, "", "10.0.0.2", "headlamp", 1)
	assert.NoError(t, err, "another client has its own allowance")
	_, err = svc.Add(ctx, "ann", "10.0.0.1", "headlamp", 1)
	assert.NoError(t, err, "a signed-in user is not starting a guest basket")
	msg, ok := refusal(ErrTooManyGuests, 1)
	assert.True(t, ok)
	assert.Contains(t, msg, "Sign in")
}

func TestBasketOfNobodyIsEmpty(t *testing.T) {
	svc := &Service{baskets: newMemBaskets()}
	b, err := svc.Basket(t.Context(), "")
	require.NoError(t, err)
	assert.Equal(t, []Item{}, b.Items)
	assert.Equal(t, money.EUR(0), b.Total)
}

func TestUpdateGivesUpOnEndlessConflicts(t *testing.T) {
	svc := &Service{baskets: conflictingBaskets{newMemBaskets()}, catalog: newCatalog()}
	_, err := svc.Set(t.Context(), "ann", "headlamp", 1)
	assert.ErrorIs(t, err, ErrConflict)
}

func TestMergeGuest(t *testing.T) {
	ctx := t.Context()
	t.Run("capped at what a line holds", func(t *testing.T) {
		m := newMemBaskets()
		seed(t, m, "guest:g", Item{ProductID: "plenty", Name: "Plenty", UnitPrice: money.EUR(100), Quantity: 60})
		seed(t, m, "u1", Item{ProductID: "plenty", Name: "Plenty", UnitPrice: money.EUR(100), Quantity: 60}, headlamps(1))
		require.NoError(t, (&Service{baskets: m}).MergeGuest(ctx, "guest:g", "u1"))
		b, _, _ := m.Get(ctx, "u1")
		assert.Equal(t, MaxQuantity, b.quantity("plenty"))
		assert.Equal(t, 1, b.quantity("headlamp"))
		assert.Equal(t, MaxQuantity+1, b.count())
		assert.Nil(t, b.public().Merged, "the merge marks are not shown")
	})
	t.Run("an empty guest basket changes nothing", func(t *testing.T) {
		m := newMemBaskets()
		seed(t, m, "u1", headlamps(1))
		require.NoError(t, (&Service{baskets: m}).MergeGuest(ctx, "guest:none", "u1"))
		b, etag, _ := m.Get(ctx, "u1")
		assert.Equal(t, []Item{headlamps(1)}, b.Items)
		assert.Equal(t, "1", etag, "not written")
	})
}
