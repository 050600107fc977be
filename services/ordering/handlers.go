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
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// Workflows starts and steers saga instances.
type Workflows interface {
	Start(ctx context.Context, in sagaInput) error
	Raise(ctx context.Context, orderID, event string) error
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
		if c.OrderID == "" || c.UserID == "" || len(c.Lines) == 0 || c.CardToken == "" {
			return fmt.Errorf("%w: a checkout needs orderId, userId, lines and cardToken", daprapp.ErrPoison)
		}
		return wf.Start(ctx, settings.input(c))
	}
}

func listOrders(log *slog.Logger, orders *orderStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := caller.User(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		list, err := orders.ForUser(r.Context(), u)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, list)
	})
}

// ownOrder loads the order in the path if it belongs to the caller (or the
// caller is an admin). Someone else's order is "not found", not "forbidden":
// the answer must not tell that the id exists.
func ownOrder(r *http.Request, orders *orderStore) (Order, error) {
	u, err := caller.User(r)
	if err != nil {
		return Order{}, err
	}
	o, _, err := orders.Get(r.Context(), mux.Vars(r)["id"])
	if errors.Is(err, ErrNotFound) || err == nil && o.UserID != u && !caller.IsAdmin(r) {
		return Order{}, httpapi.Errorf(http.StatusNotFound, "order_not_found", "no such order")
	}
	return o, err
}

func getOrder(log *slog.Logger, orders *orderStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := ownOrder(r, orders)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, o)
	})
}

// cancelOrder cancels during the grace period only (202); later it is 409.
func cancelOrder(log *slog.Logger, orders *orderStore, wf Workflows) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := ownOrder(r, orders)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		if o.Status != events.Submitted {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusConflict, "too_late_to_cancel", "the order is %s; it can be cancelled only while submitted", o.Status))
			return
		}
		if err := wf.Raise(r.Context(), o.ID, cancelEvent); err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusAccepted, map[string]string{"orderId": o.ID})
	})
}

// shipOrder is for admins: a paid order moves to shipped.
func shipOrder(log *slog.Logger, orders *orderStore, wf Workflows) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := caller.RequireAdmin(r); err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		o, err := ownOrder(r, orders)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		if o.Status != events.Paid {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusConflict, "not_paid", "the order is %s; only paid orders ship", o.Status))
			return
		}
		if err := wf.Raise(r.Context(), o.ID, shipEvent); err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusAccepted, map[string]string{"orderId": o.ID})
	})
}
