// Package events is the contract of the events Bazaar's services exchange:
// topic names and payloads. A topic's first token names the domain that
// publishes it (the embedded broker's stream is built on that rule).
package events

import (
	"strings"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// PubSub is the Dapr pub/sub component every service publishes to.
const PubSub = "events"

// Topics.
const (
	// CheckoutAccepted is published by basket when a checkout passed its checks.
	CheckoutAccepted = "checkout.accepted"
	// OrderStatusChanged is published by ordering on every status change.
	OrderStatusChanged = "order.status-changed"
	// ProductChanged is published by catalog when a product's price or
	// stock changes.
	ProductChanged = "catalog.product-changed"
)

// Topics lists every topic. The embedded profile's broker keeps one stream
// per topic and per dead-letter topic (see internal/runner), so that each
// app's durable consumer of a topic is its own.
var Topics = []string{CheckoutAccepted, OrderStatusChanged, ProductChanged}

// DeadLetter is the topic where deliveries of topic end when they cannot be
// handled (a poison message).
func DeadLetter(topic string) string { return "deadletter." + topic }

// Line is one product of an order, or one variant of it.
type Line struct {
	ProductID string `json:"productId"`
	// SKU and Variant (its label) name the variant ordered; both are
	// empty for a product without variants.
	SKU       string      `json:"sku,omitempty"`
	Variant   string      `json:"variant,omitempty"`
	Name      string      `json:"name"`
	UnitPrice money.Money `json:"unitPrice"`
	Quantity  int         `json:"quantity"`
}

// Item is what the line orders: its SKU, or the product's id.
func (l Line) Item() string { return contracts.SKUOf(l.ProductID, l.SKU) }

// Title names the line for people: the product, and its variant if any.
func (l Line) Title() string {
	if l.Variant == "" {
		return l.Name
	}
	return l.Name + " (" + l.Variant + ")"
}

// Address is where an order goes.
type Address struct {
	Name       string `json:"name"`
	Street     string `json:"street"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Checkout is the payload of checkout.accepted. The card travels only as a
// token from payment; card numbers never enter an event.
type Checkout struct {
	OrderID   string      `json:"orderId"`
	UserID    string      `json:"userId"`
	Lines     []Line      `json:"lines"`
	Total     money.Money `json:"total"`
	Address   Address     `json:"shippingAddress"`
	CardToken string      `json:"cardToken"`
}

// Order statuses.
const (
	Submitted      = "submitted"
	AwaitingStock  = "awaiting_stock"
	StockConfirmed = "stock_confirmed"
	Paid           = "paid"
	Shipped        = "shipped"
	Cancelled      = "cancelled"
)

// Announced reports whether ordering publishes an order reaching status on
// order.status-changed: the statuses other services act on (basket empties
// the basket on submitted; notification writes on paid, cancelled and
// shipped). The steps in between stay in the order's history, which its
// page follows; announcing them cost every order two publishes and four
// deliveries that nobody used.
func Announced(status string) bool { return status != AwaitingStock && status != StockConfirmed }

// Reasons for a cancellation.
const (
	StockRejected = "stock_rejected"
	// PriceChanged: a line's price was not catalog's when its stock was
	// reserved (the price changed after checkout, or the event was forged).
	PriceChanged    = "price_changed"
	PaymentDeclined = "payment_declined"
	UserCancelled   = "user_cancelled"
	// CatalogUnavailable and PaymentUnavailable: the service stayed
	// unreachable past the saga's retry budget for a step; the order's
	// stock is released and any authorization voided.
	CatalogUnavailable = "catalog_unavailable"
	PaymentUnavailable = "payment_unavailable"
)

// ShortID is the part of an order id people read out: the order page and
// the e-mails show the same.
func ShortID(orderID string) string {
	if len(orderID) > 10 {
		orderID = orderID[:10]
	}
	return strings.ToUpper(orderID)
}

// ReasonText tells a customer why an order was cancelled (the order page
// and the cancellation e-mail say the same).
func ReasonText(reason string) string {
	switch reason {
	case PaymentDeclined:
		return "Your card was declined. Nothing was charged."
	case StockRejected:
		return "Some items sold out before we could set them aside. Nothing was charged."
	case PriceChanged:
		return "A price changed while you were checking out. Nothing was charged; please check your basket and order again."
	case UserCancelled:
		return "You cancelled this order."
	case CatalogUnavailable, PaymentUnavailable:
		return "We could not complete this order because part of our shop was unavailable. Nothing was charged; please try again."
	}
	return "We could not complete this order. Nothing was charged."
}

// StatusChange is the payload of order.status-changed.
type StatusChange struct {
	OrderID string `json:"orderId"`
	UserID  string `json:"userId"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Lines   []Line `json:"lines,omitempty"`
	At      string `json:"at"`
}

// Key identifies the change for consumers that must handle it once: a status
// is reached at most once per order.
func (c StatusChange) Key() string { return c.OrderID + "/" + c.Status }
