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
		baskets := &basketStore{dapr: d.Client, store: stateStore}
		invoke := daprapp.NewInvoker(d.Config)
		return NewServer(d.Log, d.Config, caller.NewVerifier(invoke), baskets, &catalogClient{invoke: invoke}, &paymentClient{dapr: d.Client}, d.Client), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "basket:", err)
		os.Exit(1)
	}
}
