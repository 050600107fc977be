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
// retried call gets the same answer and never charges twice.
type Authorization struct {
	OrderID  string      `json:"orderId"`
	Approved bool        `json:"approved"`
	Reason   string      `json:"reason,omitempty"`
	Amount   money.Money `json:"amount"`
	Refunded bool        `json:"refunded,omitempty"`
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
	if err := p.store.saveAuthorization(ctx, a); err != nil {
		return nil, err
	}
	p.log.InfoContext(ctx, "authorization", "order", a.OrderID, "approved", a.Approved, "reason", a.Reason)
	return a, nil
}

func (p *payments) refund(ctx context.Context, in []byte) (any, error) {
	var req struct {
		OrderID string `json:"orderId"`
	}
	if err := json.Unmarshal(in, &req); err != nil || req.OrderID == "" {
		return nil, fmt.Errorf("%w: orderId is required", errInvalid)
	}
	a, ok, err := p.store.authorization(ctx, req.OrderID)
	if err != nil {
		return nil, err
	}
	if !ok || !a.Approved {
		return nil, fmt.Errorf("%w: no approved payment for order %s", errInvalid, req.OrderID)
	}
	a.Refunded = true
	return a, p.store.saveAuthorization(ctx, a)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
