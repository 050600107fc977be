package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// NewServer wires identity's routes.
func NewServer(log *slog.Logger, cfg daprapp.Config, users *userStore, ring *keyRing, limits *limiter) http.Handler {
	// The keys are local here: look again at once when a kid is new.
	verifier := authn.NewVerifier(ring.jwks, 0)
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.Handle("/register", register(log, users)).Methods(http.MethodPost)
	r.Handle("/login", login(log, users, ring, limits)).Methods(http.MethodPost)
	r.Handle("/logout", logout()).Methods(http.MethodPost)
	r.Handle("/me", me(log, verifier)).Methods(http.MethodGet)
	r.Handle("/jwks.json", jwks(log, ring)).Methods(http.MethodGet)
	r.Handle("/keys/rotate", rotate(log, verifier, ring)).Methods(http.MethodPost)
	// The identity service's slice of the shop's pages (see internal/fragment).
	f := newFragments()
	r.Handle("/fragments", f.Manifest()).Methods(http.MethodGet)
	r.Handle("/fragments/user-menu", userMenuHandler(f, verifier)).Methods(http.MethodGet)
	r.Handle("/fragments/user-menu", signOut(f)).Methods(http.MethodPost)
	r.Handle("/fragments/sign-in", formHandler(f, signInFragment)).Methods(http.MethodGet)
	r.Handle("/fragments/sign-in", signInForm(log, f, users, ring, limits)).Methods(http.MethodPost)
	r.Handle("/fragments/register", formHandler(f, registerFragment)).Methods(http.MethodGet)
	r.Handle("/fragments/register", registerForm(log, f, users, ring)).Methods(http.MethodPost)
	r.PathPrefix("/static/identity/").Handler(f.Assets.Handler()).Methods(http.MethodGet)
	return daprapp.RequireAppToken(cfg.AppToken, "/healthz")(r)
}
