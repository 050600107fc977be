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

	"github.com/dapr/durabletask-go/workflow"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

func main() {
	err := daprapp.Run(context.Background(), "ordering", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		settings, err := readSettings(os.Getenv)
		if err != nil {
			return nil, err
		}
		invoke := daprapp.NewInvoker(d.Config)
		orders := &orderStore{dapr: d.Client, store: stateStore, changes: newOrderChanges()}
		s := &saga{steps: steps{stock: catalogStock{invoke}, payments: paymentService{d.Client}, orders: orders, events: busEvents{d.Client}}}
		registry := workflow.NewRegistry()
		if err := s.register(registry); err != nil {
			return nil, err
		}
		wf := workflow.NewClient(d.Client.GrpcClientConn())
		// The workflow engine lives in the sidecar, which waits for our port:
		// start the worker once the sidecar is up (daprapp says why it is
		// retried until it starts).
		go daprapp.KeepWorkflowWorker(ctx, d.Config, d.Log, func(ctx context.Context) error {
			return wf.StartWorker(ctx, registry)
		})
		return NewServer(d.Log, d.Config, caller.NewVerifier(invoke), orders, &workflows{client: wf, orders: orders}, settings, invoke), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordering:", err)
		os.Exit(1)
	}
}

// readSettings reads the saga's settings from the environment:
// ORDERING_GRACE_PERIOD (default 10s), during which a customer may still
// cancel an order before stock and payment are touched, and
// ORDERING_STEP_BUDGET (default 2m), how long a step that calls catalog or
// payment is retried before the order is given up and compensated.
func readSettings(getenv func(string) string) (sagaSettings, error) {
	grace, err := duration(getenv, "ORDERING_GRACE_PERIOD", 10*time.Second, 0, time.Hour)
	if err != nil {
		return sagaSettings{}, err
	}
	budget, err := duration(getenv, "ORDERING_STEP_BUDGET", DefaultStepBudget, time.Second, 24*time.Hour)
	if err != nil {
		return sagaSettings{}, err
	}
	return sagaSettings{Grace: grace, Budget: budget}, nil
}

func duration(getenv func(string) string, name string, def, lo, hi time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%s=%q is not a duration between %s and %s", name, v, lo, hi)
	}
	return d, nil
}
