package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/bazaar-shop/bazaar/internal/contracts"
)

// Stock reservations for the checkout saga (contracts.Reservation, called by
// ordering): the rules, in plain Go. Stock leaves the shelf when it is
// reserved; a release puts it back, a commit makes it final.
//
// A hold is recorded inside the product (Product.Holds, by order and, for
// a variant, its SKU) in the same write that takes its stock, so a retry after a crash skips the lines
// already held instead of taking their stock twice. Each product is changed
// on its own, never in a multi-key transaction: Redis runs a transaction's
// other writes even when one ETag check fails, which oversold stock.

type (
	// Reservation is the contract's, which ordering sends and reads; the
	// short name reads better in the rules below.
	Reservation = contracts.Reservation
	// ReservationLine is the contract's: one product and how many to hold.
	ReservationLine = contracts.ReservationLine
)

// Limits of a reservation.
const (
	maxOrderID, maxLines, maxQuantity = 64, 100, 1000
)

var (
	// ErrNoReservation means the order has no reservation to commit.
	ErrNoReservation = errors.New("no reservation")
	// ErrReservationExists means the order has a reservation already: a
	// first write lost to another (Reservations.Create).
	ErrReservationExists = errors.New("reservation exists")
	// errInsufficientStock and errPriceChanged mean a line could not be
	// held; the order's reservation is then rejected, which is an answer,
	// not a failure.
	errInsufficientStock = errors.New("insufficient stock")
	errPriceChanged      = errors.New("price changed")
)

// Shelf changes products' stock and holds one product at a time.
type Shelf interface {
	// Change applies change to the product as stored and writes the result
	// as one write; when another write came in between, it applies change
	// again to the newer product. change reports whether it changed
	// anything (nothing is written if not); its error is returned as is, as
	// is ErrNotFound for an unknown product.
	Change(ctx context.Context, id string, change func(*Product) (bool, error)) error
}

// Reservations keeps one reservation per order, with a version (ETag) so
// that the first settlement wins.
type Reservations interface {
	// Get is the order's reservation and its version; ok is false when
	// there is none.
	Get(ctx context.Context, orderID string) (r Reservation, etag string, ok bool, err error)
	// Create stores r only if the order has no reservation yet (else
	// ErrReservationExists): the first of a reservation and an early
	// release wins.
	Create(ctx context.Context, r Reservation) error
	// Replace stores r if the order's reservation is still at version etag.
	Replace(ctx context.Context, r Reservation, etag string) error
}

// ReservationRequest asks to hold an order's lines (POST /reservations).
type ReservationRequest contracts.Reservation

// Valid lists what is wrong with the request, by field (httpapi.Decode
// calls it, and so does Stock.Reserve).
func (r ReservationRequest) Valid(context.Context) map[string]string {
	p := map[string]string{}
	if r.OrderID == "" || len(r.OrderID) > maxOrderID {
		p["orderId"] = fmt.Sprintf("is required (at most %d characters)", maxOrderID)
	}
	if len(r.Lines) == 0 || len(r.Lines) > maxLines {
		p["lines"] = fmt.Sprintf("must hold 1 to %d lines", maxLines)
	}
	seen := map[string]bool{}
	for i, l := range r.Lines {
		if l.Quantity < 1 || l.Quantity > maxQuantity {
			p[fmt.Sprintf("lines[%d].quantity", i)] = fmt.Sprintf("must be between 1 and %d", maxQuantity)
		}
		if l.SKU != "" && contracts.ProductOfSKU(l.SKU) != l.ProductID {
			p[fmt.Sprintf("lines[%d].sku", i)] = "is not a SKU of the line's product"
		}
		if seen[l.Item()] {
			p[fmt.Sprintf("lines[%d].productId", i)] = "appears twice"
		}
		seen[l.Item()] = true
	}
	return p
}

// Stock is the reservation use cases over the shelf and the reservations.
type Stock struct {
	shelf        Shelf
	reservations Reservations
}

