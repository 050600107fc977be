package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// Checking out, the basket's part of placing an order: the basket is priced
// again, the card swapped for a payment token, and checkout.accepted
// published for ordering's saga, which reserves the stock and takes the
// payment. The basket is emptied when ordering reports the order submitted.

// CheckoutRequest is what a customer sends to check out (the body of POST
// /basket/checkout).
type CheckoutRequest struct {
	Address events.Address `json:"shippingAddress"`
	Card    card.Details   `json:"card"`
}

// Valid lists what is wrong with the address and the card, by field
// (httpapi.Validator, so the API refuses a bad body as it decodes it).
func (c CheckoutRequest) Valid(context.Context) map[string]string {
	p := c.Card.Problems("card.", time.Now())
	for field, v := range map[string]string{"name": c.Address.Name, "street": c.Address.Street, "city": c.Address.City,
		"postalCode": c.Address.PostalCode, "country": c.Address.Country} {
		if n := utf8.RuneCountInString(strings.TrimSpace(v)); n == 0 || n > 100 {
			p["shippingAddress."+field] = "must be 1 to 100 characters"
		}
	}
	return p
}

// Checkout's errors (see also the basket's in basket.go).
var (
	// ErrIdempotencyKey means the checkout came without a usable
	// idempotency key, which it needs to take effect once.
	ErrIdempotencyKey = errors.New("missing or malformed idempotency key")
	// ErrEmptyBasket means there is nothing to check out.
	ErrEmptyBasket = errors.New("empty basket")
	// ErrPaymentUnavailable means payment could not tokenize the card
	// (down, unreachable or failing): nothing was placed, and the same
	// checkout may be sent again.
	ErrPaymentUnavailable = errors.New("payment unavailable")
)

// CardError is payment's refusal of a card, by field of the card.
type CardError struct{ Fields map[string]string }

func (e *CardError) Error() string { return fmt.Sprintf("card refused: %v", e.Fields) }

// Payments is what checkout needs of the payment service.
type Payments interface {
	// Tokenize swaps card details for a token, or says what is wrong with
	// them (TokenizeResult.Errors). It returns an error wrapping
	// ErrPaymentUnavailable when payment cannot answer.
	Tokenize(ctx context.Context, req contracts.TokenizeRequest) (contracts.TokenizeResult, error)
}

// Publisher tells ordering of an accepted checkout (checkout.accepted).
type Publisher interface {
	PublishCheckout(ctx context.Context, c events.Checkout) error
}

// Checkouts remembers the orders already placed from baskets, so that a
// retried checkout places nothing twice.
type Checkouts interface {
	CheckedOut(ctx context.Context, orderID string) (bool, error)
	MarkCheckedOut(ctx context.Context, orderID string) error
}

// HandledEvents remembers the events basket has acted on, by key, so that a
// redelivery changes nothing.
type HandledEvents interface {
	Handled(ctx context.Context, key string) (bool, error)
	MarkHandled(ctx context.Context, key string) error
}

// checkKey refuses an idempotency key that cannot name an order.
func checkKey(key string) error {
	if !contracts.ValidIdempotencyKey(key) {
		return ErrIdempotencyKey
	}
	return nil
}

// orderID derives the order id from the user and their idempotency key, so
// that a retried checkout names the same order.
func orderID(user, key string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + key))
	return hex.EncodeToString(sum[:12])
}

// Checkout checks out user's basket and returns the order's id. The lines
// are priced again from catalog (the basket may hold old prices); stock is
// not checked here but reserved by ordering's saga, which alone can hold it
// against other orders. Sending the same key again returns the same order id
// and places nothing twice.
func (s *Service) Checkout(ctx context.Context, user, key string, in CheckoutRequest) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if problems := in.Valid(ctx); len(problems) > 0 {
		return "", &InvalidError{Fields: problems}
	}
	id := orderID(user, key)
	if done, err := s.checkouts.CheckedOut(ctx, id); err != nil || done {
		return id, err
	}
	b, err := s.Basket(ctx, user)
	if err != nil {
		return "", err
	}
	if len(b.Items) == 0 {
		return "", ErrEmptyBasket
	}
	c := events.Checkout{OrderID: id, UserID: user, Address: in.Address, Total: money.EUR(0)}
	for _, it := range b.Items {
		p, v, err := offer(ctx, s.catalog, it.item())
		if err != nil {
			return "", err
		}
		line := itemOf(p, v, it.Quantity)
		c.Lines = append(c.Lines, events.Line{ProductID: p.ID, SKU: line.SKU, Variant: line.Variant, Name: p.Name, UnitPrice: v.Price, Quantity: it.Quantity})
		c.Total, _ = c.Total.Plus(v.Price.Times(it.Quantity))
	}
	// The token is good for this order only: payment refuses it for any
	// other, so a forged event cannot spend it.
	res, err := s.payments.Tokenize(ctx, contracts.TokenizeRequest{OrderID: id, Details: in.Card})
	if err != nil {
		return "", err
	}
	if len(res.Errors) > 0 {
		fields := map[string]string{}
		for k, v := range res.Errors {
			fields["card."+k] = v
		}
		return "", &CardError{Fields: fields}
	}
	c.CardToken = res.Token
	// The event goes out before the checkout is remembered: if we crash
	// between the two, the client's retry with the same key publishes
	// again, and ordering ignores the second (same order id).
	if err := s.publisher.PublishCheckout(ctx, c); err != nil {
		return "", fmt.Errorf("publish checkout: %w", err)
	}
	if err := s.checkouts.MarkCheckedOut(ctx, id); err != nil {
		s.log.WarnContext(ctx, "checkout published but not remembered", "order", id, "err", err)
	}
	return id, nil
}

// OrderStatusChanged takes the ordered quantities out of the user's basket
// when ordering reports an order submitted, once per order. What the
// customer added after checking out stays.
func (s *Service) OrderStatusChanged(ctx context.Context, c events.StatusChange) error {
	if c.Status != events.Submitted {
		return nil
	}
	handled, err := s.handled.Handled(ctx, c.Key())
	if err != nil || handled {
		return err
	}
	if _, err := s.update(ctx, c.UserID, func(b Basket) (Basket, error) { return b.without(c.Lines), nil }); err != nil {
		return err
	}
	return s.handled.MarkHandled(ctx, c.Key())
}
