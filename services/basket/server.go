package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
)

const stateStore = "basket-store"

// NewServer wires the basket's routes; every route but health needs the app
// token, and every basket route needs a user.
func NewServer(log *slog.Logger, cfg daprapp.Config, verifier *authn.Verifier, baskets *basketStore, catalog Catalog, payments Payments, pub Publisher) http.Handler {
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.Handle("/basket", getBasket(log, baskets)).Methods(http.MethodGet)
	r.Handle("/basket/items/{productId}", setItem(log, baskets, catalog)).Methods(http.MethodPut)
	r.Handle("/basket/items/{productId}", removeItem(log, baskets)).Methods(http.MethodDelete)
	r.Handle("/basket/checkout", checkout(log, baskets, catalog, payments, pub)).Methods(http.MethodPost)
	r.Handle("/dapr/subscribe", daprapp.SubscribeHandler(daprapp.DeadLetters([]daprapp.Subscription{{
		PubsubName: events.PubSub, Topic: events.OrderStatusChanged, Route: "/events/order-status",
		DeadLetterTopic: events.DeadLetter(events.OrderStatusChanged)}}, "/events/dead-letter"))).Methods(http.MethodGet)
	r.Handle("/events/order-status", onOrderStatus(log, baskets)).Methods(http.MethodPost)
	r.Handle("/events/dead-letter", daprapp.DeadLetterHandler(log)).Methods(http.MethodPost)
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(caller.Middleware(verifier)(r))
}
