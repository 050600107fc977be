package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/contracts"
)

const checkoutBody = `{"shippingAddress":{"name":"Ann","street":"1 Main St","city":"Lyon","postalCode":"69001","country":"FR"},` +
	`"card":{"number":"4242 4242 4242 4242","expiry":"12/39","cvc":"123"}}`

// serve sends a request as user to h and decodes the answer.
func serve(t *testing.T, h http.Handler, r *http.Request, user string) (int, map[string]any) {
	t.Helper()
	r = r.WithContext(caller.WithClaims(r.Context(), authn.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: user}}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	return w.Code, body
}

func checkoutRequest(key, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/basket/checkout", strings.NewReader(body))
	if key != "" {
		r.Header.Set(contracts.IdempotencyKeyHeader, key)
	}
	return r
}

func TestCheckoutHandler(t *testing.T) {
	t.Run("payment down is 503 payment_unavailable", func(t *testing.T) {
		w := newCheckoutWorld()
		seed(t, w.baskets, "ann", headlamps(1))
		w.payments.err = errPaymentDown
		status, body := serve(t, checkout(discard(), w.svc), checkoutRequest("checkout-key-1", checkoutBody), "ann")
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.Equal(t, "payment_unavailable", body["code"])
		assert.NotEmpty(t, body["detail"])
	})
	t.Run("a missing key is refused before the body is read", func(t *testing.T) {
		w := newCheckoutWorld()
		status, body := serve(t, checkout(discard(), w.svc), checkoutRequest("", `{"card":`), "ann")
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "idempotency_key_required", body["code"])
	})
	t.Run("accepted, and the same again", func(t *testing.T) {
		w := newCheckoutWorld()
		seed(t, w.baskets, "ann", headlamps(1))
		h := checkout(discard(), w.svc)
		status, first := serve(t, h, checkoutRequest("checkout-key-1", checkoutBody), "ann")
		require.Equal(t, http.StatusAccepted, status, first)
		status, again := serve(t, h, checkoutRequest("checkout-key-1", checkoutBody), "ann")
		require.Equal(t, http.StatusAccepted, status, again)
		assert.Equal(t, first, again)
		assert.Equal(t, map[string]any{"orderId": orderID("ann", "checkout-key-1")}, first)
		assert.Len(t, w.pub.sent, 1)
	})
}

func TestSetItemCatalogDown(t *testing.T) {
	w := newCheckoutWorld()
	w.catalog.err = errCatalogDown
	r := mux.SetURLVars(httptest.NewRequest(http.MethodPut, "/basket/items/headlamp", strings.NewReader(`{"quantity":1}`)),
		map[string]string{"productId": "headlamp"})
	status, body := serve(t, setItem(discard(), w.svc), r, "ann")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "catalog_unavailable", body["code"])
}
