package main

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// problem maps the basket's domain errors to what the API and the
// fragments answer; anything else stays an internal error (a 500 without
// detail).
func problem(err error) error {
	var invalid *InvalidError
	var refused *CardError
	var stock *StockError
	var limit *LimitError
	switch {
	case errors.As(err, &invalid):
		return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Detail: "some fields are not valid", Fields: invalid.Fields}
	case errors.As(err, &refused):
		return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Detail: "the card was refused", Fields: refused.Fields}
	case errors.As(err, &stock):
		return &httpapi.Error{Status: http.StatusConflict, Code: "insufficient_stock", Detail: "not enough in stock",
			Fields: map[string]string{"quantity": "at most " + strconv.Itoa(stock.Stock) + " in stock"}}
	case errors.As(err, &limit):
		return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Detail: "some fields are not valid",
			Fields: map[string]string{"quantity": "a basket holds at most " + strconv.Itoa(MaxQuantity) + " of one product"}}
	case errors.Is(err, ErrUnknownProduct):
		return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "unknown_product", Detail: "no such product",
			Fields: map[string]string{"productId": "no such product"}}
	case errors.Is(err, ErrConflict):
		return httpapi.Errorf(http.StatusConflict, "basket_busy", "the basket is being changed by another request; retry")
	case errors.Is(err, ErrIdempotencyKey):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "idempotency_key_required",
			Detail: "send an Idempotency-Key header of 8 to 64 letters, digits, - or _", Fields: map[string]string{contracts.IdempotencyKeyHeader: "missing or malformed"}}
	case errors.Is(err, ErrTooManyGuests):
		return httpapi.Errorf(http.StatusTooManyRequests, "too_many_baskets", "Too many new carts from your network. Sign in, or try again in a few minutes.")
	case errors.Is(err, ErrEmptyBasket):
		return httpapi.Errorf(http.StatusUnprocessableEntity, "empty_basket", "the basket is empty")
	case errors.Is(err, ErrCatalogUnavailable):
		return httpapi.Errorf(http.StatusServiceUnavailable, "catalog_unavailable", "The catalog did not answer; try again.")
	case errors.Is(err, ErrPaymentUnavailable):
		return httpapi.Errorf(http.StatusServiceUnavailable, "payment_unavailable", "Payment did not answer and nothing was ordered; try again.")
	}
	return err
}
