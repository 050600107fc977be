package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// fakeInvoker answers every HTTP invocation with status and body, or err.
type fakeInvoker struct {
	status int
	body   string
	err    error
	app    string
	path   string
}

func (f *fakeInvoker) Do(_ context.Context, app string, r *http.Request) (*http.Response, error) {
	f.app, f.path = app, r.URL.Path
	if f.err != nil {
		return nil, f.err
	}
	return &http.Response{StatusCode: f.status, Body: io.NopCloser(strings.NewReader(f.body))}, nil
}

func TestCatalogClient(t *testing.T) {
	tests := []struct {
		name    string
		invoker fakeInvoker
		want    error // errors.Is; nil: a product
		other   bool  // an error that is none of the domain's
	}{
		{name: "a product", invoker: fakeInvoker{status: 200, body: `{"id":"headlamp","name":"Headlamp","price":{"amount":2900,"currency":"EUR"},"stock":4}`}},
		{name: "not found", invoker: fakeInvoker{status: 404, body: `{"code":"product_not_found"}`}, want: ErrUnknownProduct},
		{name: "sidecar cannot reach catalog", invoker: fakeInvoker{status: 500, body: `{"errorCode":"ERR_DIRECT_INVOKE"}`}, want: ErrCatalogUnavailable},
		{name: "catalog overloaded", invoker: fakeInvoker{status: 503}, want: ErrCatalogUnavailable},
		{name: "sidecar unreachable", invoker: fakeInvoker{err: errors.New("connection refused")}, want: ErrCatalogUnavailable},
		{name: "refused by catalog (a bug, not an outage)", invoker: fakeInvoker{status: 401}, other: true},
		{name: "a malformed answer", invoker: fakeInvoker{status: 200, body: `{"id":`}, other: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &catalogClient{invoke: &tt.invoker, log: discard()}
			p, err := c.Product(t.Context(), "head lamp")
			assert.Equal(t, contracts.CatalogApp, tt.invoker.app)
			assert.Equal(t, "/products/head lamp", tt.invoker.path)
			switch {
			case tt.want != nil:
				assert.ErrorIs(t, err, tt.want)
			case tt.other:
				require.Error(t, err)
				assert.NotErrorIs(t, err, ErrCatalogUnavailable)
				assert.NotErrorIs(t, err, ErrUnknownProduct)
			default:
				require.NoError(t, err)
				assert.Equal(t, contracts.Product{ID: "headlamp", Name: "Headlamp", Price: money.EUR(2900), Stock: 4}, p)
			}
		})
	}
}

// fakeDapr answers every gRPC invocation with out, or err.
type fakeDapr struct {
	out         []byte
	err         error
	app, method string
	body        []byte
}

func (f *fakeDapr) InvokeMethodWithContent(_ context.Context, app, method, _ string, c *dapr.DataContent) ([]byte, error) {
	f.app, f.method, f.body = app, method, c.Data
	return f.out, f.err
}

func TestPaymentClient(t *testing.T) {
	tests := []struct {
		name  string
		dapr  fakeDapr
		want  contracts.TokenizeResult
		err   error // errors.Is
		other bool
	}{
		{name: "a token", dapr: fakeDapr{out: []byte(`{"token":"tok_1","last4":"4242"}`)},
			want: contracts.TokenizeResult{Token: "tok_1", Last4: "4242"}},
		{name: "a refused card", dapr: fakeDapr{out: []byte(`{"errors":{"number":"is not a valid card number"}}`)},
			want: contracts.TokenizeResult{Errors: map[string]string{"number": "is not a valid card number"}}},
		{name: "payment down", dapr: fakeDapr{err: status.Error(codes.Unavailable, "connection refused")}, err: ErrPaymentUnavailable},
		{name: "payment failing", dapr: fakeDapr{err: status.Error(codes.Unknown, "payment failed internally")}, err: ErrPaymentUnavailable},
		{name: "an empty answer", dapr: fakeDapr{out: []byte(`{}`)}, other: true},
		{name: "a malformed answer", dapr: fakeDapr{out: []byte(`{`)}, other: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &paymentClient{dapr: &tt.dapr, log: discard()}
			res, err := p.Tokenize(t.Context(), contracts.TokenizeRequest{OrderID: "o1", Details: card.Details{Number: "4242424242424242", Expiry: "12/39", CVC: "123"}})
			assert.Equal(t, contracts.PaymentApp, tt.dapr.app)
			assert.Equal(t, contracts.Tokenize, tt.dapr.method)
			assert.JSONEq(t, `{"orderId":"o1","number":"4242424242424242","expiry":"12/39","cvc":"123"}`, string(tt.dapr.body),
				"the card's fields at the top level, with the order")
			switch {
			case tt.err != nil:
				assert.ErrorIs(t, err, tt.err)
			case tt.other:
				require.Error(t, err)
				assert.NotErrorIs(t, err, ErrPaymentUnavailable)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, res)
			}
		})
	}
}
