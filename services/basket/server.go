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
// token. The API needs a user; the fragments also serve signed-out
// visitors, whose basket a cookie names.
func NewServer(log *slog.Logger, cfg daprapp.Config, verifier *authn.Verifier, svc *Service) http.Handler {
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.Handle("/basket", getBasket(log, svc)).Methods(http.MethodGet)
	r.Handle("/basket/items/{productId}", setItem(log, svc)).Methods(http.MethodPut)
	r.Handle("/basket/items/{productId}", removeItem(log, svc)).Methods(http.MethodDelete)
	r.Handle("/basket/checkout", checkout(log, svc)).Methods(http.MethodPost)
	// The basket's slice of the shop's pages (see internal/fragment).
	f := newFragments()
	r.Handle("/fragments", f.Manifest()).Methods(http.MethodGet)
	r.Handle("/fragments/mini-cart", miniCartHandler(log, f, svc)).Methods(http.MethodGet)
	r.Handle("/fragments/add-to-cart", addToCartHandler(log, f, svc.catalog)).Methods(http.MethodGet)
	r.Handle("/fragments/add-to-cart", addToCart(log, f, svc)).Methods(http.MethodPost)
	r.Handle("/fragments/cart", cartHandler(log, f, svc)).Methods(http.MethodGet)
	r.Handle("/fragments/cart", changeCart(log, f, svc)).Methods(http.MethodPost)
	r.PathPrefix("/static/basket/").Handler(f.Assets.Handler()).Methods(http.MethodGet)
	r.Handle("/dapr/subscribe", daprapp.SubscribeHandler(daprapp.DeadLetters([]daprapp.Subscription{{
		PubsubName: events.PubSub, Topic: events.OrderStatusChanged, Route: "/events/order-status",
		DeadLetterTopic: events.DeadLetter(events.OrderStatusChanged)}}, "/events/dead-letter"))).Methods(http.MethodGet)
	r.Handle("/events/order-status", daprapp.Consume(log, orderStatusChanged(svc))).Methods(http.MethodPost)
	r.Handle("/events/dead-letter", daprapp.ConsumeDeadLetters(log, orderStatusChanged(svc))).Methods(http.MethodPost)
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(caller.Middleware(verifier)(r))
}
