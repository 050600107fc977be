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

// Viewer is who asks: the rules differ for an order's owner, someone else
// and an admin.
type Viewer struct {
	UserID string
	Admin  bool
}

// Domain errors; errors.go maps them to HTTP for the API and the fragments.
var (
	// ErrNotFound is an order that does not exist, or that the viewer may
	// not see: the two must look the same.
	ErrNotFound = errors.New("no such order")
	// ErrForbidden is a step only an admin may take.
	ErrForbidden = errors.New("admins only")
)

// TransitionError means the order is not in a status that allows the step,
// so the caller can say which status it is in.
type TransitionError struct {
	Step   string // cancelEvent or shipEvent
	Status string // the order's status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s an order that is %s", e.Step, e.Status)
}

// Cancellable reports whether an order in status may still be cancelled:
// only during its grace period, before its stock is reserved.
func Cancellable(status string) bool { return status == events.Submitted }

// Shippable reports whether an order in status may be shipped: only once it
// is paid (and not shipped already). The admin list asks it too, to offer
// the Ship button only where shipping is allowed.
func Shippable(status string) bool { return status == events.Paid }

// OrderReader is what ordering reads of its orders (orderStore in store.go).
type OrderReader interface {
	Get(ctx context.Context, id string) (Order, string, error)
	ForUser(ctx context.Context, user string) ([]Summary, error)
	Recent(ctx context.Context) ([]Summary, error)
}

// Sagas steer an order's running saga (workflows in handlers.go): cancel
// and ship are events the saga waits for, never writes to the order.
type Sagas interface {
	Raise(ctx context.Context, orderID, event string) error
}

// Ordering is the use cases of orders, for the API and the pages alike.
type Ordering struct {
	orders  OrderReader
	sagas   Sagas
	changes *orderChanges // this replica's writes, for Await; nil: none
}

// Order is the order id, if v may see it: its owner or an admin. Someone
// else's order is ErrNotFound, like one that does not exist, so that the
// answer does not tell that the id exists.
func (o Ordering) Order(ctx context.Context, v Viewer, id string) (Order, error) {
	if !validID(id) {
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

// Track is the order id as the page that follows a checkout sees it. The
// saga stores the order a moment after basket accepts the checkout, so an
// order not stored yet is a submitted one with only its id, and found is
// false; someone else's order looks the same. An id no order can have is
// ErrNotFound.
func (o Ordering) Track(ctx context.Context, v Viewer, id string) (order Order, found bool, err error) {
	if !validID(id) {
		return Order{}, false, ErrNotFound
	}
	order, err = o.Order(ctx, v, id)
	if errors.Is(err, ErrNotFound) {
		return Order{ID: id, Status: events.Submitted}, false, nil
	}
	return order, err == nil, err
}

// validID reports whether id can be an order's, before the store is asked:
// order ids (hex digits basket derives from the checkout's idempotency key)
// have the keys' shape.
func validID(id string) bool { return contracts.ValidIdempotencyKey(id) }

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
// order is Cancellable. Its owner or an admin may.
func (o Ordering) Cancel(ctx context.Context, v Viewer, id string) (Order, error) {
	order, err := o.Order(ctx, v, id)
	if err != nil {
		return Order{}, err
	}
	if !Cancellable(order.Status) {
		return order, &TransitionError{Step: cancelEvent, Status: order.Status}
	}
	return order, o.sagas.Raise(ctx, order.ID, cancelEvent)
}

// Ship asks the order's saga to hand a Shippable order to the carrier;
// admins only.
func (o Ordering) Ship(ctx context.Context, v Viewer, id string) (Order, error) {
	if !v.Admin {
		return Order{}, ErrForbidden
	}
	order, err := o.Order(ctx, v, id)
	if err != nil {
		return Order{}, err
	}
	if !Shippable(order.Status) {
		return order, &TransitionError{Step: shipEvent, Status: order.Status}
	}
	return order, o.sagas.Raise(ctx, order.ID, shipEvent)
}
