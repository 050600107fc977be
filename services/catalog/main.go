// Command catalog is Bazaar's catalog service: it owns the products, their
// prices and their stock, keeps them in its own Dapr state store and announces
// changes as catalog.product-changed events.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(stdout, nil)).With("service", "catalog")
	cfg, err := daprapp.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	client, err := daprapp.NewClient(cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	products := &productStore{dapr: client, store: stateStore, pubsub: pubsubName}
	// Seed in the background: the sidecar waits for our port before it
	// serves, so the server must listen first.
	go func() {
		if err := daprapp.WaitForSidecar(ctx, cfg); err != nil {
			return
		}
		for wait := 100 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
			err := products.seed(ctx, seedProducts())
			if err == nil {
				log.InfoContext(ctx, "catalog ready")
				return
			}
			log.WarnContext(ctx, "seed failed; retrying", "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
	return daprapp.Serve(ctx, cfg, NewServer(log, cfg, products), log)
}
