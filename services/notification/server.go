package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
)

// NewServer wires notification's routes: health, and the order status
// events it subscribes to. It has no API of its own.
func NewServer(log *slog.Logger, cfg daprapp.Config, n *Notifier) http.Handler {
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	// No dead-letter topic: a message that cannot go out yet (identity or
	// the mail server down) is redelivered until it can.
	r.Handle("/dapr/subscribe", daprapp.SubscribeHandler([]daprapp.Subscription{{
		PubsubName: events.PubSub, Topic: events.OrderStatusChanged, Route: "/events/order-status"}})).Methods(http.MethodGet)
	r.Handle("/events/order-status", daprapp.Consume(log, orderStatusChanged(log, n))).Methods(http.MethodPost)
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(r)
}

// orderStatusChanged decodes the event; one that cannot be read is logged
// (without its payload) and dropped rather than redelivered for ever.
func orderStatusChanged(log *slog.Logger, n *Notifier) daprapp.EventHandler {
	return func(ctx context.Context, e daprapp.Event) error {
		var c events.StatusChange
		if err := json.Unmarshal(e.Data, &c); err != nil || c.OrderID == "" || c.UserID == "" || c.Status == "" {
			log.ErrorContext(ctx, "an order status event cannot be read: dropped", "event_id", e.ID, "source", e.Source)
			return nil
		}
		return n.StatusChanged(ctx, c)
	}
}
