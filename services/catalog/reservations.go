package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// Stock reservations for the checkout saga (contracts.Reservation, called
// by ordering). Stock leaves the shelf when it is reserved; a release puts
// it back, a commit makes it final.

type (
	Reservation     = contracts.Reservation
	ReservationLine = contracts.ReservationLine
)

// Reservation states.
const (
	reserved  = contracts.Reserved
	rejected  = contracts.Rejected
	released  = contracts.Released
	committed = contracts.Committed
)

// ErrNoReservation means the order has no reservation to commit.
var ErrNoReservation = errors.New("no reservation")

// ErrInsufficientStock means at least one line could not be held.
var ErrInsufficientStock = errors.New("insufficient stock")

func reservationKey(orderID string) string { return "reservation:" + orderID }

// reservationRequest is a request for a reservation, as ordering sends it.
type reservationRequest contracts.Reservation

// Valid implements httpapi.Validator.
func (r reservationRequest) Valid(context.Context) map[string]string {
	p := map[string]string{}
	if r.OrderID == "" || len(r.OrderID) > 64 {
		p["orderId"] = "is required (at most 64 characters)"
	}
	if len(r.Lines) == 0 || len(r.Lines) > 100 {
		p["lines"] = "must hold 1 to 100 lines"
	}
	seen := map[string]bool{}
	for i, l := range r.Lines {
		if l.Quantity < 1 || l.Quantity > 1000 {
			p[fmt.Sprintf("lines[%d].quantity", i)] = "must be between 1 and 1000"
		}
		if seen[l.ProductID] {
			p[fmt.Sprintf("lines[%d].productId", i)] = "appears twice"
		}
		seen[l.ProductID] = true
	}
	return p
}

// reserve holds every line of an order, or none, and is idempotent per order.
//
// Each product is changed on its own with its ETag, never in a multi-key
// transaction: Redis runs a transaction's other writes even when one ETag
// check fails, which oversold stock. A hold is recorded inside the product
// (Holds[orderID]) in the same write that takes the stock, so a retry after a
// crash skips the lines already held instead of taking their stock twice.
// When a line cannot be held, the lines held so far are given back.
func (s *productStore) reserve(ctx context.Context, orderID string, lines []ReservationLine) (Reservation, error) {
	if prev, ok, err := s.reservation(ctx, orderID); err != nil || ok {
		return prev, err
	}
	status := reserved
	for _, l := range lines {
		err := s.changeProduct(ctx, l.ProductID, func(p *Product) (bool, error) {
			if _, held := p.Holds[orderID]; held {
				return false, nil
			}
			if p.Stock < l.Quantity {
				return false, ErrInsufficientStock
			}
			p.Stock -= l.Quantity
			if p.Holds == nil {
				p.Holds = map[string]int{}
			}
			p.Holds[orderID] = l.Quantity
			return true, nil
		})
		if errors.Is(err, ErrInsufficientStock) || errors.Is(err, ErrNotFound) {
			status = rejected
			break
		}
		if err != nil {
			return Reservation{}, err
		}
	}
	if status == rejected {
		if err := s.dropHolds(ctx, orderID, lines, true); err != nil {
			return Reservation{}, err
		}
	}
	r := Reservation{OrderID: orderID, Status: status, Lines: lines}
	if err := s.createReservation(ctx, r); errors.Is(err, errReservationExists) {
		// A release came first (the saga gave the order up while this call
		// was on its way): it stands, and the holds just taken go back.
		if status == reserved {
			if err := s.dropHolds(ctx, orderID, lines, true); err != nil {
				return Reservation{}, err
			}
		}
		prev, _, err := s.reservation(ctx, orderID)
		return prev, err
	} else if err != nil {
		return Reservation{}, err
	}
	if status == rejected {
		return r, ErrInsufficientStock
	}
	return r, nil
}

