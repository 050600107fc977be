// Command identity is Bazaar's identity provider: it registers users, signs
// them in with short-lived ES256 tokens and publishes its public keys as a
// JWKS document, so that the gateway and every service verify tokens
// themselves. The first admin comes from the Dapr secret store.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

func main() {
	err := daprapp.Run(context.Background(), "identity", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		users := &userStore{dapr: d.Client, store: stateStore}
		ring := &keyRing{dapr: d.Client, store: stateStore, ttl: tokenTTL}
		// Keys and the first admin need the sidecar, which waits for our port.
		go func() {
			if err := daprapp.WaitForSidecar(ctx, d.Config); err != nil {
				return
			}
			for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(wait*2, 5*time.Second) {
				err := ring.load(ctx)
				if err == nil {
					err = bootstrapAdmin(ctx, d.Client, users)
				}
				if err == nil {
					d.Log.InfoContext(ctx, "identity ready")
					return
				}
				d.Log.WarnContext(ctx, "start-up failed; retrying", "err", err, "in", wait)
				time.Sleep(wait)
			}
		}()
		return NewServer(d.Log, d.Config, users, ring, newLimiter()), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "identity:", err)
		os.Exit(1)
	}
}
