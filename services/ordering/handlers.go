package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/dapr/durabletask-go/api"
	"github.com/dapr/durabletask-go/workflow"
	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
	"github.com/bazaar-shop/bazaar/internal/money"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

// Workflows starts and steers saga instances.
type Workflows interface {
	Start(ctx context.Context, in sagaInput) error
	Sagas
}

type workflows struct{ client *workflow.Client }

// Start schedules the saga for an order unless it already runs: the order id
// is the instance id, so a redelivered event is a no-op.
//
// An instance can also exist without ever running: Dapr 1.16.0 stores a new
// instance before it asks the scheduler for the reminder that starts it, and
// when the scheduler is down at that moment the call fails but the instance
// stays, pending forever. So a pending instance is created again (the reuse
// policy replaces it); nothing of it has run, so nothing runs twice.
func (w *workflows) Start(ctx context.Context, in sagaInput) error {
	id := in.Checkout.OrderID
	md, err := w.client.FetchWorkflowMetadata(ctx, id)
	switch {
	case err == nil && md.RuntimeStatus != api.RUNTIME_STATUS_PENDING:
		return nil
	case err != nil && !errors.Is(err, api.ErrInstanceNotFound):
		return fmt.Errorf("look up saga %s: %w", id, err)
	}
	replacePending := workflow.NewWorkflowOptions(api.WithOrchestrationIdReusePolicy(&api.OrchestrationIdReusePolicy{ //nolint:staticcheck // the only way to say it in durabletask-go v0.10
		OperationStatus: []api.OrchestrationStatus{api.RUNTIME_STATUS_PENDING},
		Action:          api.REUSE_ID_ACTION_TERMINATE,
	}))
	if _, err := w.client.ScheduleWorkflow(ctx, checkoutWorkflow, workflow.WithInstanceID(id), workflow.WithInput(in), replacePending); err != nil {
		// Perhaps a concurrent delivery started it: the broker redelivers,
		// and the next try finds it running.
		return fmt.Errorf("start saga %s: %w", id, err)
	}
	return nil
}

// Raise hands an event (cancelEvent, shipEvent) to an order's saga, which
// waits for it; it implements Sagas.
func (w *workflows) Raise(ctx context.Context, orderID, event string) error {
	return w.client.RaiseEvent(ctx, orderID, event)
}

// startSaga starts the saga for an accepted checkout (checkout.accepted).
func startSaga(wf Workflows, settings sagaSettings) daprapp.EventHandler {
	return func(ctx context.Context, e daprapp.Event) error {
		var c events.Checkout
		if err := json.Unmarshal(e.Data, &c); err != nil {
			return fmt.Errorf("%w: %v", daprapp.ErrPoison, err)
		}
		if err := checkCheckout(c); err != nil {
			return fmt.Errorf("%w: %w", daprapp.ErrPoison, err)
		}
		in := settings.input(c)
		in.Trace = telemetry.TraceParent(ctx)
		return wf.Start(ctx, in)
	}
}

// Limits of an accepted checkout (basket's are lower); with them a total
// cannot overflow.
const maxCheckoutLines, maxLineQuantity, maxUnitPrice = 100, 1000, 1_000_000_00

// checkCheckout refuses an accepted checkout that basket could not have
// sent: what is missing, a line without a product, a quantity or price out
// of range, or a total that is not the sum of its lines. Prices themselves
// are checked against catalog's when the stock is reserved, and the card
// token against the order by payment.
func checkCheckout(c events.Checkout) error {
	if c.OrderID == "" || c.UserID == "" || len(c.Lines) == 0 || c.CardToken == "" {
		return errors.New("a checkout needs orderId, userId, lines and cardToken")
	}
	if len(c.Lines) > maxCheckoutLines {
		return fmt.Errorf("a checkout holds at most %d lines", maxCheckoutLines)
	}
	sum := money.EUR(0)
	for i, l := range c.Lines {
		if l.ProductID == "" || l.Quantity < 1 || l.Quantity > maxLineQuantity ||
			l.UnitPrice.Amount <= 0 || l.UnitPrice.Amount > maxUnitPrice {
			return fmt.Errorf("lines[%d] needs a productId, a quantity of 1 to %d and a unitPrice of 1 to %d cents", i, maxLineQuantity, maxUnitPrice)
		}
		if l.SKU != "" && contracts.ProductOfSKU(l.SKU) != l.ProductID {
			return fmt.Errorf("lines[%d]: sku %q is not a variant of %q", i, l.SKU, l.ProductID)
		}
		var err error
		if sum, err = sum.Plus(l.UnitPrice.Times(l.Quantity)); err != nil {
			return fmt.Errorf("lines[%d]: %w", i, err)
		}
	}
	if c.Total != sum {
		return fmt.Errorf("total %s is not the sum of the lines (%s)", c.Total, sum)
	}
	return nil
}

// viewer is who the request comes from; anonymous callers are refused.
func viewer(r *http.Request) (Viewer, error) {
	u, err := caller.User(r)
	return Viewer{UserID: u, Admin: caller.IsAdmin(r)}, err
}

func listOrders(log *slog.Logger, o Ordering) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := viewer(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		list, err := o.Mine(r.Context(), v)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, list)
	})
}

func getOrder(log *slog.Logger, o Ordering) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := viewer(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		order, err := o.Order(r.Context(), v, mux.Vars(r)["id"])
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, order)
	})
}

// raise answers a cancel or ship request: 202 once the saga has it.
func raise(log *slog.Logger, step func(Ordering, context.Context, Viewer, string) (Order, error), o Ordering) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := viewer(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		order, err := step(o, r.Context(), v, mux.Vars(r)["id"])
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusAccepted, map[string]string{"orderId": order.ID})
	})
}
