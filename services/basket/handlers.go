package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// MaxQuantity is the most of one product a basket may hold.
const MaxQuantity = 99

func getBasket(log *slog.Logger, baskets Baskets) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := caller.User(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		b, _, err := baskets.Get(r.Context(), u)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, b.public())
	})
}

// QuantityUpdate is the body of PUT /basket/items/{productId}.
type QuantityUpdate struct {
	Quantity *int `json:"quantity"`
}

// Valid implements httpapi.Validator.
func (q QuantityUpdate) Valid(context.Context) map[string]string {
	if q.Quantity == nil {
		return map[string]string{"quantity": "is required"}
	}
	if *q.Quantity < 0 || *q.Quantity > MaxQuantity {
		return map[string]string{"quantity": "must be between 0 and 99 (0 removes the item)"}
	}
	return nil
}

// setItem sets a product's quantity, with its name and price from catalog.
func setItem(log *slog.Logger, baskets Baskets, catalog Catalog) http.Handler {
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
		item := Item{ProductID: mux.Vars(r)["productId"], Quantity: *q.Quantity}
		if item.Quantity > 0 {
			p, err := catalog.Product(r.Context(), item.ProductID)
			if err != nil {
				fail(w, r, log, err)
				return
			}
			if item.Quantity > p.Stock {
				httpapi.Fail(w, r, log, &httpapi.Error{Status: http.StatusConflict, Code: "insufficient_stock",
					Detail: "not enough in stock", Fields: map[string]string{"quantity": "at most " + strconv.Itoa(p.Stock) + " in stock"}})
				return
			}
			item.Name, item.UnitPrice = p.Name, p.Price
		}
		b, err := update(r.Context(), baskets, u, func(b Basket) Basket { return b.set(item) })
		if err != nil {
			fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, b.public())
	})
}

func removeItem(log *slog.Logger, baskets Baskets) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := caller.User(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		id := mux.Vars(r)["productId"]
		b, err := update(r.Context(), baskets, u, func(b Basket) Basket { return b.set(Item{ProductID: id}) })
		if err != nil {
			fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, b.public())
	})
}

// update applies change to the user's basket under optimistic concurrency,
// retrying a few times when two requests for one user race.
func update(ctx context.Context, baskets Baskets, u string, change func(Basket) Basket) (Basket, error) {
	for range 5 {
		b, etag, err := baskets.Get(ctx, u)
		if err != nil {
			return Basket{}, err
		}
		next := change(b)
		err = baskets.Save(ctx, u, next, etag)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return next, err
	}
	return Basket{}, ErrConflict
}

func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	switch {
	case errors.Is(err, ErrUnknownProduct):
		err = &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "unknown_product", Detail: "no such product",
			Fields: map[string]string{"productId": "no such product"}}
	case errors.Is(err, ErrConflict):
		err = httpapi.Errorf(http.StatusConflict, "basket_busy", "the basket is being changed by another request; retry")
	}
	httpapi.Fail(w, r, log, err)
}
