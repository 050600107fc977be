// Command catalog is Bazaar's catalog service: it owns the products, their
// prices and their stock, keeps them in its own Dapr state store and announces
// changes as catalog.product-changed events.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

func main() {
	err := daprapp.Run(context.Background(), "catalog", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		products := &productStore{dapr: d.Client, store: stateStore, pubsub: pubsubName}
		go seedWhenReady(ctx, d, products)
		reservations := &reservationStore{dapr: d.Client, store: stateStore}
		return NewServer(d.Log, d.Config, caller.NewVerifier(daprapp.NewInvoker(d.Config)), products, products, reservations), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

// seedWhenReady seeds the catalog once the sidecar is up. It runs in the
// background because the sidecar waits for our port before it serves.
func seedWhenReady(ctx context.Context, d daprapp.Deps, products *productStore) {
	if err := daprapp.WaitForSidecar(ctx, d.Config); err != nil {
		return
	}
	for wait := 100 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
		err := products.seed(ctx, seedProducts())
		if err == nil {
			d.Log.InfoContext(ctx, "catalog ready")
			return
		}
		d.Log.WarnContext(ctx, "seed failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
