package main

import (
	"testing"

	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/httpapi/httpapitest"
)

func FuzzCheckoutRequest(f *testing.F) {
	f.Add(`{"shippingAddress":{"name":"A","street":"1 Main St","city":"Lyon","postalCode":"69001","country":"FR"},"card":{"number":"4242 4242 4242 4242","expiry":"12/30","cvc":"123"}}`)
	f.Add(`{"card":{"number":"4000-0000-0000-0002","expiry":"1/30","cvc":"1234"}}`)
	f.Add(`{"shippingAddress":null,"card":{"number":"","expiry":"99/99","cvc":"abc"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		v, ok := httpapitest.Decode[CheckoutRequest](t, body)
		if ok && !card.Luhn(v.Card.Digits()) {
			t.Fatalf("accepted a card that fails the Luhn check: %q", v.Card.Number)
		}
	})
}

func FuzzQuantityUpdate(f *testing.F) {
	f.Add(`{"quantity":1}`)
	f.Add(`{"quantity":0}`)
	f.Add(`{"quantity":1e3}`)
	f.Add(`{"quantity":-1}`)
	f.Fuzz(func(t *testing.T, body string) {
		v, ok := httpapitest.Decode[QuantityUpdate](t, body)
		if ok && (*v.Quantity < 0 || *v.Quantity > MaxQuantity) {
			t.Fatalf("accepted quantity %d", *v.Quantity)
		}
	})
}