// settle releases (stock back on the shelf) or commits a reservation, once.
func (s *productStore) settle(ctx context.Context, orderID, to string) (Reservation, error) {
	r, etag, ok, err := s.reservationWithETag(ctx, orderID)
	if errors.Is(err, ErrInsufficientStock) || err == nil && ok && r.Status != reserved {
		return r, nil // settled before, or never held anything
	}
	if err != nil {
		return Reservation{}, err
	}
	if !ok && to == released {
		// Nothing was held (yet): leave a mark, so that a reservation
		// still on its way holds nothing.
		r = Reservation{OrderID: orderID, Status: released}
		if err := s.createReservation(ctx, r); errors.Is(err, errReservationExists) {
			return s.settle(ctx, orderID, to) // it arrived first: release it
		} else if err != nil {
			return Reservation{}, err
		}
		return r, nil
	}
	if !ok {
		return Reservation{}, ErrNoReservation
	}
	if err := s.dropHolds(ctx, orderID, r.Lines, to == released); err != nil {
		return Reservation{}, err
	}
	r.Status = to
	// Two settles at once: the holds are dropped once (dropHolds skips
	// products without the hold); the ETag keeps the first status.
	return r, s.saveReservation(ctx, r, etag)
}

// dropHolds removes the order's holds from its products, putting the stock
// back when restock is set. Products without a hold are left alone.
func (s *productStore) dropHolds(ctx context.Context, orderID string, lines []ReservationLine, restock bool) error {
	for _, l := range lines {
		err := s.changeProduct(ctx, l.ProductID, func(p *Product) (bool, error) {
			qty, held := p.Holds[orderID]
			if !held {
				return false, nil
			}
			if restock {
				p.Stock += qty
			}
			delete(p.Holds, orderID)
			return true, nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// changeProduct applies change to a product under its ETag, re-reading and
// trying again when another writer got there first.
func (s *productStore) changeProduct(ctx context.Context, id string, change func(*Product) (bool, error)) error {
	for attempt := range 100 {
		p, etag, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		changed, err := change(&p)
		if err != nil || !changed {
			return err
		}
		data, _ := json.Marshal(p)
		err = s.dapr.SaveStateWithETag(ctx, s.store, productKey(id), data, etag, nil,
			dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
		if err == nil {
			return nil
		}
		if !daprapp.IsETagMismatch(err) {
			return fmt.Errorf("save product %s: %w", id, err)
		}
		if sleep(ctx, attempt) != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("change product %s: too much contention", id)
}

// errReservationExists means another write created the order's reservation first.
var errReservationExists = errors.New("reservation written concurrently")

// createReservation stores r only if the order has no reservation yet.
func (s *productStore) createReservation(ctx context.Context, r Reservation) error {
	data, _ := json.Marshal(r)
	err := s.dapr.SaveStateWithETag(ctx, s.store, reservationKey(r.OrderID), data, "", nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	if err == nil {
		return nil
	}
	if _, ok, gerr := s.reservation(ctx, r.OrderID); ok && (gerr == nil || errors.Is(gerr, ErrInsufficientStock)) {
		return errReservationExists
	}
	return fmt.Errorf("save reservation: %w", err)
}

// saveReservation replaces the order's reservation if it is still the one
// read with etag. (On Redis, a key created with first-write can only be
// changed with its ETag.)
func (s *productStore) saveReservation(ctx context.Context, r Reservation, etag string) error {
	data, _ := json.Marshal(r)
	if err := s.dapr.SaveStateWithETag(ctx, s.store, reservationKey(r.OrderID), data, etag, nil,
		dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong)); err != nil {
		return fmt.Errorf("save reservation: %w", err)
	}
	return nil
}

func (s *productStore) reservation(ctx context.Context, orderID string) (Reservation, bool, error) {
	r, _, ok, err := s.reservationWithETag(ctx, orderID)
	return r, ok, err
}

func (s *productStore) reservationWithETag(ctx context.Context, orderID string) (Reservation, string, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, reservationKey(orderID), nil)
	if err != nil {
		return Reservation{}, "", false, fmt.Errorf("read reservation: %w", err)
	}
	if len(item.Value) == 0 {
		return Reservation{}, "", false, nil
	}
	var r Reservation
	if err := json.Unmarshal(item.Value, &r); err != nil {
		return Reservation{}, "", false, err
	}
	if r.Status == rejected {
		return r, item.Etag, true, ErrInsufficientStock
	}
	return r, item.Etag, true, nil
}

// sleep backs off with jitter so that contending reservations spread out.
func sleep(ctx context.Context, attempt int) error {
	d := time.Duration(1+rand.IntN(5*(1+min(attempt, 10)))) * time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
