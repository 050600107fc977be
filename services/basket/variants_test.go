package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// knife comes in two lengths, each with its own price and stock.
var knife = contracts.Product{ID: "knife", Name: "Knife", Price: money.EUR(4500), Stock: 12, Variants: []contracts.Variant{
	{SKU: "knife.15-cm", Label: "15 cm", Price: money.EUR(4500), Stock: 10},
	{SKU: "knife.24-cm", Label: "24 cm", Price: money.EUR(8900), Stock: 2},
}}

func withKnife(c *fakeCatalog) *fakeCatalog {
	c.products[knife.ID] = knife
	return c
}

func TestVariantsInTheBasket(t *testing.T) {
	large := Item{ProductID: "knife", SKU: "knife.24-cm", Variant: "24 cm", Name: "Knife", UnitPrice: money.EUR(8900), Quantity: 1}
	small := Item{ProductID: "knife", SKU: "knife.15-cm", Variant: "15 cm", Name: "Knife", UnitPrice: money.EUR(4500), Quantity: 3}

	t.Run("each variant is its own line, at its own price", func(t *testing.T) {
		m := newMemBaskets()
		svc := &Service{baskets: m, catalog: withKnife(newCatalog())}
		a, err := svc.Add(t.Context(), "ann", "", "knife.24-cm", 1)
		require.NoError(t, err)
		assert.Equal(t, large, a.Item)
		_, err = svc.Add(t.Context(), "ann", "", "knife.15-cm", 3)
		require.NoError(t, err)
		_, err = svc.Add(t.Context(), "ann", "", "headlamp", 1)
		require.NoError(t, err)
		b, _, _ := m.Get(t.Context(), "ann")
		assert.Equal(t, []Item{large, small, headlamps(1)}, b.Items)
		assert.Equal(t, money.EUR(8900+3*4500+2900), b.Total)
		assert.Equal(t, "Knife (24 cm)", large.title())
	})
	t.Run("the variant's stock counts, not the product's", func(t *testing.T) {
		svc := &Service{baskets: newMemBaskets(), catalog: withKnife(newCatalog())}
		_, err := svc.Add(t.Context(), "ann", "", "knife.24-cm", 3)
		var stock *StockError
		require.ErrorAs(t, err, &stock)
		assert.Equal(t, &StockError{Stock: 2}, stock)
	})
	t.Run("a product with variants by its id: choose one", func(t *testing.T) {
		svc := &Service{baskets: newMemBaskets(), catalog: withKnife(newCatalog())}
		_, err := svc.Add(t.Context(), "ann", "", "knife", 1)
		var invalid *InvalidError
		require.ErrorAs(t, err, &invalid)
		assert.Equal(t, "choose a variant: knife.15-cm, knife.24-cm", invalid.Fields["sku"])
		status, code, fields := problemOf(problem(err))
		assert.Equal(t, 422, status)
		assert.Equal(t, "invalid_input", code)
		assert.Contains(t, fields, "sku")
	})
	t.Run("an unknown variant", func(t *testing.T) {
		svc := &Service{baskets: newMemBaskets(), catalog: withKnife(newCatalog())}
		_, err := svc.Add(t.Context(), "ann", "", "knife.30-cm", 1)
		require.ErrorIs(t, err, ErrUnknownProduct)
	})
	t.Run("set, change and remove one variant, leaving the other", func(t *testing.T) {
		m := newMemBaskets()
		seed(t, m, "ann", large, small)
		svc := &Service{baskets: m, catalog: withKnife(newCatalog())}
		_, err := svc.Set(t.Context(), "ann", "knife.24-cm", 2)
		require.NoError(t, err)
		_, err = svc.Change(t.Context(), "ann", "knife.15-cm", 1)
		require.NoError(t, err)
		b, _, _ := m.Get(t.Context(), "ann")
		assert.Equal(t, []int{2, 1}, []int{b.Items[0].Quantity, b.Items[1].Quantity})
		b, err = svc.Remove(t.Context(), "ann", "knife.24-cm")
		require.NoError(t, err)
		require.Len(t, b.Items, 1)
		assert.Equal(t, "knife.15-cm", b.Items[0].SKU)
	})
	t.Run("the ordered variant leaves the basket, the other stays", func(t *testing.T) {
		b := Basket{Items: []Item{large, small}}.withTotal()
		b = b.without([]events.Line{{ProductID: "knife", SKU: "knife.24-cm", Quantity: 1}})
		assert.Equal(t, []Item{small}, b.Items)
	})
	t.Run("checkout sends each line's SKU and the variant's price", func(t *testing.T) {
		w := newCheckoutWorld()
		withKnife(w.catalog)
		seed(t, w.baskets, "ann", large, small)
		_, err := w.svc.Checkout(t.Context(), "ann", "checkout-key-1", validCheckout())
		require.NoError(t, err)
		require.Len(t, w.pub.sent, 1)
		assert.Equal(t, []events.Line{
			{ProductID: "knife", SKU: "knife.24-cm", Variant: "24 cm", Name: "Knife", UnitPrice: money.EUR(8900), Quantity: 1},
			{ProductID: "knife", SKU: "knife.15-cm", Variant: "15 cm", Name: "Knife", UnitPrice: money.EUR(4500), Quantity: 3},
		}, w.pub.sent[0].Lines)
		assert.Equal(t, money.EUR(8900+3*4500), w.pub.sent[0].Total)
	})
}
