package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
)

// Ordering's domain for people: who may see an order, and when it may be
// cancelled or shipped. The JSON API (handlers.go) and the fragments
// (fragments.go) both call it; the saga's steps are in steps.go. It knows
// nothing of HTTP.

// Viewer is who asks.
type Viewer struct {
	UserID string
	Admin  bool
}

// Domain errors; errors.go maps them to HTTP for the API and the fragments.
var (
	// ErrForbidden: only an admin may do this.
	ErrForbidden = errors.New("admins only")
)

// TransitionError means the order is not in a status that allows the step.
type TransitionError struct {
	Step   string // "cancel" or "ship"
	Status string // the order's status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s an order that is %s", e.Step, e.Status)
}

// OrderReader is what ordering reads of its orders (store.go).
type OrderReader interface {
	Get(ctx context.Context, id string) (Order, string, error)
	ForUser(ctx context.Context, user string) ([]Summary, error)
	Recent(ctx context.Context) ([]Summary, error)
}

// Ordering is the use cases of orders.
type Ordering struct {
	orders    OrderReader
	workflows Workflows
}

// Order is the order id, if v may see it: its owner or an admin. Someone
// else's order is ErrNotFound, like one that does not exist, so that the
// answer does not tell that the id exists.
func (o Ordering) Order(ctx context.Context, v Viewer, id string) (Order, error) {
	if !contracts.ValidIdempotencyKey(id) { // order ids have the keys' shape
		return Order{}, ErrNotFound
	}
	order, _, err := o.orders.Get(ctx, id)
	if err != nil {
		return Order{}, err
	}
	if order.UserID != v.UserID && !v.Admin {
		return Order{}, ErrNotFound
	}
	return order, nil
}

// Mine lists v's own orders, newest first.
func (o Ordering) Mine(ctx context.Context, v Viewer) ([]Summary, error) {
	return o.orders.ForUser(ctx, v.UserID)
}

// Recent lists everyone's latest orders, for admins.
func (o Ordering) Recent(ctx context.Context, v Viewer) ([]Summary, error) {
	if !v.Admin {
		return nil, ErrForbidden
	}
	return o.orders.Recent(ctx)
}

// Cancel asks the order's saga to cancel it, which it can only while the
// order is submitted (its grace period).
func (o Ordering) Cancel(ctx context.Context, v Viewer, id string) (Order, error) {
	order, err := o.Order(ctx, v, id)
	if err != nil {
		return Order{}, err
	}
	if order.Status != events.Submitted {
		return order, &TransitionError{Step: "cancel", Status: order.Status}
	}
	return order, o.workflows.Raise(ctx, order.ID, cancelEvent)
}

// Ship hands a paid order to the carrier; admins only.
func (o Ordering) Ship(ctx context.Context, v Viewer, id string) (Order, error) {
	if !v.Admin {
		return Order{}, ErrForbidden
	}
	order, err := o.Order(ctx, v, id)
	if err != nil {
		return Order{}, err
	}
	if order.Status != events.Paid {
		return order, &TransitionError{Step: "ship", Status: order.Status}
	}
	return order, o.workflows.Raise(ctx, order.ID, shipEvent)
}
