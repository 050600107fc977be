package main

import (
	"errors"
	"net/http"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// problem maps the catalog's domain errors to what the API and the
// fragments answer; anything else stays an internal error (a 500 without
// detail).
func problem(err error) error {
	var invalid *InvalidError
	var badQuery *BadQueryError
	switch {
	case errors.As(err, &invalid):
		return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Detail: "some fields are not valid", Fields: invalid.Fields}
	case errors.As(err, &badQuery):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: "invalid_query", Detail: "some query parameters are not valid", Fields: badQuery.Fields}
	case errors.Is(err, ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, "product_not_found", "There is no such product.")
	case errors.Is(err, ErrExists):
		return httpapi.Errorf(http.StatusConflict, "product_exists", "a product with this name exists")
	case errors.Is(err, ErrConflict):
		return httpapi.Errorf(http.StatusConflict, "etag_mismatch", "the product changed since you read it; read it again and retry")
	case errors.Is(err, ErrNoReservation):
		return httpapi.Errorf(http.StatusNotFound, "reservation_not_found", "no reservation for this order")
	}
	return err
}
