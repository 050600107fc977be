// Command basket is Bazaar's basket service: one basket per signed-in user,
// kept in basket's own Dapr state store, with names and prices taken from
// catalog (by service invocation) when an item is added.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "basket:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(stdout, nil)).With("service", "basket")
	cfg, err := daprapp.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	client, err := daprapp.NewClient(cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	baskets := &basketStore{dapr: client, store: stateStore}
	catalog := &catalogClient{invoke: daprapp.NewInvoker(cfg)}
	return daprapp.Serve(ctx, cfg, NewServer(log, cfg, baskets, catalog), log)
}
