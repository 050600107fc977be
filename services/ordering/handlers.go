package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/dapr/go-sdk/workflow"
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

type workflows struct {
	client *workflow.Client
	saga   *saga
}

// Start schedules the saga for an order unless it already runs: the order id
// is the instance id, so a redelivered event is a no-op.
func (w *workflows) Start(ctx context.Context, in sagaInput) error {
	id := in.Checkout.OrderID
	if _, err := w.client.FetchWorkflowMetadata(ctx, id); err == nil {
		return nil
	}
	_, err := w.client.ScheduleNewWorkflow(ctx, taskName(w.saga.Checkout), workflow.WithInstanceID(id), workflow.WithInput(in))
	if err != nil {
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

// onCheckoutAccepted starts the saga for an accepted checkout. A message that
// can never be handled, or a workflow that did not start, is a failure: the
// sidecar retries, then moves it to the dead-letter topic.
func onCheckoutAccepted(log *slog.Logger, wf Workflows, grace time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e daprapp.Event
		var c events.Checkout
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&e); err != nil || json.Unmarshal(e.Data, &c) != nil ||
			c.OrderID == "" || c.UserID == "" || len(c.Lines) == 0 || c.CardToken == "" {
			log.ErrorContext(r.Context(), "poison checkout event: it will end in the dead-letter topic", "event_id", e.ID)
			daprapp.Answer(w, daprapp.Retry)
			return
		}
		if err := wf.Start(r.Context(), sagaInput{Checkout: c, Grace: grace}); err != nil {
			log.WarnContext(r.Context(), "saga did not start; the broker will redeliver", "order", c.OrderID, "err", err)
			daprapp.Answer(w, daprapp.Retry)
			return
		}
		daprapp.Answer(w, daprapp.Success)
	})
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
