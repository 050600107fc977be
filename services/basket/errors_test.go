package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestProblem(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
		field  string
	}{
		{&InvalidError{Fields: map[string]string{"quantity": "x"}}, 422, "invalid_input", "quantity"},
		{&CardError{Fields: map[string]string{"card.number": "x"}}, 422, "invalid_input", "card.number"},
		{&StockError{Stock: 3}, 409, "insufficient_stock", "quantity"},
		{&LimitError{InCart: 98}, 422, "invalid_input", "quantity"},
		{ErrUnknownProduct, 422, "unknown_product", "productId"},
		{ErrConflict, 409, "basket_busy", ""},
		{ErrIdempotencyKey, 400, "idempotency_key_required", "Idempotency-Key"},
		{ErrEmptyBasket, 422, "empty_basket", ""},
		{fmt.Errorf("ask catalog: %w", errCatalogDown), 503, "catalog_unavailable", ""},
		{fmt.Errorf("tokenize: %w", errPaymentDown), 503, "payment_unavailable", ""},
		{errors.New("state store down"), 500, "internal", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code+" "+tt.err.Error(), func(t *testing.T) {
			status, code, fields := problemOf(problem(tt.err))
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.code, code)
			if tt.field != "" {
				assert.Contains(t, fields, tt.field)
			}
		})
	}
	t.Run("unavailable services say nothing of the cause", func(t *testing.T) {
		for _, err := range []error{errCatalogDown, errPaymentDown} {
			assert.NotContains(t, problem(err).Error(), "refused")
			assert.NotContains(t, problem(err).Error(), "rpc")
		}
	})
	t.Run("an unknown error stays as it is", func(t *testing.T) {
		err := errors.New("state store down")
		assert.Same(t, err, problem(err))
	})
}
