package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/money"
)

// memSidecar is an in-memory stand-in for the state API, with ETags.
type memSidecar struct {
	kv   map[string][]byte
	etag map[string]int
}

func (m *memSidecar) GetState(_ context.Context, _, key string, _ map[string]string) (*dapr.StateItem, error) {
	item := &dapr.StateItem{Key: key, Value: m.kv[key]}
	if v, ok := m.etag[key]; ok {
		item.Etag = strconv.Itoa(v)
	}
	return item, nil
}

func (m *memSidecar) SaveState(_ context.Context, _, key string, data []byte, _ map[string]string, _ ...dapr.StateOption) error {
	m.kv[key] = data
	m.etag[key]++
	return nil
}

func (m *memSidecar) SaveStateWithETag(_ context.Context, _, key string, data []byte, etag string, _ map[string]string, _ ...dapr.StateOption) error {
	if cur, ok := m.etag[key]; ok && etag != strconv.Itoa(cur) || !ok && etag != "" {
		return errors.New("possible etag mismatch. error from state store")
	}
	m.kv[key] = data
	m.etag[key]++
	return nil
}

func newPayments() (*payments, *memSidecar) {
	side := &memSidecar{kv: map[string][]byte{}, etag: map[string]int{}}
	return &payments{store: &cardStore{dapr: side, store: stateStore}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, side
}

func tokenize(t *testing.T, p *payments, number string) TokenizeResult {
	out, err := p.tokenize(context.Background(), []byte(`{"number":"`+number+`","expiry":"12/30","cvc":"123"}`))
	require.NoError(t, err)
	return out.(TokenizeResult)
}

func authorize(t *testing.T, p *payments, order, token string) Authorization {
	body, _ := json.Marshal(AuthorizeRequest{OrderID: order, Token: token, Amount: money.EUR(1000)})
	out, err := p.authorize(context.Background(), body)
	require.NoError(t, err)
	return out.(Authorization)
}

func TestTestCards(t *testing.T) {
	p, side := newPayments()
	ok := tokenize(t, p, "4242 4242 4242 4242")
	require.NotEmpty(t, ok.Token)
	assert.Equal(t, "4242", ok.Last4)
	for k := range side.kv {
		assert.NotContains(t, k, "4242424242424242", "card numbers are keyed by token")
	}
	assert.True(t, authorize(t, p, "o1", ok.Token).Approved)

	declined := tokenize(t, p, "4000 0000 0000 0002")
	a := authorize(t, p, "o2", declined.Token)
	assert.False(t, a.Approved)
	assert.Equal(t, "card_declined", a.Reason)

	invalid := tokenize(t, p, "4242 4242 4242 4241")
	assert.Empty(t, invalid.Token)
	assert.Contains(t, invalid.Errors, "number")

	unknown := authorize(t, p, "o3", "tok_nope")
	assert.False(t, unknown.Approved)
}

func TestAuthorizeIsIdempotentPerOrder(t *testing.T) {
	p, _ := newPayments()
	declined := tokenize(t, p, "4000000000000002").Token
	approved := tokenize(t, p, "4242424242424242").Token
	first := authorize(t, p, "o1", declined)
	again := authorize(t, p, "o1", approved)
	assert.Equal(t, first, again, "a retried authorization gets the first answer")

	_, err := p.authorize(context.Background(), []byte(`{"orderId":"o9","token":"x","amount":{"amount":0,"currency":"EUR"}}`))
	assert.ErrorIs(t, err, errInvalid)
}

func TestVoid(t *testing.T) {
	p, _ := newPayments()
	token := tokenize(t, p, "4242424242424242").Token

	// An approved authorization is voided; asking again stays declined.
	require.True(t, authorize(t, p, "o1", token).Approved)
	out, err := p.void(context.Background(), []byte(`{"orderId":"o1"}`))
	require.NoError(t, err)
	assert.True(t, out.(Authorization).Voided)
	assert.False(t, authorize(t, p, "o1", token).Approved)

	// A void before any authorization: a late authorize is declined.
	_, err = p.void(context.Background(), []byte(`{"orderId":"o2"}`))
	require.NoError(t, err)
	late := authorize(t, p, "o2", token)
	assert.False(t, late.Approved)
	assert.Equal(t, "voided", late.Reason)

	// Voiding twice is harmless.
	_, err = p.void(context.Background(), []byte(`{"orderId":"o2"}`))
	require.NoError(t, err)
	_, err = p.void(context.Background(), []byte(`{}`))
	assert.ErrorIs(t, err, errInvalid)
}
