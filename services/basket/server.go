package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

const stateStore = "basket-store"

// NewServer wires the basket's routes; every route but health needs the app
// token, and every basket route needs a user.
func NewServer(log *slog.Logger, cfg daprapp.Config, baskets Baskets, catalog Catalog) http.Handler {
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.Handle("/basket", getBasket(log, baskets)).Methods(http.MethodGet)
	r.Handle("/basket/items/{productId}", setItem(log, baskets, catalog)).Methods(http.MethodPut)
	r.Handle("/basket/items/{productId}", removeItem(log, baskets)).Methods(http.MethodDelete)
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(r)
}
