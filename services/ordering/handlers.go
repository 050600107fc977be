package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

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

type workflows struct {
	client *workflow.Client
	orders interface {
		Get(ctx context.Context, id string) (Order, string, error)
	}
}

// Start schedules the saga for an order unless it already ran: the order id
// is the instance id, so a redelivered event, a retried checkout or an
// idempotency key used twice all name the same instance.
//
// The instance alone cannot tell: a settled order's saga (cancelled or
// shipped) is purged from the workflow store after its retention period
// (dapr/config.yaml), and Dapr 1.18 would start a purged id afresh, taking
// stock and payment again. So the order is asked first; an order that has
// settled is never started again, whatever its saga's history.
func (w *workflows) Start(ctx context.Context, in sagaInput) error {
	id := in.Checkout.OrderID
	o, _, err := w.orders.Get(ctx, id)
	switch {
	case err == nil && sagaEnded(o.Status):
		return nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return fmt.Errorf("look up order %s: %w", id, err)
	}
	_, err = w.client.FetchWorkflowMetadata(ctx, id)
	switch {
	case err == nil:
		return nil // running, or waiting to run
	case !errors.Is(err, api.ErrInstanceNotFound):
		return fmt.Errorf("look up saga %s: %w", id, err)
	}
	if _, err := w.client.ScheduleWorkflow(ctx, checkoutWorkflow, workflow.WithInstanceID(id), workflow.WithInput(in)); err != nil {
		if isAlreadyStarted(err) {
			return nil // a concurrent delivery of the same checkout won
		}
		return fmt.Errorf("start saga %s: %w", id, err)
	}
	return nil
}

// sagaEnded reports whether an order's saga has ended: nothing more happens
// to a cancelled or shipped order (a paid one still waits to be shipped).
func sagaEnded(status string) bool { return status == events.Cancelled || status == events.Shipped }

// isAlreadyStarted reports Dapr's refusal to create an instance whose id is
// running ("an active workflow with ID … already exists"); the engine says
// it only in the error's text.
func isAlreadyStarted(err error) bool { return strings.Contains(err.Error(), "already exists") }

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
		id := mux.Vars(r)["id"]
		var order Order
		if seen := r.URL.Query().Get("seen"); seen != "" {
			// A long poll: the answer waits until the status is no longer
			// seen, for at most MaxWait (an order not stored yet counts as
			// submitted).
			var found bool
			order, found, err = o.Await(r.Context(), v, id, seen, MaxWait)
			if err == nil && !found {
				err = ErrNotFound
			}
		} else {
			order, err = o.Order(r.Context(), v, id)
		}
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
