// Package contracts is the contract of the synchronous calls between
// Bazaar's services (Dapr service invocation): app ids, method paths and the
// bodies, used by the caller and the callee alike, so the two cannot drift.
// What services publish on the event bus is in internal/events; what the
// public API promises is api/openapi.yaml.
package contracts

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// App ids, as in compose.yaml and dapr/config.yaml.
const (
	CatalogApp  = "catalog"
	BasketApp   = "basket"
	OrderingApp = "ordering"
	PaymentApp  = "payment"
	IdentityApp = "identity"
)

// Invoker calls an app over HTTP service invocation: req's URL holds only
// the method path (e.g. "/products/x"). daprapp.Invoker implements it with
// the app's sidecar; unit tests with a fake.
type Invoker interface {
	Do(ctx context.Context, appID string, req *http.Request) (*http.Response, error)
}

// SessionCookie is the identity service's session cookie. The gateway turns
// it into a bearer token for the services behind it.
const SessionCookie = "identity_session"

// IdempotencyKeyHeader carries a client's key for a request that must take
// effect once (a checkout).
const IdempotencyKeyHeader = "Idempotency-Key"

var idempotencyKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// ValidIdempotencyKey reports whether key is 8 to 64 letters, digits, - or _.
func ValidIdempotencyKey(key string) bool { return idempotencyKeyRE.MatchString(key) }

// ---- catalog (HTTP) ----

// Product is a product as catalog shows it: GET /products/{id}.
type Product struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Category    string      `json:"category"`
	Price       money.Money `json:"price"`
	ImageURL    string      `json:"imageUrl"`
	// Price and Stock of a product with variants are its lowest price
	// and its variants' stock together: what a listing shows.
	Stock int `json:"stock"`
	// Variants, when a product has any, are what is ordered (each by its
	// SKU); a product without variants is ordered by its id.
	Variants []Variant `json:"variants,omitempty"`
}

// Variant is one way a product comes (a size, a colour), with its own SKU,
// price and stock.
type Variant struct {
	SKU   string      `json:"sku"`
	Label string      `json:"label"`
	Price money.Money `json:"price"`
	Stock int         `json:"stock"`
}

// VariantSKU names a product's variant: the product's id, a dot and the
// variant's own part. Product ids have no dot, so the product of a SKU is
// known from the SKU alone (ProductOfSKU).
func VariantSKU(productID, part string) string { return productID + "." + part }

// SKUOf is what a line orders: its SKU, or, for a product without variants
// (sku ""), the product's id. Basket lines, checkout lines and reservation
// lines all say it this way.
func SKUOf(productID, sku string) string {
	if sku != "" {
		return sku
	}
	return productID
}

// ProductOfSKU is the id of the product a SKU belongs to. A product without
// variants is its own SKU.
func ProductOfSKU(sku string) string {
	id, _, _ := strings.Cut(sku, ".")
	return id
}

// Variant is what sku orders of p: one of its variants, or, for a product
// without variants, the product itself (sku is its id). ok is false when
// sku names nothing p sells; a product with variants is ordered only by a
// variant's SKU.
func (p Product) Variant(sku string) (v Variant, ok bool) {
	if len(p.Variants) == 0 {
		return Variant{SKU: p.ID, Price: p.Price, Stock: p.Stock}, sku == p.ID
	}
	for _, v := range p.Variants {
		if v.SKU == sku {
			return v, true
		}
	}
	return Variant{}, false
}

// ProductPath is the method path of one product.
func ProductPath(id string) string { return "/products/" + url.PathEscape(id) }

// Reservation holds stock for an order while it is being paid for:
// POST ReservationsPath with the order and its lines answers the
// reservation with its status.
type Reservation struct {
	OrderID string            `json:"orderId"`
	Status  string            `json:"status,omitempty"`
	Reason  string            `json:"reason,omitempty"` // why a reservation was rejected
	Lines   []ReservationLine `json:"lines"`
}

