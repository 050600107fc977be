// Command ordering is Bazaar's ordering service. It turns an accepted
// checkout into an order and runs the checkout saga as a durable Dapr
// Workflow, one instance per order: grace period, stock, payment, shipping.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/dapr/go-sdk/workflow"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

func main() {
	err := daprapp.Run(context.Background(), "ordering", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		grace, err := gracePeriod(os.Getenv("ORDERING_GRACE_PERIOD"))
		if err != nil {
			return nil, err
		}
		orders := &orderStore{dapr: d.Client, store: stateStore}
		s := &saga{orders: orders, dapr: d.Client, invoke: daprapp.NewInvoker(d.Config), log: d.Log}
		worker, err := workflow.NewWorker(workflow.WorkerWithDaprClient(d.Client))
		if err != nil {
			return nil, err
		}
		if err := s.register(worker); err != nil {
			return nil, err
		}
		wf, err := workflow.NewClient(workflow.WithDaprClient(d.Client))
		if err != nil {
			return nil, err
		}
		// The workflow engine lives in the sidecar, which waits for our port:
		// start the worker once the sidecar is up.
		go func() {
			if err := daprapp.WaitForSidecar(ctx, d.Config); err != nil {
				return
			}
			if err := worker.Start(); err != nil {
				d.Log.ErrorContext(ctx, "workflow worker did not start", "err", err)
				return
			}
			d.Log.InfoContext(ctx, "workflow worker started")
			<-ctx.Done()
			_ = worker.Shutdown()
		}()
		return NewServer(d.Log, d.Config, caller.NewVerifier(s.invoke), orders, &workflows{client: wf, saga: s}, grace, s.invoke), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordering:", err)
		os.Exit(1)
	}
}

// gracePeriod parses ORDERING_GRACE_PERIOD (default 10s), during which a
// customer may still cancel an order before stock and payment are touched.
func gracePeriod(v string) (time.Duration, error) {
	if v == "" {
		return 10 * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > time.Hour {
		return 0, fmt.Errorf("ORDERING_GRACE_PERIOD=%q is not a duration between 0s and 1h", v)
	}
	return d, nil
}
