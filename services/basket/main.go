// Command basket is Bazaar's basket service: one basket per signed-in user,
// kept in basket's own Dapr state store, with names and prices taken from
// catalog (by service invocation) when an item is added.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

func main() {
	err := daprapp.Run(context.Background(), "basket", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		store := &basketStore{dapr: d.Client, store: stateStore}
		invoke := daprapp.NewInvoker(d.Config)
		svc := &Service{baskets: store, checkouts: store, handled: store,
			catalog:  &catalogClient{invoke: invoke, log: d.Log},
			payments: &paymentClient{dapr: d.Client, log: d.Log}, publisher: checkoutPublisher{dapr: d.Client}, log: d.Log}
		return NewServer(d.Log, d.Config, caller.NewVerifier(invoke), svc), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "basket:", err)
		os.Exit(1)
	}
}
