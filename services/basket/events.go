package main

import (
	"context"
	"encoding/json"
	"fmt"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
)

// orderStatusChanged hands ordering's order.status-changed events to the
// domain, which empties the basket of a submitted order.
func orderStatusChanged(svc *Service) daprapp.EventHandler {
	return func(ctx context.Context, e daprapp.Event) error {
		var c events.StatusChange
		if err := json.Unmarshal(e.Data, &c); err != nil || c.OrderID == "" {
			return fmt.Errorf("%w: an order.status-changed event needs an orderId", daprapp.ErrPoison)
		}
		// The user id names a basket in the store: only a well-formed one.
		if !caller.ValidUser(c.UserID) {
			return nil
		}
		return svc.OrderStatusChanged(ctx, c)
	}
}

// publisher is what checkoutPublisher needs of the Dapr SDK.
type publisher interface {
	PublishEvent(ctx context.Context, pubsub, topic string, data any, opts ...dapr.PublishEventOption) error
}

// checkoutPublisher implements Publisher with Dapr pub/sub.
type checkoutPublisher struct{ dapr publisher }

func (p checkoutPublisher) PublishCheckout(ctx context.Context, c events.Checkout) error {
	return p.dapr.PublishEvent(ctx, events.PubSub, events.CheckoutAccepted, c, dapr.PublishEventWithContentType("application/json"))
}
