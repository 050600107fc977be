package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/contracts"
)

// The payment domain: cards kept behind tokens, and one authorization per
// order that a retry never repeats and a void always wins over. It knows
// nothing of gRPC or Dapr: handlers.go adapts it to service invocation,
// store.go keeps its data in Dapr state.

// declinedCard is the test card that every processor's sandbox declines.
const declinedCard = "4000000000000002"

// Domain errors; handlers.go tells the caller about ErrInvalid and hides
// everything else.
var (
	// ErrInvalid marks bad input: the caller gets it back as such, not as
	// a fault.
	ErrInvalid = errors.New("invalid request")
	// ErrExists means another write of the authorization came first.
	ErrExists = errors.New("authorization written concurrently")
)

// Store is what payments keeps: cards by token and authorizations by
// order (store.go implements it over Dapr state).
type Store interface {
	SaveCard(ctx context.Context, token string, c Card) error
	// Card returns the card behind token, and false if there is none
	// (unknown or expired).
	Card(ctx context.Context, token string) (Card, bool, error)
	// Authorization returns the order's authorization with its ETag, and
	// false if there is none.
	Authorization(ctx context.Context, orderID string) (contracts.Authorization, string, bool, error)
	// SaveAuthorization stores a if the stored one still has etag (empty:
	// if there is none); otherwise it returns ErrExists.
	SaveAuthorization(ctx context.Context, a contracts.Authorization, etag string) error
}

// payments tokenizes cards and authorizes and voids orders' payments.
type payments struct {
	store Store
	log   *slog.Logger
}

// Card is a tokenized card: its number, and the one order it may pay for.
type Card struct {
	Number  string `json:"number"`
	OrderID string `json:"orderId"`
}

// maxOrderID bounds an order id (basket's are 24 characters).
const maxOrderID = 64

// Tokenize keeps the card's number under a new token for the order, or says
// what is wrong with the card by field.
func (p *payments) Tokenize(ctx context.Context, req contracts.TokenizeRequest) (contracts.TokenizeResult, error) {
	if req.OrderID == "" || len(req.OrderID) > maxOrderID {
		return contracts.TokenizeResult{}, fmt.Errorf("%w: orderId is required (at most %d characters)", ErrInvalid, maxOrderID)
	}
	if problems := req.Problems("", time.Now()); len(problems) > 0 {
		return contracts.TokenizeResult{Errors: problems}, nil
	}
	token := "tok_" + randomHex(16)
	if err := p.store.SaveCard(ctx, token, Card{Number: req.Digits(), OrderID: req.OrderID}); err != nil {
		return contracts.TokenizeResult{}, err
	}
	return contracts.TokenizeResult{Token: token, Last4: card.Last4(req.Digits())}, nil
}

// Authorize decides on the order's payment once: asked again, it gives the
// first answer, so an order is never charged twice.
func (p *payments) Authorize(ctx context.Context, req contracts.AuthorizeRequest) (contracts.Authorization, error) {
	if req.OrderID == "" || req.Token == "" || req.Amount.Amount <= 0 {
		return contracts.Authorization{}, fmt.Errorf("%w: orderId, token and a positive amount are required", ErrInvalid)
	}
	if prev, _, ok, err := p.store.Authorization(ctx, req.OrderID); err != nil || ok {
		return prev, err
	}
	c, ok, err := p.store.Card(ctx, req.Token)
	if err != nil {
		return contracts.Authorization{}, err
	}
	a := contracts.Authorization{OrderID: req.OrderID, Amount: req.Amount, Approved: true}
	switch {
	case !ok:
		a.Approved, a.Reason = false, "unknown_card_token"
	case c.OrderID != req.OrderID:
		// A token of another checkout: a forged or replayed event.
		a.Approved, a.Reason = false, "card_token_not_for_order"
		p.log.WarnContext(ctx, "card token used for another order", "order", req.OrderID)
	case c.Number == declinedCard:
		a.Approved, a.Reason = false, "card_declined"
	}
	// First write wins: if a void got there meanwhile, it stands.
	if err := p.store.SaveAuthorization(ctx, a, ""); errors.Is(err, ErrExists) {
		prev, _, _, err := p.store.Authorization(ctx, req.OrderID)
		return prev, err
	} else if err != nil {
		return contracts.Authorization{}, err
	}
	p.log.InfoContext(ctx, "authorization", "order", a.OrderID, "approved", a.Approved, "reason", a.Reason)
	return a, nil
}

// voidAttempts bounds the retries of a void racing authorizes of the same
// order.
const voidAttempts = 10

// Void cancels the authorization of an order the checkout saga gave up on.
// When there is none yet it stores a voided one, so that an authorize still
// in flight, or sent late, is declined: no money is ever held for an order
// that was cancelled.
func (p *payments) Void(ctx context.Context, req contracts.VoidRequest) (contracts.Authorization, error) {
	if req.OrderID == "" {
		return contracts.Authorization{}, fmt.Errorf("%w: orderId is required", ErrInvalid)
	}
	for range voidAttempts {
		a, etag, ok, err := p.store.Authorization(ctx, req.OrderID)
		if err != nil {
			return contracts.Authorization{}, err
		}
		if ok && a.Voided {
			return a, nil
		}
		if !ok {
			a = contracts.Authorization{OrderID: req.OrderID}
		}
		a.Approved, a.Reason, a.Voided = false, "voided", true
		err = p.store.SaveAuthorization(ctx, a, etag)
		if errors.Is(err, ErrExists) {
			continue // an authorize landed meanwhile: void that one
		}
		if err != nil {
			return contracts.Authorization{}, err
		}
		p.log.InfoContext(ctx, "authorization voided", "order", a.OrderID)
		return a, nil
	}
	return contracts.Authorization{}, errors.New("void: too much contention")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
