// Command basket is Bazaar's basket service: one basket per signed-in user,
// and one per signed-out visitor (a guest basket, named by a cookie), kept in
// basket's own Dapr state store, with names and prices taken from catalog (by
// service invocation) when an item is added. BASKET_GUEST_TTL (default 30
// days, the cookie's life) is how long a guest basket outlives its last
// change.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/limit"
)

func main() {
	err := daprapp.Run(context.Background(), "basket", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		ttl, err := guestTTL(os.Getenv("BASKET_GUEST_TTL"))
		if err != nil {
			return nil, err
		}
		store := &basketStore{dapr: d.Client, store: stateStore, guestTTL: ttl}
		invoke := daprapp.NewInvoker(d.Config)
		// Guest baskets are counted in basket's store, so every replica
		// sees them.
		guests := limit.New(10*time.Minute, map[string]int{"client": guestsPerClient}, limit.DaprCounts{Client: d.Client, Store: stateStore})
		svc := &Service{guests: guests, baskets: store, checkouts: store, handled: store,
			catalog:  &catalogClient{invoke: invoke, log: d.Log},
			payments: &paymentClient{dapr: d.Client, log: d.Log}, publisher: checkoutPublisher{dapr: d.Client}, log: d.Log}
		return NewServer(d.Log, d.Config, caller.NewVerifier(invoke), svc), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "basket:", err)
		os.Exit(1)
	}
}

// guestsPerClient is how many guest baskets one client address may start
// in ten minutes: plenty for a household behind one address, few for a
// script.
const guestsPerClient = 30

// guestTTL reads BASKET_GUEST_TTL.
func guestTTL(v string) (time.Duration, error) {
	if v == "" {
		return guestCookieLife, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("BASKET_GUEST_TTL=%q is not a duration of at least 1s", v)
	}
	return d, nil
}
