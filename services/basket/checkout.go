package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// CheckoutRequest is the body of POST /basket/checkout.
type CheckoutRequest struct {
	Address events.Address `json:"shippingAddress"`
	Card    card.Details   `json:"card"`
}

// Valid implements httpapi.Validator.
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

// Payments is what checkout needs of the payment service.
type Payments interface {
	Tokenize(ctx context.Context, d card.Details) (token string, problems map[string]string, err error)
}

// Publisher publishes events.
type Publisher interface {
	PublishEvent(ctx context.Context, pubsub, topic string, data any, opts ...dapr.PublishEventOption) error
}

// orderID derives the order id from the user and their Idempotency-Key, so
// that a retried checkout names the same order.
func orderID(user, key string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + key))
	return hex.EncodeToString(sum[:12])
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// checkout validates the basket again against catalog's current prices,
// swaps the card for a payment token and publishes checkout.accepted. The
// basket is emptied when ordering reports the order submitted.
func checkout(log *slog.Logger, baskets *basketStore, catalog Catalog, payments Payments, pub Publisher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := caller.User(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		if !keyRE.MatchString(key) {
			httpapi.Fail(w, r, log, &httpapi.Error{Status: http.StatusBadRequest, Code: "idempotency_key_required",
				Detail: "send an Idempotency-Key header of 8 to 64 letters, digits, - or _", Fields: map[string]string{"Idempotency-Key": "missing or malformed"}})
			return
		}
		req, err := httpapi.Decode[CheckoutRequest](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		id := orderID(u, key)
		accepted := func() { httpapi.JSON(w, http.StatusAccepted, map[string]string{"orderId": id}) }
		if done, err := baskets.checkedOut(r.Context(), id); err != nil || done {
			if err != nil {
				httpapi.Fail(w, r, log, err)
			} else {
				accepted()
			}
			return
		}
		b, _, err := baskets.Get(r.Context(), u)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		if len(b.Items) == 0 {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusUnprocessableEntity, "empty_basket", "the basket is empty"))
			return
		}
		c := events.Checkout{OrderID: id, UserID: u, Address: req.Address, Total: money.EUR(0)}
		for _, it := range b.Items {
			p, err := catalog.Product(r.Context(), it.ProductID)
			if err != nil {
				fail(w, r, log, err)
				return
			}
			c.Lines = append(c.Lines, events.Line{ProductID: p.ID, Name: p.Name, UnitPrice: p.Price, Quantity: it.Quantity})
			c.Total, _ = c.Total.Plus(p.Price.Times(it.Quantity))
		}
		token, problems, err := payments.Tokenize(r.Context(), req.Card)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		if len(problems) > 0 {
			fields := map[string]string{}
			for k, v := range problems {
				fields["card."+k] = v
			}
			httpapi.Fail(w, r, log, &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Detail: "the card was refused", Fields: fields})
			return
		}
		c.CardToken = token
		// The event goes out before the checkout is remembered: if we crash
		// between the two, the client's retry with the same key publishes
		// again, and ordering ignores the second (same order id).
		if err := pub.PublishEvent(r.Context(), events.PubSub, events.CheckoutAccepted, c, dapr.PublishEventWithContentType("application/json")); err != nil {
			httpapi.Fail(w, r, log, fmt.Errorf("publish checkout: %w", err))
			return
		}
		if err := baskets.markCheckedOut(r.Context(), id); err != nil {
			log.WarnContext(r.Context(), "checkout published but not remembered", "order", id, "err", err)
		}
		accepted()
	})
}

// emptyBasket takes the ordered quantities out of the basket when
// ordering reports an order submitted, once per order. What the customer
// added after checking out stays.
func emptyBasket(baskets *basketStore) daprapp.EventHandler {
	return func(ctx context.Context, e daprapp.Event) error {
		var c events.StatusChange
		if err := json.Unmarshal(e.Data, &c); err != nil || c.OrderID == "" {
			return fmt.Errorf("%w: an order.status-changed event needs an orderId", daprapp.ErrPoison)
		}
		if c.Status != events.Submitted || !caller.ValidUser(c.UserID) {
			return nil
		}
		handled, err := baskets.handled(ctx, c.Key())
		if err != nil || handled {
			return err
		}
		if _, err := update(ctx, baskets, c.UserID, func(b Basket) Basket { return b.without(c.Lines) }); err != nil {
			return err
		}
		return baskets.markHandled(ctx, c.Key())
	}
}

// paymentClient tokenizes cards with the payment service (gRPC) through the
// sidecars.
type paymentClient struct{ dapr dapr.Client }

func (p *paymentClient) Tokenize(ctx context.Context, d card.Details) (string, map[string]string, error) {
	body, _ := json.Marshal(d)
	out, err := p.dapr.InvokeMethodWithContent(ctx, "payment", "tokenize", http.MethodPost, &dapr.DataContent{ContentType: "application/json", Data: body})
	if err != nil {
		return "", nil, fmt.Errorf("tokenize card: %w", err)
	}
	var res struct {
		Token  string            `json:"token"`
		Errors map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return "", nil, err
	}
	if res.Token == "" && len(res.Errors) == 0 {
		return "", nil, errors.New("tokenize card: empty answer")
	}
	return res.Token, res.Errors, nil
}