// DefaultVariant is the variant a product page shows first: the first in
// stock, else the first; for a product without variants, the product.
func (p Product) DefaultVariant() Variant {
	if len(p.Variants) == 0 {
		v, _ := p.Variant(p.ID)
		return v
	}
	for _, v := range p.Variants {
		if v.Stock > 0 {
			return v
		}
	}
	return p.Variants[0]
}

// ReservationLine is one product (or one variant of it) and how many to
// hold.
type ReservationLine struct {
	ProductID string `json:"productId"`
	// SKU is the variant to hold, for a product with variants ("" or the
	// product's id for one without).
	SKU      string `json:"sku,omitempty"`
	Quantity int    `json:"quantity"`
	// UnitPrice, when given, is the price the customer was shown: a
	// product whose price is no longer that is not held (PriceChanged).
	UnitPrice *money.Money `json:"unitPrice,omitempty"`
}

// Item is what the line orders: its SKU, or the product's id.
func (l ReservationLine) Item() string { return SKUOf(l.ProductID, l.SKU) }

// Reservation statuses.
const (
	Reserved  = "reserved"
	Rejected  = "rejected" // not enough stock: nothing is held
	Released  = "released" // the stock is back on the shelf
	Committed = "committed"
)

// Why a reservation is rejected.
const (
	OutOfStock     = "out_of_stock"    // a line's product has too little stock
	UnknownProduct = "unknown_product" // a line's product does not exist
	PriceChanged   = "price_changed"   // a line's price is not the product's
)

// ReservationsPath takes new reservations.
const ReservationsPath = "/reservations"

// CommitPath makes a reservation final (the order is paid); ReleasePath puts
// its stock back. Both are idempotent and answer 200 without a body.
func CommitPath(orderID string) string {
	return ReservationsPath + "/" + url.PathEscape(orderID) + "/commit"
}
func ReleasePath(orderID string) string {
	return ReservationsPath + "/" + url.PathEscape(orderID) + "/release"
}

// ---- identity ----

// ContactPath is where identity answers a customer's address and name
// (GET, answers Contact), for the notification service only.
func ContactPath(userID string) string { return "/users/" + url.PathEscape(userID) + "/contact" }

// Contact is how to reach a customer.
type Contact struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// SignedOutPath lists the sessions signed out before their tokens expired
// (GET, answers SignedOut), for every verifier of tokens.
const SignedOutPath = "/sessions/signed-out"

// SignedOut are the ids (jti) of sessions signed out whose tokens have not
// expired yet.
type SignedOut struct {
	Sessions []string `json:"sessions"`
}

// ---- payment (gRPC) ----

// Payment's methods.
const (
	Tokenize  = "tokenize"  // TokenizeRequest → TokenizeResult
	Authorize = "authorize" // AuthorizeRequest → Authorization
	Void      = "void"      // VoidRequest → Authorization
)

// TokenizeRequest asks for a token for a card, for one order: payment
// authorizes that token for that order only, so a token taken from one
// checkout cannot pay for another (a forged checkout.accepted, say). The
// card's fields stay at the top level of the JSON.
type TokenizeRequest struct {
	card.Details
	OrderID string `json:"orderId"`
}

// TokenizeResult answers Tokenize: a token for the card, or what is wrong
// with it by field.
type TokenizeResult struct {
	Token  string            `json:"token,omitempty"`
	Last4  string            `json:"last4,omitempty"`
	Errors map[string]string `json:"errors,omitempty"`
}

// AuthorizeRequest asks to reserve amount on the tokenized card for an order.
type AuthorizeRequest struct {
	OrderID string      `json:"orderId"`
	Token   string      `json:"token"`
	Amount  money.Money `json:"amount"`
}

// Authorization is the outcome for an order. Asking again gets the same
// answer: an order is never charged twice. A voided one is declined.
type Authorization struct {
	OrderID  string      `json:"orderId"`
	Approved bool        `json:"approved"`
	Reason   string      `json:"reason,omitempty"`
	Amount   money.Money `json:"amount"`
	Voided   bool        `json:"voided,omitempty"`
}

// VoidRequest cancels the authorization of an order, or forbids one not yet
// made.
type VoidRequest struct {
	OrderID string `json:"orderId"`
}
