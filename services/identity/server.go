package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// NewServer wires identity's routes.
func NewServer(log *slog.Logger, cfg daprapp.Config, accounts *Accounts) http.Handler {
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.Handle("/register", register(log, accounts)).Methods(http.MethodPost)
	r.Handle("/login", login(log, accounts)).Methods(http.MethodPost)
	r.Handle("/logout", logout(log, accounts)).Methods(http.MethodPost)
	r.Handle(contracts.SignedOutPath, signedOut(log, accounts)).Methods(http.MethodGet)
	r.Handle("/users/{id}/contact", contact(log, accounts)).Methods(http.MethodGet)
	r.Handle("/me", me(log, accounts)).Methods(http.MethodGet)
	r.Handle("/jwks.json", jwks(log, accounts)).Methods(http.MethodGet)
	r.Handle("/keys/rotate", rotate(log, accounts)).Methods(http.MethodPost)
	r.Handle("/keys/{kid}/revoke", revoke(log, accounts)).Methods(http.MethodPost)
	// The identity service's slice of the shop's pages (see internal/fragment).
	f := newFragments()
	r.Handle("/fragments", f.Manifest()).Methods(http.MethodGet)
	r.Handle("/fragments/user-menu", userMenuHandler(f, accounts)).Methods(http.MethodGet)
	r.Handle("/fragments/user-menu", signOut(log, f, accounts)).Methods(http.MethodPost)
	r.Handle("/fragments/sign-in", formHandler(f, signInFragment)).Methods(http.MethodGet)
	r.Handle("/fragments/sign-in", signInForm(log, f, accounts)).Methods(http.MethodPost)
	r.Handle("/fragments/register", formHandler(f, registerFragment)).Methods(http.MethodGet)
	r.Handle("/fragments/register", registerForm(log, f, accounts)).Methods(http.MethodPost)
	r.Handle("/fragments/admin-keys", adminKeysHandler(log, f, accounts)).Methods(http.MethodGet)
	r.Handle("/fragments/admin-keys", revokeFromAdmin(log, f, accounts)).Methods(http.MethodPost)
	r.PathPrefix("/static/identity/").Handler(f.Assets.Handler()).Methods(http.MethodGet)
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(r)
}