// Reserve holds every line of an order, or none. The answer's status says
// which: reserved, or rejected (with the reason) when a line's product is
// unknown, short of stock or no longer at the price the line says. It is idempotent per order: asking again answers the
// reservation made first, and so does asking after a release (the
// release's mark, holding nothing).
func (s Stock) Reserve(ctx context.Context, req ReservationRequest) (Reservation, error) {
	if problems := req.Valid(ctx); len(problems) > 0 {
		return Reservation{}, &InvalidError{Fields: problems}
	}
	orderID, lines := req.OrderID, req.Lines
	if prev, _, ok, err := s.reservations.Get(ctx, orderID); err != nil || ok {
		return prev, err
	}
	status, reason := contracts.Reserved, ""
	for _, l := range lines {
		err := s.shelf.Change(ctx, l.ProductID, func(p *Product) (bool, error) { return hold(p, orderID, l) })
		if reason = rejection(err); reason != "" {
			status = contracts.Rejected
			break
		}
		if err != nil {
			// The lines held so far stay held: a retry skips them.
			return Reservation{}, err
		}
	}
	if status == contracts.Rejected {
		// When a line cannot be held, the lines held so far are given back.
		if err := s.dropHolds(ctx, orderID, lines, true); err != nil {
			return Reservation{}, err
		}
	}
	r := Reservation{OrderID: orderID, Status: status, Reason: reason, Lines: lines}
	err := s.reservations.Create(ctx, r)
	if errors.Is(err, ErrReservationExists) {
		// Another call wrote first. Its answer stands. The holds on the
		// products are the order's, not this call's: they belong to that
		// reservation if it is reserved (the same reservation asked twice at
		// once); otherwise (a release came first, or it was rejected) they
		// go back on the shelf.
		prev, _, _, err := s.reservations.Get(ctx, orderID)
		if err != nil {
			return Reservation{}, err
		}
		if status == contracts.Reserved && prev.Status != contracts.Reserved {
			if err := s.dropHolds(ctx, orderID, lines, true); err != nil {
				return Reservation{}, err
			}
		}
		return prev, nil
	}
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// rejection names why a line could not be held, or is "" if err is not
// a reason to reject the reservation.
func rejection(err error) string {
	switch {
	case errors.Is(err, errInsufficientStock):
		return contracts.OutOfStock
	case errors.Is(err, ErrNotFound):
		return contracts.UnknownProduct
	case errors.Is(err, errPriceChanged):
		return contracts.PriceChanged
	}
	return ""
}

// holdKey names the order's hold of a line in Product.Holds: the order's
// id, and for a variant its SKU as well (an order may hold two variants of
// one product).
func holdKey(orderID string, l ReservationLine) string {
	if l.SKU == "" || l.SKU == l.ProductID {
		return orderID
	}
	return orderID + "/" + l.SKU
}

// hold takes the line's quantity of p's stock (of the line's variant) for
// the order, once.
func hold(p *Product, orderID string, l ReservationLine) (bool, error) {
	key := holdKey(orderID, l)
	if _, held := p.Holds[key]; held {
		return false, nil
	}
	v, i, ok := p.variant(l.Item())
	if !ok {
		return false, ErrNotFound
	}
	if l.UnitPrice != nil && *l.UnitPrice != v.Price {
		return false, errPriceChanged
	}
	qty := l.Quantity
	if v.Stock < qty {
		return false, errInsufficientStock
	}
	p.restock(i, -qty)
	if p.Holds == nil {
		p.Holds = map[string]int{}
	}
	p.Holds[key] = qty
	return true, nil
}

// Release puts an order's held stock back on the shelf, once. Releasing an
// order that holds nothing yet leaves a released mark, so that a
// reservation still on its way holds nothing.
func (s Stock) Release(ctx context.Context, orderID string) (Reservation, error) {
	return s.settle(ctx, orderID, contracts.Released)
}

// Commit makes an order's held stock final (the order is paid), once; an
// order without a reservation is ErrNoReservation.
func (s Stock) Commit(ctx context.Context, orderID string) (Reservation, error) {
	return s.settle(ctx, orderID, contracts.Committed)
}

// settle releases or commits a reservation. A reservation settled before,
// or rejected (it holds nothing), is answered as it is.
func (s Stock) settle(ctx context.Context, orderID, to string) (Reservation, error) {
	r, etag, ok, err := s.reservations.Get(ctx, orderID)
	if err != nil {
		return Reservation{}, err
	}
	if ok && r.Status != contracts.Reserved {
		return r, nil
	}
	if !ok {
		if to != contracts.Released {
			return Reservation{}, ErrNoReservation
		}
		mark := Reservation{OrderID: orderID, Status: contracts.Released}
		if err := s.reservations.Create(ctx, mark); errors.Is(err, ErrReservationExists) {
			return s.settle(ctx, orderID, to) // it arrived first: release it
		} else if err != nil {
			return Reservation{}, err
		}
		return mark, nil
	}
	if err := s.dropHolds(ctx, orderID, r.Lines, to == contracts.Released); err != nil {
		return Reservation{}, err
	}
	r.Status = to
	// Two settles at once: the holds are dropped once (dropHolds skips
	// products without the hold); the version keeps the first status.
	if err := s.reservations.Replace(ctx, r, etag); err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// dropHolds removes the order's holds from its products, putting the stock
// back when restock is set. Products without a hold, or gone, are left
// alone.
func (s Stock) dropHolds(ctx context.Context, orderID string, lines []ReservationLine, restock bool) error {
	for _, l := range lines {
		err := s.shelf.Change(ctx, l.ProductID, func(p *Product) (bool, error) {
			key := holdKey(orderID, l)
			qty, held := p.Holds[key]
			if !held {
				return false, nil
			}
			if _, i, ok := p.variant(l.Item()); ok && restock {
				p.restock(i, qty)
			}
			delete(p.Holds, key)
			return true, nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
