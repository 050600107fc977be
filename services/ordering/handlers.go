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
func (w *workflows) Start(ctx context.Context, in sagaInput) error {
	id := in.Checkout.OrderID
	_, err := w.client.FetchWorkflowMetadata(ctx, id)
	if err == nil {
		return nil
	}
	if !errors.Is(err, api.ErrInstanceNotFound) {
		return fmt.Errorf("look up saga %s: %w", id, err)
	}
	if _, err := w.client.ScheduleWorkflow(ctx, checkoutWorkflow, workflow.WithInstanceID(id), workflow.WithInput(in)); err != nil {
		if _, ferr := w.client.FetchWorkflowMetadata(ctx, id); ferr == nil {
			return nil // a concurrent delivery started it
		}
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
