package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
)

// NewServer wires ordering's routes.
func NewServer(log *slog.Logger, cfg daprapp.Config, verifier *authn.Verifier, orders *orderStore, wf Workflows, settings sagaSettings, basket contracts.Invoker) http.Handler {
	o := Ordering{orders: orders, sagas: wf, changes: orders.changes}
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.Handle("/dapr/subscribe", daprapp.SubscribeHandler(daprapp.DeadLetters([]daprapp.Subscription{{
		PubsubName: events.PubSub, Topic: events.CheckoutAccepted, Route: "/events/checkout-accepted",
		DeadLetterTopic: events.DeadLetter(events.CheckoutAccepted)}}, "/events/dead-letter"))).Methods(http.MethodGet)
	r.Handle("/events/checkout-accepted", daprapp.Consume(log, startSaga(wf, settings))).Methods(http.MethodPost)
	r.Handle("/events/dead-letter", daprapp.ConsumeDeadLetters(log, startSaga(wf, settings))).Methods(http.MethodPost)
	r.Handle("/orders", listOrders(log, o)).Methods(http.MethodGet)
	r.Handle("/orders/{id}", getOrder(log, o)).Methods(http.MethodGet)
	r.Handle("/orders/{id}/cancel", raise(log, Ordering.Cancel, o)).Methods(http.MethodPost)
	r.Handle("/orders/{id}/ship", raise(log, Ordering.Ship, o)).Methods(http.MethodPost)
	// The ordering service's slice of the shop's pages (see internal/fragment).
	f := newFragments()
	r.Handle("/fragments", f.Manifest()).Methods(http.MethodGet)
	r.Handle("/fragments/checkout-form", checkoutFormHandler(f)).Methods(http.MethodGet)
	r.Handle("/fragments/checkout-form", placeOrder(log, f, basket)).Methods(http.MethodPost)
	r.Handle("/fragments/order-confirmation", confirmationHandler(log, f, o)).Methods(http.MethodGet)
	r.Handle("/fragments/order-status", orderStatusHandler(log, f, o)).Methods(http.MethodGet)
	r.Handle("/fragments/order-history", orderHistoryHandler(log, f, o)).Methods(http.MethodGet)
	r.Handle("/fragments/admin-orders", adminOrdersHandler(log, f, o)).Methods(http.MethodGet)
	r.Handle("/fragments/admin-orders", shipFromAdmin(log, f, o)).Methods(http.MethodPost)
	r.PathPrefix("/static/ordering/").Handler(f.Assets.Handler()).Methods(http.MethodGet)
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(caller.Middleware(verifier)(r))
}
