package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

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

// The add-to-cart form follows the variant: the default one without a
// sku, the one named, and a sold-out one cannot be added.
func TestAddToCartFollowsTheVariant(t *testing.T) {
	soldOut := knife
	soldOut.ID, soldOut.Variants = "knife2", slices.Clone(knife.Variants)
	for i := range soldOut.Variants {
		soldOut.Variants[i].SKU = "knife2." + strings.TrimPrefix(soldOut.Variants[i].SKU, "knife.")
	}
	soldOut.Variants[1].Stock = 0
	catalog := withKnife(newCatalog())
	catalog.products[soldOut.ID] = soldOut
	h := addToCartHandler(discard(), newFragments(), catalog)
	get := func(query string) *goquery.Document {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/fragments/add-to-cart?"+query, nil))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		doc, err := goquery.NewDocumentFromReader(w.Body)
		require.NoError(t, err)
		return doc
	}
	sku := func(doc *goquery.Document) string { return doc.Find(`input[name="sku"]`).AttrOr("value", "") }

	doc := get("id=knife&page=%2Fproducts%2Fknife")
	assert.Equal(t, "knife.15-cm", sku(doc), "the default variant")
	assert.Equal(t, "15 cm", doc.Find(".basket-add__choice").Text())
	root := doc.Find(`[data-fragment="add-to-cart"]`)
	assert.Equal(t, "catalog-variant-selected from:body", root.AttrOr("hx-trigger", ""))
	assert.Equal(t, "/fragments/basket/add-to-cart?id=knife&page=%2Fproducts%2Fknife", root.AttrOr("hx-get", ""))

	assert.Equal(t, "knife.24-cm", sku(get("id=knife&sku=knife.24-cm&page=%2F")))
	assert.Equal(t, "knife.15-cm", sku(get("id=knife&sku=headlamp&page=%2F")), "another product's SKU chooses the default")
	assert.Equal(t, "headlamp", sku(get("id=headlamp&page=%2F")), "a product without variants is its own SKU")

	out := get("id=knife2&sku=knife2.24-cm&page=%2F")
	_, disabled := out.Find(".basket-add__button").Attr("disabled")
	assert.True(t, disabled, "a sold-out variant cannot be added")
	assert.Equal(t, "Sold out for now.", out.Find(".basket-add__sold-out").Text())
}
