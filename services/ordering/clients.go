package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// The saga's outside parties over Dapr: catalog's reservations (HTTP service
// invocation), payment's authorizations (a gRPC app, through the SDK) and
// the event bus.

// catalogStock implements Stock with catalog's /reservations API.
type catalogStock struct{ invoke contracts.Invoker }

// Reserve sends each line with the price the customer was shown, so that
// catalog holds nothing at any other price.
func (c catalogStock) Reserve(ctx context.Context, orderID string, lines []events.Line) (string, error) {
	req := contracts.Reservation{OrderID: orderID}
	for _, l := range lines {
		req.Lines = append(req.Lines, contracts.ReservationLine{ProductID: l.ProductID, SKU: l.SKU, Quantity: l.Quantity, UnitPrice: &l.UnitPrice})
	}
	var res contracts.Reservation
	if err := c.call(ctx, contracts.ReservationsPath, req, &res); err != nil {
		return "", err
	}
	switch {
	case res.Status == contracts.Reserved:
		return "", nil
	case res.Reason == contracts.PriceChanged:
		return events.PriceChanged, nil
	}
	return events.StockRejected, nil
}

func (c catalogStock) Commit(ctx context.Context, orderID string) error {
	return c.call(ctx, contracts.CommitPath(orderID), nil, nil)
}

func (c catalogStock) Release(ctx context.Context, orderID string) error {
	return c.call(ctx, contracts.ReleasePath(orderID), nil, nil)
}

// call POSTs body to catalog and decodes a 200 answer into out.
func (c catalogStock) call(ctx context.Context, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.invoke.Do(ctx, "catalog", req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("catalog answered %d to %s", resp.StatusCode, path)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// invoker is what the payment client needs of the Dapr SDK.
type invoker interface {
	InvokeMethodWithContent(ctx context.Context, appID, method, verb string, content *dapr.DataContent) ([]byte, error)
}

// paymentService implements Payments with payment's gRPC methods.
type paymentService struct{ dapr invoker }

func (p paymentService) Authorize(ctx context.Context, orderID, token string, amount money.Money) (bool, error) {
	var a contracts.Authorization
	if err := p.call(ctx, contracts.Authorize, contracts.AuthorizeRequest{OrderID: orderID, Token: token, Amount: amount}, &a); err != nil {
		return false, err
	}
	return a.Approved, nil
}

func (p paymentService) Void(ctx context.Context, orderID string) error {
	return p.call(ctx, contracts.Void, contracts.VoidRequest{OrderID: orderID}, nil)
}

func (p paymentService) call(ctx context.Context, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := p.dapr.InvokeMethodWithContent(ctx, contracts.PaymentApp, method, http.MethodPost,
		&dapr.DataContent{ContentType: "application/json", Data: body})
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(resp, out)
}

// publisher is what the event publisher needs of the Dapr SDK.
type publisher interface {
	PublishEvent(ctx context.Context, pubsub, topic string, data any, opts ...dapr.PublishEventOption) error
}

// busEvents implements Publisher on the event bus.
type busEvents struct{ dapr publisher }

func (b busEvents) StatusChanged(ctx context.Context, c events.StatusChange) error {
	return b.dapr.PublishEvent(ctx, events.PubSub, events.OrderStatusChanged, c, dapr.PublishEventWithContentType("application/json"))
}
