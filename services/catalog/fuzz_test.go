package main

import (
	"strings"
	"testing"

	"github.com/bazaar-shop/bazaar/internal/httpapi/httpapitest"
	"github.com/bazaar-shop/bazaar/internal/money"
)

func FuzzProductInput(f *testing.F) {
	f.Add(`{"name":"Headlamp","description":"","category":"outdoor","price":{"amount":3100,"currency":"EUR"},"stock":3}`)
	f.Add(`{"name":"<script>","category":"garden","price":{"amount":1,"currency":"EUR"},"stock":0}`)
	f.Add(`{"name":"Chef's Knife","category":"kitchen","variants":[` +
		`{"label":"18 cm","price":{"amount":5900,"currency":"EUR"},"stock":4},` +
		`{"label":"24 cm","price":{"amount":7400,"currency":"EUR"},"stock":0}]}`)
	f.Add(`{"name":"Gloves","category":"garden","price":{"amount":900,"currency":"EUR"},"stock":2,` +
		`"variants":[{"label":"M","price":{"amount":900,"currency":"EUR"},"stock":1}]}`)
	f.Add(`{"name":"Gloves","category":"garden","variants":[{"label":"M","price":{"amount":900,"currency":"EUR"},"stock":1},` +
		`{"label":"m","price":{"amount":900,"currency":"EUR"},"stock":1}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		v, ok := httpapitest.Decode[ProductInput](t, body)
		if !ok {
			return
		}
		if strings.TrimSpace(v.Name) == "" {
			t.Fatalf("accepted a product without a name: %+v", v)
		}
		if len(v.Variants) == 0 {
			if !sellable(v.Price, v.Stock) {
				t.Fatalf("accepted a product without variants, price or stock: %+v", v)
			}
			return
		}
		// A product with variants has no price or stock of its own: each
		// variant has them, under a label of its own.
		if v.Price != (money.Money{}) || v.Stock != nil || len(v.Variants) > maxVariants {
			t.Fatalf("accepted variants beside a price or stock of the product's own: %+v", v)
		}
		labels := map[string]bool{}
		for _, variant := range v.Variants {
			part := slug(variant.Label)
			if part == "" || labels[part] || !sellable(variant.Price, variant.Stock) {
				t.Fatalf("accepted variant %+v of %+v", variant, v)
			}
			labels[part] = true
		}
	})
}

// sellable is what a price and a stock must be for anything that is sold.
func sellable(price money.Money, stock *int) bool {
	return price.Currency == "EUR" && price.Amount > 0 && stock != nil && *stock >= 0
}

func FuzzReservation(f *testing.F) {
	f.Add(`{"orderId":"o1","lines":[{"productId":"headlamp","quantity":2}]}`)
	f.Add(`{"orderId":"o1","lines":[{"productId":"a","quantity":1},{"productId":"a","quantity":1}]}`)
	// Two variants of one product in one order are two lines, and valid.
	f.Add(`{"orderId":"o1","lines":[{"productId":"chefs-knife","sku":"chefs-knife.18-cm","quantity":1},` +
		`{"productId":"chefs-knife","sku":"chefs-knife.24-cm","quantity":2}]}`)
	f.Add(`{"orderId":"o1","lines":[{"productId":"chefs-knife","sku":"chefs-knife.18-cm","quantity":1},` +
		`{"productId":"chefs-knife","sku":"chefs-knife.18-cm","quantity":1}]}`)
	f.Add(`{"orderId":"o1","lines":[{"productId":"headlamp","sku":"chefs-knife.18-cm","quantity":1}]}`)
	f.Add(`{"orderId":"o1","lines":[{"productId":"headlamp","quantity":1},{"productId":"headlamp","sku":"headlamp","quantity":1}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		v, ok := httpapitest.Decode[ReservationRequest](t, body)
		if !ok {
			return
		}
		if v.OrderID == "" || len(v.Lines) == 0 {
			t.Fatalf("accepted a reservation without an order or lines: %+v", v)
		}
		// Each line holds one thing sold: a variant's SKU, or a product
		// without variants by its id. The same thing twice is refused,
		// two variants of one product are not.
		held := map[string]bool{}
		for _, l := range v.Lines {
			item := l.ProductID
			if l.SKU != "" {
				item = l.SKU
				if base, _, _ := strings.Cut(l.SKU, "."); base != l.ProductID {
					t.Fatalf("accepted SKU %q for product %q: %+v", l.SKU, l.ProductID, v)
				}
			}
			if l.Quantity < 1 || held[item] {
				t.Fatalf("accepted %+v", v)
			}
			held[item] = true
		}
	})
}
