package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// Reservation holds stock for an order while it is being paid for. Stock
// leaves the shelf when it is reserved; a release puts it back, a commit
// makes it final.
type Reservation struct {
	OrderID string            `json:"orderId"`
	Status  string            `json:"status"` // reserved, rejected, released, committed
	Lines   []ReservationLine `json:"lines"`
}

// ReservationLine is one product and how many to hold.
type ReservationLine struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
}

// Reservation states.
const (
	reserved  = "reserved"
	rejected  = "rejected"
	released  = "released"
	committed = "committed"
)

// ErrInsufficientStock means at least one line could not be held.
var ErrInsufficientStock = errors.New("insufficient stock")

func reservationKey(orderID string) string { return "reservation:" + orderID }

// Valid implements httpapi.Validator.
func (r Reservation) Valid(context.Context) map[string]string {
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

// reserve holds every line of an order, or none. It is idempotent per
// order: asking again returns the first answer. Products are written in one
// state transaction guarded by their ETags, so concurrent reservations of
// the same product cannot oversell; the loser re-reads and tries again.
func (s *productStore) reserve(ctx context.Context, orderID string, lines []ReservationLine) (Reservation, error) {
	var lastErr error
	for attempt := range 60 {
		if prev, ok, err := s.reservation(ctx, orderID); err != nil || ok {
			return prev, err
		}
		ops := make([]*dapr.StateOperation, 0, len(lines)+1)
		status := reserved
		for _, l := range lines {
			p, etag, err := s.Get(ctx, l.ProductID)
			if errors.Is(err, ErrNotFound) {
				status = rejected
				break
			}
			if err != nil {
				return Reservation{}, err
			}
			if p.Stock < l.Quantity {
				status = rejected
				break
			}
			p.Stock -= l.Quantity
			data, _ := json.Marshal(p)
			ops = append(ops, upsert(productKey(p.ID), data, etag))
		}
		r := Reservation{OrderID: orderID, Status: status, Lines: lines}
		if status == rejected {
			ops = ops[:0]
		}
		data, _ := json.Marshal(r)
		// First write of the reservation: a concurrent duplicate of this
		// order loses here rather than reserving twice.
		ops = append(ops, &dapr.StateOperation{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{
			Key: reservationKey(orderID), Value: data,
			Options: &dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite, Consistency: dapr.StateConsistencyStrong}}})
		err := s.dapr.ExecuteStateTransaction(ctx, s.store, nil, ops)
		if err == nil {
			if status == rejected {
				return r, ErrInsufficientStock
			}
			return r, nil
		}
		// A stale ETag (someone reserved the same product first) fails the
		// whole transaction; stores report it differently, so re-read.
		lastErr = err
		if sleep(ctx, attempt) != nil {
			return Reservation{}, ctx.Err()
		}
	}
	return Reservation{}, fmt.Errorf("reserve stock for %s: gave up after contention: %w", orderID, lastErr)
}

// settle releases (stock back on the shelf) or commits a reservation, once.
func (s *productStore) settle(ctx context.Context, orderID, to string) (Reservation, error) {
	var lastErr error
	for attempt := range 60 {
		item, err := s.dapr.GetState(ctx, s.store, reservationKey(orderID), nil)
		if err != nil {
			return Reservation{}, err
		}
		if len(item.Value) == 0 {
			return Reservation{}, ErrNotFound
		}
		var r Reservation
		if err := json.Unmarshal(item.Value, &r); err != nil {
			return Reservation{}, err
		}
		if r.Status != reserved {
			return r, nil // settled before, or never held anything
		}
		var ops []*dapr.StateOperation
		if to == released {
			for _, l := range r.Lines {
				p, etag, err := s.Get(ctx, l.ProductID)
				if err != nil {
					return Reservation{}, err
				}
				p.Stock += l.Quantity
				data, _ := json.Marshal(p)
				ops = append(ops, upsert(productKey(p.ID), data, etag))
			}
		}
		r.Status = to
		data, _ := json.Marshal(r)
		ops = append(ops, upsert(reservationKey(orderID), data, item.Etag))
		if lastErr = s.dapr.ExecuteStateTransaction(ctx, s.store, nil, ops); lastErr == nil {
			return r, nil
		}
		if sleep(ctx, attempt) != nil {
			return Reservation{}, ctx.Err()
		}
	}
	return Reservation{}, fmt.Errorf("settle reservation %s: %w", orderID, lastErr)
}

func (s *productStore) reservation(ctx context.Context, orderID string) (Reservation, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, reservationKey(orderID), nil)
	if err != nil {
		return Reservation{}, false, fmt.Errorf("read reservation: %w", err)
	}
	if len(item.Value) == 0 {
		return Reservation{}, false, nil
	}
	var r Reservation
	if err := json.Unmarshal(item.Value, &r); err != nil {
		return Reservation{}, false, err
	}
	if r.Status == rejected {
		return r, true, ErrInsufficientStock
	}
	return r, true, nil
}

func upsert(key string, data []byte, etag string) *dapr.StateOperation {
	return &dapr.StateOperation{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{
		Key: key, Value: data, Etag: &dapr.ETag{Value: etag},
		Options: &dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite, Consistency: dapr.StateConsistencyStrong}}}
}

// sleep backs off with jitter so that contending reservations spread out.
func sleep(ctx context.Context, attempt int) error {
	d := time.Duration(5+rand.IntN(10*(1+min(attempt, 10)))) * time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func reserveStock(log *slog.Logger, products *productStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := httpapi.Decode[Reservation](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		res, err := products.reserve(r.Context(), req.OrderID, req.Lines)
		if errors.Is(err, ErrInsufficientStock) {
			// A rejection is an answer, not a failure: Dapr's resiliency
			// counts every non-2xx as a fault, and a run of rejections would
			// open the circuit breaker in front of catalog.
			httpapi.JSON(w, http.StatusOK, res)
			return
		}
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, res)
	})
}

func settleReservation(log *slog.Logger, products *productStore, to string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := products.settle(r.Context(), mux.Vars(r)["orderId"], to)
		if errors.Is(err, ErrNotFound) {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusNotFound, "reservation_not_found", "no reservation for this order"))
			return
		}
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, res)
	})
}
