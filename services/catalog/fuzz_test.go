package main

import (
	"strings"
	"testing"

	"github.com/bazaar-shop/bazaar/internal/httpapi/httpapitest"
)

func FuzzProductInput(f *testing.F) {
	f.Add(`{"name":"Headlamp","description":"","category":"outdoor","price":{"amount":3100,"currency":"EUR"},"stock":3}`)
	f.Add(`{"name":"<script>","category":"garden","price":{"amount":1,"currency":"EUR"},"stock":0}`)
	f.Fuzz(func(t *testing.T, body string) {
		v, ok := httpapitest.Decode[ProductInput](t, body)
		if ok && (v.Price.Amount <= 0 || v.Stock == nil || *v.Stock < 0 || strings.TrimSpace(v.Name) == "") {
			t.Fatalf("accepted %+v", v)
		}
	})
}

func FuzzReservation(f *testing.F) {
	f.Add(`{"orderId":"o1","lines":[{"productId":"headlamp","quantity":2}]}`)
	f.Add(`{"orderId":"o1","lines":[{"productId":"a","quantity":1},{"productId":"a","quantity":1}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		v, ok := httpapitest.Decode[ReservationRequest](t, body)
		if !ok {
			return
		}
		seen := map[string]bool{}
		for _, l := range v.Lines {
			if l.Quantity < 1 || seen[l.ProductID] {
				t.Fatalf("accepted %+v", v)
			}
			seen[l.ProductID] = true
		}
	})
}
