package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/money"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// memSidecar is an in-memory stand-in for the state API, with ETags.
type memSidecar struct {
	kv   map[string][]byte
	etag map[string]int
	// mismatch is what a stale ETag gets (default: a plain error, as some
	// stores answer).
	mismatch error
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
		if m.mismatch != nil {
			return m.mismatch
		}
		return errors.New("possible etag mismatch. error from state store")
	}
	m.kv[key] = data
	m.etag[key]++
	return nil
}

// newPayments is the domain over the real store over an in-memory sidecar.
func newPayments() (*payments, *memSidecar) {
	side := &memSidecar{kv: map[string][]byte{}, etag: map[string]int{}}
	return &payments{store: &cardStore{dapr: side, store: stateStore}, log: discard}, side
}

// tokenize asks for a token for number, for the order.
func tokenize(t *testing.T, p *payments, order, number string) contracts.TokenizeResult {
	out, err := p.Tokenize(context.Background(), tokenizeRequest(order, number))
	require.NoError(t, err)
	return out
}

func tokenizeRequest(order, number string) contracts.TokenizeRequest {
	return contracts.TokenizeRequest{OrderID: order, Details: card.Details{Number: number, Expiry: "12/30", CVC: "123"}}
}

func authorize(t *testing.T, p *payments, order, token string) contracts.Authorization {
	out, err := p.Authorize(context.Background(), contracts.AuthorizeRequest{OrderID: order, Token: token, Amount: money.EUR(1000)})
	require.NoError(t, err)
	return out
}

func TestTestCards(t *testing.T) {
	p, side := newPayments()
	ok := tokenize(t, p, "o1", "4242 4242 4242 4242")
	require.NotEmpty(t, ok.Token)
	assert.Equal(t, "4242", ok.Last4)
	for k := range side.kv {
		assert.NotContains(t, k, "4242424242424242", "card numbers are keyed by token")
	}
	assert.True(t, authorize(t, p, "o1", ok.Token).Approved)

	declined := tokenize(t, p, "o2", "4000 0000 0000 0002")
	a := authorize(t, p, "o2", declined.Token)
	assert.False(t, a.Approved)
	assert.Equal(t, "card_declined", a.Reason)

	invalid := tokenize(t, p, "o4", "4242 4242 4242 4241")
	assert.Empty(t, invalid.Token)
	assert.Contains(t, invalid.Errors, "number")

	unknown := authorize(t, p, "o3", "tok_nope")
	assert.False(t, unknown.Approved)
	assert.Equal(t, "unknown_card_token", unknown.Reason)

	// A token pays only for the order it was made for: a checkout event
	// forged with another order's token is declined.
	stolen := authorize(t, p, "o5", ok.Token)
	assert.False(t, stolen.Approved)
	assert.Equal(t, "card_token_not_for_order", stolen.Reason)
}

func TestAuthorizeIsIdempotentPerOrder(t *testing.T) {
	p, _ := newPayments()
	declined := tokenize(t, p, "o1", "4000000000000002").Token
	approved := tokenize(t, p, "o1", "4242424242424242").Token
	first := authorize(t, p, "o1", declined)
	again := authorize(t, p, "o1", approved)
	assert.Equal(t, first, again, "a retried authorization gets the first answer")
}

func TestAuthorizeRefusesBadInput(t *testing.T) {
	for name, req := range map[string]contracts.AuthorizeRequest{
		"no order":        {Token: "tok_x", Amount: money.EUR(1)},
		"no token":        {OrderID: "o1", Amount: money.EUR(1)},
		"zero amount":     {OrderID: "o1", Token: "tok_x", Amount: money.EUR(0)},
		"negative amount": {OrderID: "o1", Token: "tok_x", Amount: money.EUR(-5)},
	} {
		t.Run(name, func(t *testing.T) {
			store := newMemStore()
			p := &payments{store: store, log: discard}
			_, err := p.Authorize(context.Background(), req)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Empty(t, store.auths, "nothing stored")
		})
	}
}

