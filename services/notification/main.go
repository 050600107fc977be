// Command notification tells customers what happened to their orders: it
// subscribes to order.status-changed and sends an e-mail for the statuses
// that matter (paid, cancelled with the reason, shipped) through Dapr's SMTP
// output binding ("mail"), once per order and status. The address comes from
// identity. SHOP_URL is where the links in the messages point.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

const (
	stateStore    = "notification-store"
	mailComponent = "mail"
)

func main() {
	err := daprapp.Run(context.Background(), "notification", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		shop := os.Getenv("SHOP_URL")
		if shop == "" {
			shop = "http://127.0.0.1:8080"
		}
		n := &Notifier{contacts: identityContacts{invoke: daprapp.NewInvoker(d.Config)}, mailer: mailBinding{dapr: d.Client, name: mailComponent},
			sent: sentMarks{dapr: d.Client, store: stateStore}, shopURL: shop, log: d.Log}
		return NewServer(d.Log, d.Config, n), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notification:", err)
		os.Exit(1)
	}
}
