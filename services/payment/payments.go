package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dapr/go-sdk/service/common"

	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/money"
)

const stateStore = "payment-store"

// declinedCard is the test card that every processor's sandbox declines.
const declinedCard = "4000000000000002"

// TokenizeResult answers "tokenize".
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

// Authorization is the outcome of "authorize", stored per order so that a
// retried call gets the same answer and never charges twice. A voided one
// is declined, whether it was approved before or never asked.
type Authorization struct {
	OrderID  string      `json:"orderId"`
	Approved bool        `json:"approved"`
	Reason   string      `json:"reason,omitempty"`
	Amount   money.Money `json:"amount"`
	Voided   bool        `json:"voided,omitempty"`
}

type payments struct {
	store *cardStore
	log   *slog.Logger
}

type handler func(ctx context.Context, in []byte) (any, error)

// errInvalid marks bad input: the caller gets it back as such, not as a fault.
var errInvalid = errors.New("invalid request")

func invocation(log *slog.Logger, h handler) common.ServiceInvocationHandler {
	return func(ctx context.Context, in *common.InvocationEvent) (*common.Content, error) {
		out, err := h(ctx, in.Data)
		if err != nil {
			if !errors.Is(err, errInvalid) {
				log.ErrorContext(ctx, "invocation failed", "err", err)
				return nil, errors.New("payment failed internally")
			}
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		return &common.Content{ContentType: "application/json", Data: b}, nil
	}
}

func (p *payments) tokenize(ctx context.Context, in []byte) (any, error) {
	var d card.Details
	if err := json.Unmarshal(in, &d); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON", errInvalid)
	}
	if problems := d.Problems("", time.Now()); len(problems) > 0 {
		return TokenizeResult{Errors: problems}, nil
	}
	token := "tok_" + randomHex(16)
	if err := p.store.saveCard(ctx, token, d.Digits()); err != nil {
		return nil, err
	}
	return TokenizeResult{Token: token, Last4: card.Last4(d.Digits())}, nil
}

func (p *payments) authorize(ctx context.Context, in []byte) (any, error) {
	var req AuthorizeRequest
	if err := json.Unmarshal(in, &req); err != nil || req.OrderID == "" || req.Token == "" || req.Amount.Amount <= 0 {
		return nil, fmt.Errorf("%w: orderId, token and a positive amount are required", errInvalid)
	}
	if prev, ok, err := p.store.authorization(ctx, req.OrderID); err != nil || ok {
		return prev, err
	}
	number, ok, err := p.store.card(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	a := Authorization{OrderID: req.OrderID, Amount: req.Amount, Approved: true}
	switch {
	case !ok:
		a.Approved, a.Reason = false, "unknown_card_token"
	case number == declinedCard:
		a.Approved, a.Reason = false, "card_declined"
	}
	// First write wins: if a void got there meanwhile, it stands.
	if err := p.store.createAuthorization(ctx, a); errors.Is(err, errExists) {
		prev, _, err := p.store.authorization(ctx, req.OrderID)
		return prev, err
	} else if err != nil {
		return nil, err
	}
	p.log.InfoContext(ctx, "authorization", "order", a.OrderID, "approved", a.Approved, "reason", a.Reason)
	return a, nil
}

// void cancels the authorization of an order the checkout saga gave up on.
// When there is none yet it stores a voided one, so that an authorize still
// in flight, or sent late, is declined: no money is ever held for an order
// that was cancelled.
func (p *payments) void(ctx context.Context, in []byte) (any, error) {
	var req struct {
		OrderID string `json:"orderId"`
	}
	if err := json.Unmarshal(in, &req); err != nil || req.OrderID == "" {
		return nil, fmt.Errorf("%w: orderId is required", errInvalid)
	}
	for range 10 {
		a, etag, ok, err := p.store.authorizationWithETag(ctx, req.OrderID)
		if err != nil {
			return nil, err
		}
		if ok && a.Voided {
			return a, nil
		}
		if !ok {
			a = Authorization{OrderID: req.OrderID}
		}
		a.Approved, a.Reason, a.Voided = false, "voided", true
		err = p.store.replaceAuthorization(ctx, a, etag)
		if errors.Is(err, errExists) {
			continue // an authorize landed meanwhile: void that one
		}
		if err != nil {
			return nil, err
		}
		p.log.InfoContext(ctx, "authorization voided", "order", a.OrderID)
		return a, nil
	}
	return nil, errors.New("void: too much contention")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
