// Command shell composes Bazaar's pages. Each page names its slots (which
// service's fragment, with what parameters, how long to wait, whether the
// page can do without it); the shell fetches them in parallel by Dapr
// service invocation and draws the page around them. It owns no data: the
// layout, header and footer, error pages and the system status page.
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
	err := daprapp.Run(context.Background(), "shell", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		invoke := daprapp.NewInvoker(d.Config)
		return NewServer(d.Log, d.Config, invoke, newStatusChecker(d.Config, invoke, nameResolutionRoster(os.Getenv("BAZAAR_NAME_RESOLUTION")), os.Getenv("BAZAAR_METRICS_URL")),
			caller.NewVerifier(invoke), newTraceReader(os.Getenv("BAZAAR_TRACES_URL")), newMailReader(os.Getenv("BAZAAR_MAIL_URL"))), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "shell:", err)
		os.Exit(1)
	}
}
