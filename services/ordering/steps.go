package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// The saga's steps in plain Go: what each one does to the order, the stock and
// the payment, with every outside party behind a small interface. The
// workflow (saga.go) only sequences them; these functions hold the rules and
// are unit-tested with fakes.
//
// Every step may run more than once: the workflow engine re-runs a step whose
// worker died, and a failed step is retried on a durable timer. So each
// piece is idempotent: a status is stored once per order, a stock hold and
// a payment authorization are keyed by the order id.

// Stock is what the saga needs of catalog.
type Stock interface {
	// Reserve holds every line or none. A refusal names why nothing was
	// held (events.StockRejected or events.PriceChanged); "" means held.
	Reserve(ctx context.Context, orderID string, lines []events.Line) (refusal string, err error)
	// Commit makes the holds final; Release puts the stock back. Both are
	// idempotent, and Release leaves a mark so that a late Reserve of the
	// same order holds nothing.
	Commit(ctx context.Context, orderID string) error
	Release(ctx context.Context, orderID string) error
}

// Payments is what the saga needs of payment.
type Payments interface {
	// Authorize reserves amount on the tokenized card, once per order.
	Authorize(ctx context.Context, orderID, cardToken string, amount money.Money) (approved bool, err error)
	// Void cancels the order's authorization, or makes sure none can be
	// made later (an authorization that was still in flight).
	Void(ctx context.Context, orderID string) error
}

// Orders stores orders (orderStore over Dapr state).
type Orders interface {
	Get(ctx context.Context, id string) (Order, string, error)
	Create(ctx context.Context, o Order) error
	Save(ctx context.Context, o Order, etag string) error
}

// Publisher announces an order's status changes (order.status-changed).
type Publisher interface {
	StatusChanged(ctx context.Context, c events.StatusChange) error
}

// steps are the saga's units of work.
type steps struct {
	stock    Stock
	payments Payments
	orders   Orders
	events   Publisher
}

// createOrder stores the new order as submitted, lists it for its user and
// announces it.
func (s steps) createOrder(ctx context.Context, c events.Checkout, at string) error {
	o := Order{ID: c.OrderID, UserID: c.UserID, Status: events.Submitted, Lines: c.Lines, Total: c.Total,
		Address: c.Address, CreatedAt: at, History: []Step{{Status: events.Submitted, At: at}}}
	if err := s.orders.Create(ctx, o); err != nil {
		return err
	}
	ordersByStatus.WithLabelValues(events.Submitted, "").Inc()
	return s.events.StatusChanged(ctx, events.StatusChange{OrderID: c.OrderID, UserID: c.UserID, Status: events.Submitted, Lines: c.Lines, At: at})
}

// record moves an order to status (once: a status already reached is kept
// with its first reason) and, if others act on it (events.Announced),
// announces it (at least once). It returns the order as stored.
func (s steps) record(ctx context.Context, id, status, reason, at string) (Order, error) {
	for {
		o, etag, err := s.orders.Get(ctx, id)
		if err != nil {
			return Order{}, err
		}
		if h, ok := o.step(status); ok {
			reason, at = h.Reason, h.At
		} else {
			o.Status, o.Reason = status, reason
			o.History = append(o.History, Step{Status: status, Reason: reason, At: at})
			err := s.orders.Save(ctx, o, etag)
			if errors.Is(err, errConflict) {
				continue // someone else moved it on meanwhile: read again
			}
			if err != nil {
				return Order{}, err
			}
			ordersByStatus.WithLabelValues(status, reason).Inc()
		}
		if !events.Announced(status) {
			return o, nil
		}
		return o, s.events.StatusChanged(ctx, events.StatusChange{OrderID: o.ID, UserID: o.UserID, Status: status, Reason: reason, At: at})
	}
}

// reserveStock asks catalog to hold every line, recording awaiting_stock
// before and the outcome after: stock_confirmed, or cancelled with the
// refusal (stock_rejected, or price_changed when a line's price is not
// catalog's: the event's prices are checked, not trusted).
func (s steps) reserveStock(ctx context.Context, c events.Checkout, at string) (string, error) {
	if _, err := s.record(ctx, c.OrderID, events.AwaitingStock, "", at); err != nil {
		return "", err
	}
	refusal, err := s.stock.Reserve(ctx, c.OrderID, c.Lines)
	if err != nil {
		return "", fmt.Errorf("reserve stock: %w", err)
	}
	if refusal != "" {
		_, err := s.record(ctx, c.OrderID, events.Cancelled, refusal, at)
		return events.Cancelled, err
	}
	_, err = s.record(ctx, c.OrderID, events.StockConfirmed, "", at)
	return events.StockConfirmed, err
}

// takePayment asks payment to authorize the total. Approved: the order is
// paid, then its stock holds become final. Declined: the order is cancelled
// (never through paid), then its stock goes back on the shelf.
func (s steps) takePayment(ctx context.Context, c events.Checkout, at string) (string, error) {
	approved, err := s.payments.Authorize(ctx, c.OrderID, c.CardToken, c.Total)
	if err != nil {
		return "", fmt.Errorf("authorize payment: %w", err)
	}
	if !approved {
		if _, err := s.record(ctx, c.OrderID, events.Cancelled, events.PaymentDeclined, at); err != nil {
			return "", err
		}
		return events.Cancelled, s.stock.Release(ctx, c.OrderID)
	}
	if _, err := s.record(ctx, c.OrderID, events.Paid, "", at); err != nil {
		return "", err
	}
	return events.Paid, s.stock.Commit(ctx, c.OrderID)
}

// giveUp ends an order whose step ran out of its retry budget. An order that
// was paid meanwhile stays paid (its stock is committed). Any other order is
// cancelled with reason, then compensated: its stock released and, when the
// payment may have been asked, any authorization voided. It is retried until
// it completes, so compensation happens once the other services are back.
func (s steps) giveUp(ctx context.Context, c events.Checkout, reason, at string, void bool) (string, error) {
	o, _, err := s.orders.Get(ctx, c.OrderID)
	if err != nil {
		return "", err
	}
	if _, paid := o.step(events.Paid); paid {
		return events.Paid, s.stock.Commit(ctx, c.OrderID)
	}
	if _, err := s.record(ctx, c.OrderID, events.Cancelled, reason, at); err != nil {
		return "", err
	}
	if err := s.stock.Release(ctx, c.OrderID); err != nil {
		return "", fmt.Errorf("release stock: %w", err)
	}
	if void {
		if err := s.payments.Void(ctx, c.OrderID); err != nil {
			return "", fmt.Errorf("void payment: %w", err)
		}
	}
	return events.Cancelled, nil
}

// step returns the history entry of status, if the order reached it.
func (o Order) step(status string) (Step, bool) {
	for _, h := range o.History {
		if h.Status == status {
			return h, true
		}
	}
	return Step{}, false
}