func TestVoid(t *testing.T) {
	p, _ := newPayments()
	token := tokenize(t, p, "o1", "4242424242424242").Token
	ctx := context.Background()

	// An approved authorization is voided; asking again stays declined.
	require.True(t, authorize(t, p, "o1", token).Approved)
	out, err := p.Void(ctx, contracts.VoidRequest{OrderID: "o1"})
	require.NoError(t, err)
	assert.True(t, out.Voided)
	assert.False(t, authorize(t, p, "o1", token).Approved)

	// A void before any authorization: a late authorize is declined.
	_, err = p.Void(ctx, contracts.VoidRequest{OrderID: "o2"})
	require.NoError(t, err)
	late := authorize(t, p, "o2", token)
	assert.False(t, late.Approved)
	assert.Equal(t, "voided", late.Reason)

	// Voiding twice is harmless.
	_, err = p.Void(ctx, contracts.VoidRequest{OrderID: "o2"})
	require.NoError(t, err)
	_, err = p.Void(ctx, contracts.VoidRequest{})
	assert.ErrorIs(t, err, ErrInvalid)
}

// memStore is an in-memory Store whose calls can fail or race, to reach
// the branches a sidecar would only show under load.
type memStore struct {
	cards map[string]Card
	auths map[string]contracts.Authorization
	etags map[string]int
	// beforeSave runs before each SaveAuthorization: another caller's write
	// landing in between.
	beforeSave func(s *memStore)
	failRead   error // Authorization
	failCard   error // Card and SaveCard
	failSave   error // SaveAuthorization
	saves      int
}

func newMemStore() *memStore {
	return &memStore{cards: map[string]Card{}, auths: map[string]contracts.Authorization{}, etags: map[string]int{}}
}

func (s *memStore) SaveCard(_ context.Context, token string, c Card) error {
	if s.failCard != nil {
		return s.failCard
	}
	s.cards[token] = c
	return nil
}

func (s *memStore) Card(_ context.Context, token string) (Card, bool, error) {
	n, ok := s.cards[token]
	return n, ok, s.failCard
}

func (s *memStore) Authorization(_ context.Context, orderID string) (contracts.Authorization, string, bool, error) {
	if s.failRead != nil {
		return contracts.Authorization{}, "", false, s.failRead
	}
	a, ok := s.auths[orderID]
	if !ok {
		return contracts.Authorization{}, "", false, nil
	}
	return a, strconv.Itoa(s.etags[orderID]), true, nil
}

func (s *memStore) SaveAuthorization(_ context.Context, a contracts.Authorization, etag string) error {
	s.saves++
	if s.beforeSave != nil {
		s.beforeSave(s)
	}
	if s.failSave != nil {
		return s.failSave
	}
	if _, ok := s.auths[a.OrderID]; ok && etag != strconv.Itoa(s.etags[a.OrderID]) || !ok && etag != "" {
		return ErrExists
	}
	s.put(a)
	return nil
}

func (s *memStore) put(a contracts.Authorization) {
	s.auths[a.OrderID] = a
	s.etags[a.OrderID]++
}

func TestAuthorizeBranches(t *testing.T) {
	down := errors.New("store down")
	voided := contracts.Authorization{OrderID: "o1", Reason: "voided", Voided: true}
	tests := []struct {
		name    string
		setup   func(s *memStore)
		want    contracts.Authorization
		wantErr error
	}{
		{name: "approved", want: contracts.Authorization{OrderID: "o1", Approved: true, Amount: money.EUR(1000)}},
		{name: "declined card", setup: func(s *memStore) { s.cards["tok_a"] = Card{Number: declinedCard, OrderID: "o1"} },
			want: contracts.Authorization{OrderID: "o1", Reason: "card_declined", Amount: money.EUR(1000)}},
		{name: "another order's token", setup: func(s *memStore) { s.cards["tok_a"] = Card{Number: "4242424242424242", OrderID: "o2"} },
			want: contracts.Authorization{OrderID: "o1", Reason: "card_token_not_for_order", Amount: money.EUR(1000)}},
		{name: "expired or unknown token", setup: func(s *memStore) { delete(s.cards, "tok_a") },
			want: contracts.Authorization{OrderID: "o1", Reason: "unknown_card_token", Amount: money.EUR(1000)}},
		{name: "a void lands before the authorization is stored: the void stands",
			setup: func(s *memStore) { s.beforeSave = func(s *memStore) { s.put(voided) } }, want: voided},
		{name: "reading the authorization fails", setup: func(s *memStore) { s.failRead = down }, wantErr: down},
		{name: "reading the card fails", setup: func(s *memStore) { s.failCard = down }, wantErr: down},
		{name: "saving fails", setup: func(s *memStore) { s.failSave = down }, wantErr: down},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore()
			s.cards["tok_a"] = Card{Number: "4242424242424242", OrderID: "o1"}
			if tt.setup != nil {
				tt.setup(s)
			}
			p := &payments{store: s, log: discard}
			got, err := p.Authorize(context.Background(), contracts.AuthorizeRequest{OrderID: "o1", Token: "tok_a", Amount: money.EUR(1000)})
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, s.auths["o1"], "what is answered is what is stored")
		})
	}
}

