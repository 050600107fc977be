// Command gateway is Bazaar's single entry point (127.0.0.1:8080). It
// verifies the caller's token, applies the edge's protections (security
// headers, CSRF origin check, rate limit, size limit, request id) and routes
// /api/<service>/... to that service by Dapr service invocation.
//
// Settings: GATEWAY_RATE_PER_SECOND (per client, default 50) and
// GATEWAY_TRUSTED_PROXIES (addresses or CIDR prefixes of reverse proxies in
// front of it whose X-Forwarded-For/-Proto it believes; none by default).
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

func main() {
	err := daprapp.Run(context.Background(), "gateway", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		rate := 50.0
		if v := os.Getenv("GATEWAY_RATE_PER_SECOND"); v != "" {
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r <= 0 {
				return nil, fmt.Errorf("GATEWAY_RATE_PER_SECOND=%q is not a positive number", v)
			}
			rate = r
		}
		proxies, err := parseTrustedProxies(os.Getenv("GATEWAY_TRUSTED_PROXIES"))
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_TRUSTED_PROXIES: %w", err)
		}
		invoke := daprapp.NewInvoker(d.Config)
		return NewServer(d.Log, invoke, caller.NewVerifier(invoke), newRateLimiter(rate, 2*rate), proxies), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}
