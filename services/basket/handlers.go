package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

func getBasket(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := caller.User(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		b, err := svc.Basket(r.Context(), u)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, b.public())
	})
}

// QuantityUpdate is the body of PUT /basket/items/{productId}.
type QuantityUpdate struct {
	Quantity *int `json:"quantity"`
}

// Valid implements httpapi.Validator, with the domain's limits.
func (q QuantityUpdate) Valid(context.Context) map[string]string {
	if q.Quantity == nil {
		return map[string]string{"quantity": "is required"}
	}
	var invalid *InvalidError
	if errors.As(checkQuantity(*q.Quantity, 0), &invalid) {
		return invalid.Fields
	}
	return nil
}

// setItem sets a product's quantity, with its name and price from catalog.
func setItem(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := caller.User(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		q, err := httpapi.Decode[QuantityUpdate](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		b, err := svc.Set(r.Context(), u, mux.Vars(r)["productId"], *q.Quantity)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, b.public())
	})
}

func removeItem(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := caller.User(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		b, err := svc.Remove(r.Context(), u, mux.Vars(r)["productId"])
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, b.public())
	})
}

// checkout answers 202 with the order's id; ordering's saga takes it from
// there.
func checkout(log *slog.Logger, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := caller.User(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		// The key is refused before the body is read, so a client missing
		// it learns that first.
		key := r.Header.Get(contracts.IdempotencyKeyHeader)
		if err := checkKey(key); err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		req, err := httpapi.Decode[CheckoutRequest](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		id, err := svc.Checkout(r.Context(), u, key, req)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusAccepted, map[string]string{"orderId": id})
	})
}
