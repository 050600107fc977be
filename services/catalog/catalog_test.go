package main

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/money"
)

func TestCatalogPage(t *testing.T) {
	c := Catalog{products: newFakeProducts()}
	for _, tt := range []struct {
		name   string
		q      Query
		fields []string
	}{
		{"page past the end of int64's reach", Query{Page: 768614336404564652, PageSize: 12}, []string{"page"}},
		{"the largest int", Query{Page: math.MaxInt, PageSize: math.MaxInt}, []string{"page", "pageSize"}},
		{"page 0", Query{Page: 0, PageSize: 12}, []string{"page"}},
		{"negative page size", Query{Page: 1, PageSize: -5}, []string{"pageSize"}},
		{"an unknown category", Query{Category: "weapons", Page: 1, PageSize: 12}, []string{"category"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Page(context.Background(), tt.q)
			var bad *BadQueryError
			require.ErrorAs(t, err, &bad)
			for _, f := range tt.fields {
				assert.Contains(t, bad.Fields, f)
			}
		})
	}
	page, err := c.Page(context.Background(), Query{Page: maxPage, PageSize: maxPageSize})
	require.NoError(t, err)
	assert.Empty(t, page.Items, "the last page there can be is empty, not a crash")
	page, err = c.Page(context.Background(), Query{Text: "  Enamel ", Page: 1, PageSize: 12})
	require.NoError(t, err)
	assert.Equal(t, 2, page.Total, "search ignores case and spaces")
}

func TestPageBounds(t *testing.T) {
	for _, tt := range []struct {
		name           string
		n, page, size  int
		wantFrom, upTo int
	}{
		{"first page", 24, 1, 12, 0, 12},
		{"last, partial page", 24, 5, 5, 20, 24},
		{"just past the end", 24, 3, 12, 0, 0},
		{"issue 11's page", 24, 768614336404564652, 12, 0, 0},
		{"issue 11's page, largest size", 24, 768614336404564652, math.MaxInt, 0, 0},
		{"the largest int", 24, math.MaxInt, math.MaxInt, 0, 0},
		{"the largest page of 1", math.MaxInt, math.MaxInt, 1, math.MaxInt - 1, math.MaxInt},
		{"the largest size", 24, 1, math.MaxInt, 0, 24},
		{"nothing to show", 0, 1, 12, 0, 0},
		{"page 0", 24, 0, 12, 0, 0},
		{"the smallest int", 24, math.MinInt, math.MinInt, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			from, to := pageBounds(tt.n, tt.page, tt.size)
			assert.Equal(t, [2]int{tt.wantFrom, tt.upTo}, [2]int{from, to})
		})
	}
}

func TestCatalogEdits(t *testing.T) {
	stock := func(n int) *int { return &n }
	good := ProductInput{Name: "Garden Hose", Category: "garden", Price: money.EUR(3900), Stock: stock(7)}

	t.Run("stock is required, 0 is not missing", func(t *testing.T) {
		c := Catalog{products: newFakeProducts()}
		in := good
		in.Stock = nil
		_, _, err := c.Create(context.Background(), in)
		var invalid *InvalidError
		require.ErrorAs(t, err, &invalid)
		assert.Equal(t, "is required", invalid.Fields["stock"])
		in.Stock = stock(0)
		_, _, err = c.Create(context.Background(), in)
		assert.NoError(t, err)
	})
	t.Run("every rule, for the API and the admin form alike", func(t *testing.T) {
		c := Catalog{products: newFakeProducts()}
		bad := ProductInput{Name: " ", Category: "toys", Price: money.Money{Amount: 0, Currency: "USD"}, Stock: stock(maxStock + 1)}
		_, _, err := c.Update(context.Background(), "headlamp", "1", bad)
		var invalid *InvalidError
		require.ErrorAs(t, err, &invalid)
		assert.ElementsMatch(t, []string{"name", "category", "price.amount", "price.currency", "stock"}, keys(invalid.Fields))
	})
	t.Run("an update keeps the stock held for orders", func(t *testing.T) {
		f := newFakeProducts()
		p := f.items["headlamp"]
		p.Holds = map[string]int{"order-1": 2}
		f.items["headlamp"] = p
		c := Catalog{products: f}
		in := inputOf(p)
		in.Price = money.EUR(4200)
		_, _, err := c.Update(context.Background(), "headlamp", "1", in)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"order-1": 2}, f.items["headlamp"].Holds)
		assert.Equal(t, int64(4200), f.items["headlamp"].Price.Amount)
	})
	t.Run("a name must give an id", func(t *testing.T) {
		c := Catalog{products: newFakeProducts()}
		in := good
		in.Name = "★ ★"
		_, _, err := c.Create(context.Background(), in)
		var invalid *InvalidError
		require.ErrorAs(t, err, &invalid)
		assert.Contains(t, invalid.Fields, "name")
	})
	t.Run("a taken name is refused", func(t *testing.T) {
		c := Catalog{products: newFakeProducts()}
		in := good
		in.Name = " Headlamp "
		_, _, err := c.Create(context.Background(), in)
		assert.ErrorIs(t, err, ErrExists)
	})
	t.Run("price and stock alone, under the same rules", func(t *testing.T) {
		f := newFakeProducts()
		c := Catalog{products: f}
		for _, tt := range []struct {
			name   string
			price  int64
			stock  int
			fields []string
		}{
			{"nothing", 0, 1, []string{"price.amount"}},
			{"too dear", maxPriceCents + 1, 1, []string{"price.amount"}},
			{"too many", 100, maxStock + 1, []string{"stock"}},
			{"negative stock", 100, -1, []string{"stock"}},
		} {
			_, _, err := c.SetPriceAndStock(context.Background(), "headlamp", "1", money.EUR(tt.price), tt.stock)
			var invalid *InvalidError
			require.ErrorAs(t, err, &invalid, tt.name)
			assert.ElementsMatch(t, tt.fields, keys(invalid.Fields), tt.name)
		}
		assert.Zero(t, f.saves)
		got, etag, err := c.SetPriceAndStock(context.Background(), "headlamp", "1", money.EUR(maxPriceCents), 0)
		require.NoError(t, err)
		assert.Equal(t, "11", etag)
		assert.Equal(t, "Headlamp", got.Name, "the rest is kept")
		assert.Equal(t, money.EUR(maxPriceCents), f.items["headlamp"].Price)
		assert.Zero(t, f.items["headlamp"].Stock)
		_, _, err = c.SetPriceAndStock(context.Background(), "headlamp", "1", money.EUR(100), 1)
		assert.ErrorIs(t, err, ErrConflict, "the version read before the save is stale now")
		_, _, err = c.SetPriceAndStock(context.Background(), "nope", "1", money.EUR(100), 1)
		assert.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("a stale version loses", func(t *testing.T) {
		c := Catalog{products: newFakeProducts()}
		_, _, err := c.Update(context.Background(), "headlamp", "0", inputOf(c.products.(*fakeProducts).items["headlamp"]))
		assert.ErrorIs(t, err, ErrConflict)
	})
}

func TestCatalogRecommend(t *testing.T) {
	c := Catalog{products: newFakeProducts()}
	picks, err := c.Recommend(context.Background(), "headlamp", "", 4)
	require.NoError(t, err)
	require.Len(t, picks, 4)
	for _, p := range picks {
		assert.NotEqual(t, "headlamp", p.ID)
		assert.NotZero(t, p.Stock, "nothing sold out")
	}
	assert.Equal(t, "outdoor", picks[0].Category, "the same category first")
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