func TestVoidBranches(t *testing.T) {
	down := errors.New("store down")
	approved := contracts.Authorization{OrderID: "o1", Approved: true, Amount: money.EUR(1000)}
	voidedApproved := contracts.Authorization{OrderID: "o1", Reason: "voided", Voided: true, Amount: money.EUR(1000)}
	tests := []struct {
		name      string
		setup     func(s *memStore)
		want      contracts.Authorization
		wantErr   error
		wantSaves int
	}{
		{name: "none yet: a voided one is stored", want: contracts.Authorization{OrderID: "o1", Reason: "voided", Voided: true}, wantSaves: 1},
		{name: "approved: voided, amount kept", setup: func(s *memStore) { s.put(approved) }, want: voidedApproved, wantSaves: 1},
		{name: "voided already: nothing written", setup: func(s *memStore) { s.put(voidedApproved) }, want: voidedApproved},
		{name: "an authorize lands meanwhile: that one is voided",
			setup: func(s *memStore) {
				s.beforeSave = func(s *memStore) {
					if _, ok := s.auths["o1"]; !ok {
						s.put(approved)
					}
				}
			}, want: voidedApproved, wantSaves: 2},
		{name: "always beaten: gives up", setup: func(s *memStore) {
			s.put(approved)
			s.beforeSave = func(s *memStore) { s.etags["o1"]++ }
		}, wantErr: errors.New("void: too much contention"), wantSaves: voidAttempts},
		{name: "reading fails", setup: func(s *memStore) { s.failRead = down }, wantErr: down},
		{name: "saving fails", setup: func(s *memStore) { s.failSave = down }, wantErr: down, wantSaves: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore()
			if tt.setup != nil {
				tt.setup(s)
			}
			p := &payments{store: s, log: discard}
			got, err := p.Void(context.Background(), contracts.VoidRequest{OrderID: "o1"})
			assert.Equal(t, tt.wantSaves, s.saves)
			if tt.wantErr != nil {
				require.Error(t, err)
				if errors.Is(tt.wantErr, down) {
					assert.ErrorIs(t, err, down)
				} else {
					assert.EqualError(t, err, tt.wantErr.Error())
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, s.auths["o1"])
		})
	}
}

func TestTokenize(t *testing.T) {
	t.Run("card problems by field, nothing stored", func(t *testing.T) {
		s := newMemStore()
		p := &payments{store: s, log: discard}
		out, err := p.Tokenize(context.Background(), contracts.TokenizeRequest{OrderID: "o1", Details: card.Details{Number: "4242", Expiry: "13/30", CVC: "1"}})
		require.NoError(t, err)
		assert.Empty(t, out.Token)
		assert.Equal(t, []string{"cvc", "expiry", "number"}, slices.Sorted(maps.Keys(out.Errors)))
		assert.Empty(t, s.cards)
	})
	t.Run("saving fails", func(t *testing.T) {
		down := errors.New("store down")
		s := newMemStore()
		s.failCard = down
		p := &payments{store: s, log: discard}
		_, err := p.Tokenize(context.Background(), tokenizeRequest("o1", "4242424242424242"))
		assert.ErrorIs(t, err, down)
	})
	t.Run("no order: refused as bad input, nothing stored", func(t *testing.T) {
		for _, order := range []string{"", strings.Repeat("o", maxOrderID+1)} {
			s := newMemStore()
			p := &payments{store: s, log: discard}
			_, err := p.Tokenize(context.Background(), tokenizeRequest(order, "4242424242424242"))
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Empty(t, s.cards)
		}
	})
}

