package main

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/assert"

	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/fragment/fragmenttest"
	"github.com/bazaar-shop/bazaar/internal/money"
)

func hostileOrder(status string) Order {
	return Order{ID: "0123456789abcdef01234567", UserID: "u1", Status: status, Total: money.EUR(5800),
		Lines:     []events.Line{{ProductID: "evil", Name: fragmenttest.Hostile, UnitPrice: money.EUR(2900), Quantity: 2}},
		CreatedAt: "2026-11-26T10:00:00Z",
		History:   []Step{{Status: events.Submitted, At: "2026-11-26T10:00:00Z"}, {Status: status, At: "2026-11-26T10:00:01.5Z"}}}
}

func TestFragmentsRender(t *testing.T) {
	t.Run("checkout form signed out", func(t *testing.T) {
		doc := fragmenttest.Render(t, checkoutFormFragment(checkoutView{Page: "/checkout"}), "ordering", "checkout-form")
		assert.Zero(t, doc.Find("form").Length())
		assert.Equal(t, 1, doc.Find(`a[href="/sign-in?return=/checkout"]`).Length())
	})
	t.Run("checkout form keeps the address, never the card number", func(t *testing.T) {
		v := checkoutView{Page: "/checkout", Key: "k-12345678", SignedIn: true,
			Values: map[string]string{"name": fragmenttest.Hostile, "street": "1 Rue", "cardExpiry": "1/20"},
			Errors: map[string]string{"cardExpiry": "must be a month in the future", "form": "Please correct the fields marked below."}}
		doc := fragmenttest.Render(t, checkoutFormFragment(v), "ordering", "checkout-form")
		assert.Equal(t, fragmenttest.Hostile, doc.Find("#ordering-name").AttrOr("value", ""))
		assert.Equal(t, "", doc.Find("#ordering-cardNumber").AttrOr("value", ""))
		assert.Equal(t, "k-12345678", doc.Find(`input[name="key"]`).AttrOr("value", ""), "a retried post places one order")
		assert.Equal(t, "true", doc.Find("#ordering-cardExpiry").AttrOr("aria-invalid", ""))
		assert.Contains(t, doc.Find("#ordering-cardExpiry-error").Text(), "must be a month in the future")
		assert.Equal(t, "/checkout", doc.Find("form").AttrOr("action", ""))
		doc.Find("input:not([type=hidden])").Each(func(_ int, s *goquery.Selection) {
			assert.Equal(t, 1, doc.Find(`label[for="`+s.AttrOr("id", "")+`"]`).Length(), "every input has a label")
		})
	})
	t.Run("confirmation", func(t *testing.T) {
		doc := fragmenttest.Render(t, confirmationFragment(hostileOrder(events.Submitted)), "ordering", "order-confirmation")
		assert.Equal(t, "0123456789", doc.Find(".ordering-confirmation__id").Text())
	})
	t.Run("a status in progress asks for the next, with what it saw", func(t *testing.T) {
		doc := fragmenttest.Render(t, orderStatusFragment(hostileOrder(events.StockConfirmed), true), "ordering", "order-status")
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		root := doc.Find(`[data-fragment="order-status"]`)
		assert.Equal(t, "/fragments/ordering/order-status?id=0123456789abcdef01234567&seen=stock_confirmed", root.AttrOr("hx-get", ""))
		assert.Equal(t, "load, every 10s", root.AttrOr("hx-trigger", ""), "asks at once; the answer waits for a change (a long poll)")
		assert.Equal(t, 1, doc.Find(".ordering-status__refresh a").Length(), "without JavaScript: a Refresh link")
		assert.Equal(t, "10:00:01 UTC", doc.Find(".ordering-status__step time").Last().Text())
	})
	t.Run("a settled status stops polling", func(t *testing.T) {
		o := hostileOrder(events.Cancelled)
		o.Reason = events.PaymentDeclined
		doc := fragmenttest.Render(t, orderStatusFragment(o, true), "ordering", "order-status")
		assert.Equal(t, "", doc.Find(`[data-fragment="order-status"]`).AttrOr("hx-get", ""))
		assert.Equal(t, "cancelled", doc.Find("[data-status]").AttrOr("data-status", ""))
		assert.Contains(t, doc.Find(".ordering-status__reason").Text(), "declined")
	})
	t.Run("an order not created yet", func(t *testing.T) {
		doc := fragmenttest.Render(t, orderStatusFragment(Order{ID: "abcdefgh12", Status: "received"}, false), "ordering", "order-status")
		assert.Contains(t, doc.Text(), "Received, being confirmed")
		assert.Zero(t, doc.Find(".ordering-status__lines li").Length())
	})
	t.Run("history", func(t *testing.T) {
		list := []Summary{{ID: "0123456789abcdef01234567", Status: events.Paid, Total: money.EUR(100), CreatedAt: "2026-11-26T10:00:00Z"}}
		doc := fragmenttest.Render(t, orderHistoryFragment(list), "ordering", "order-history")
		assert.Equal(t, "Paid", strings.TrimSpace(doc.Find(".ordering-status__badge").Text()))
		assert.Equal(t, "26 Nov 2026, 10:00", doc.Find("time").Text())
		empty := fragmenttest.Render(t, orderHistoryFragment(nil), "ordering", "order-history")
		assert.Contains(t, empty.Text(), "No orders yet")
	})
	t.Run("admin orders ship only paid ones", func(t *testing.T) {
		list := []Summary{{ID: "aaaaaaaaaaaa", Status: events.Paid}, {ID: "bbbbbbbbbbbb", Status: events.Shipped}}
		doc := fragmenttest.Render(t, adminOrdersFragment(list, "/admin", fragmenttest.Hostile), "ordering", "admin-orders")
		assert.Equal(t, 1, doc.Find("form").Length())
		assert.Equal(t, "aaaaaaaaaaaa", doc.Find(`form input[name="id"]`).AttrOr("value", ""))
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
	})
}
