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

// Names of the Dapr components this service uses (see components/).
const (
	stateStore = "catalog-store"
	pubsubName = "events"
	// TopicProductChanged carries a product's new price and stock.
	TopicProductChanged = events.ProductChanged
)

// NewServer wires the catalog's routes. Every route but health needs the
// app token, so only catalog's own sidecar can reach it.
func NewServer(log *slog.Logger, cfg daprapp.Config, verifier *authn.Verifier, products Products, shelf Shelf, reservations Reservations) http.Handler {
	c := Catalog{products: products}
	stock := Stock{shelf: shelf, reservations: reservations}
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.Handle("/products", listProducts(log, c)).Methods(http.MethodGet)
	r.Handle("/products/{id}", getProduct(log, c)).Methods(http.MethodGet)
	r.Handle("/products", createProduct(log, c)).Methods(http.MethodPost)
	r.Handle("/products/{id}", updateProduct(log, c)).Methods(http.MethodPut)
	r.Handle(imagesPath+"{file}", productImages()).Methods(http.MethodGet, http.MethodHead)
	// The catalog's slice of the shop's pages (see internal/fragment).
	f := newFragments()
	r.Handle("/fragments", f.Manifest()).Methods(http.MethodGet)
	r.Handle("/fragments/categories", categoriesHandler(f)).Methods(http.MethodGet)
	r.Handle("/fragments/product-grid", productGridHandler(log, f, c)).Methods(http.MethodGet)
	r.Handle("/fragments/product-detail", productHandler(log, f, c, productDetailFragment)).Methods(http.MethodGet)
	r.Handle("/fragments/stock-badge", productHandler(log, f, c, stockBadgeFragment)).Methods(http.MethodGet)
	r.Handle("/fragments/recommendations", recommendationsHandler(log, f, c)).Methods(http.MethodGet)
	r.Handle("/fragments/admin-products", adminProductsHandler(log, f, c)).Methods(http.MethodGet)
	r.Handle("/fragments/admin-products", saveAdminProduct(log, f, c)).Methods(http.MethodPost)
	r.PathPrefix("/static/catalog/").Handler(f.Assets.Handler()).Methods(http.MethodGet)
	// Stock reservations for the checkout saga (called by ordering).
	r.Handle(contracts.ReservationsPath, reserveStock(log, stock)).Methods(http.MethodPost)
	r.Handle(contracts.ReservationsPath+"/{orderId}/release", settleReservation(log, stock.Release)).Methods(http.MethodPost)
	r.Handle(contracts.ReservationsPath+"/{orderId}/commit", settleReservation(log, stock.Commit)).Methods(http.MethodPost)
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(caller.Middleware(verifier)(r))
}