// TestInvocation covers the gRPC adapter: decoding, encoding, and which
// errors the caller may see.
func TestInvocation(t *testing.T) {
	call := func(h common.ServiceInvocationHandler, body string) (*common.Content, error) {
		return h(context.Background(), &common.InvocationEvent{Data: []byte(body)})
	}
	p, _ := newPayments()

	t.Run("answers JSON", func(t *testing.T) {
		out, err := call(invocation(discard, p.Tokenize), `{"orderId":"o1","number":"4242 4242 4242 4242","expiry":"12/30","cvc":"123"}`)
		require.NoError(t, err)
		assert.Equal(t, "application/json", out.ContentType)
		var res contracts.TokenizeResult
		require.NoError(t, json.Unmarshal(out.Data, &res))
		assert.Equal(t, "4242", res.Last4)
	})
	t.Run("malformed JSON is bad input", func(t *testing.T) {
		for _, body := range []string{``, `{`, `{"orderId":5}`} {
			_, err := call(invocation(discard, p.Void), body)
			assert.ErrorIs(t, err, ErrInvalid, body)
		}
	})
	t.Run("bad input is told as it is", func(t *testing.T) {
		_, err := call(invocation(discard, p.Authorize), `{"orderId":"o9","token":"x","amount":{"amount":0,"currency":"EUR"}}`)
		assert.EqualError(t, err, "invalid request: orderId, token and a positive amount are required")
	})
	t.Run("other failures are hidden", func(t *testing.T) {
		failing := func(context.Context, contracts.VoidRequest) (contracts.Authorization, error) {
			return contracts.Authorization{}, errors.New("read authorization: secret detail")
		}
		_, err := call(invocation(discard, failing), `{"orderId":"o1"}`)
		assert.EqualError(t, err, "payment failed internally")
	})
}

// TestStoredFormat pins what payment keeps in its state store: keys and JSON
// field names must survive any refactoring, or stored authorizations and
// cards would be lost on upgrade.
func TestStoredFormat(t *testing.T) {
	p, side := newPayments()
	token := tokenize(t, p, "o1", "4242 4242 4242 4242").Token
	assert.JSONEq(t, `{"number":"4242424242424242","orderId":"o1"}`, string(side.kv["card:"+token]))
	authorize(t, p, "o1", token)
	assert.JSONEq(t, `{"orderId":"o1","approved":true,"amount":{"amount":1000,"currency":"EUR"}}`, string(side.kv["authorization:o1"]))
	_, err := p.Void(context.Background(), contracts.VoidRequest{OrderID: "o1"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"orderId":"o1","approved":false,"reason":"voided","amount":{"amount":1000,"currency":"EUR"},"voided":true}`,
		string(side.kv["authorization:o1"]))
}

// TestStoreConflicts covers how cardStore recognises a write that lost.
func TestStoreConflicts(t *testing.T) {
	ctx := context.Background()
	a := contracts.Authorization{OrderID: "o1", Approved: true, Amount: money.EUR(1)}
	for name, mismatch := range map[string]error{
		"ETag mismatch status":        status.Error(codes.Aborted, "etag mismatch"),
		"another error, key is there": nil,
	} {
		t.Run(name, func(t *testing.T) {
			side := &memSidecar{kv: map[string][]byte{}, etag: map[string]int{}, mismatch: mismatch}
			s := &cardStore{dapr: side, store: stateStore}
			require.NoError(t, s.SaveAuthorization(ctx, a, ""))
			assert.ErrorIs(t, s.SaveAuthorization(ctx, a, ""), ErrExists, "a first write on an existing key")
			if mismatch != nil {
				assert.ErrorIs(t, s.SaveAuthorization(ctx, a, "stale"), ErrExists, "a stale ETag")
			}
		})
	}
}
