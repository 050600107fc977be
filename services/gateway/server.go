package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

// service is where /api/<service>/<rest> goes: app's path prefix + "/" + rest.
type service struct {
	app    string
	prefix string
}

// routes are the public APIs; payment is not among them. basket's own
// paths start with /basket (GET /api/basket is its GET /basket).
var routes = map[string]service{
	"catalog":  {app: "catalog"},
	"basket":   {app: "basket", prefix: "/basket"},
	"ordering": {app: "ordering"},
	"identity": {app: "identity"},
}

var _ contracts.Invoker = (*daprapp.Invoker)(nil)

// NewServer wires the gateway. Unlike the services it is not behind an app
// token: it is the edge that browsers and API clients reach.
func NewServer(log *slog.Logger, invoke contracts.Invoker, verifier *authn.Verifier, limits *rateLimiter, proxies trustedProxies) http.Handler {
	r := mux.NewRouter()
	r.Handle("/healthz", daprapp.Healthz()).Methods(http.MethodGet)
	r.Handle("/health", health(invoke)).Methods(http.MethodGet)
	// The sidecar asks for subscriptions here; the gateway has none, and
	// these paths must not reach the shell.
	r.PathPrefix("/dapr/").Handler(http.NotFoundHandler())
	// The APIs, the fragments, the static files and, for every other path,
	// the shell's pages (see route).
	// What the shell offers to shared caches (a page the same for everyone)
	// is answered here for its s-maxage (pageCache).
	r.PathPrefix("/").Handler(newPageCache(32 << 20).middleware(proxy(log, invoke, verifier)))
	// Every request from outside starts a trace (telemetry.Edge).
	return telemetry.Edge(requestID(securityHeaders(proxies.identify(limits.middleware(http.MaxBytesHandler(r, maxBody))))))
}
