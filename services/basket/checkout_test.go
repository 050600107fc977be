package main

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/card"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// memMarks is an in-memory Checkouts and HandledEvents.
type memMarks struct {
	marked map[string]bool
	err    error // of every write
}

func (m *memMarks) CheckedOut(_ context.Context, id string) (bool, error) { return m.marked[id], nil }
func (m *memMarks) MarkCheckedOut(_ context.Context, id string) error     { return m.mark(id) }
func (m *memMarks) Handled(_ context.Context, key string) (bool, error)   { return m.marked[key], nil }
func (m *memMarks) MarkHandled(_ context.Context, key string) error       { return m.mark(key) }

func (m *memMarks) mark(key string) error {
	if m.err != nil {
		return m.err
	}
	m.marked[key] = true
	return nil
}

// fakePayments tokenizes every card as token, or answers res or err.
type fakePayments struct {
	res   *contracts.TokenizeResult
	err   error
	cards []contracts.TokenizeRequest
}

func (p *fakePayments) Tokenize(_ context.Context, req contracts.TokenizeRequest) (contracts.TokenizeResult, error) {
	p.cards = append(p.cards, req)
	switch {
	case p.err != nil:
		return contracts.TokenizeResult{}, p.err
	case p.res != nil:
		return *p.res, nil
	}
	return contracts.TokenizeResult{Token: "tok_1", Last4: "4242"}, nil
}

// fakePublisher keeps what it publishes, or fails with err.
type fakePublisher struct {
	sent []events.Checkout
	err  error
}

func (p *fakePublisher) PublishCheckout(_ context.Context, c events.Checkout) error {
	if p.err != nil {
		return p.err
	}
	p.sent = append(p.sent, c)
	return nil
}

// checkoutWorld is a Service over fakes, with the fakes at hand.
type checkoutWorld struct {
	svc      *Service
	baskets  *memBaskets
	catalog  *fakeCatalog
	marks    *memMarks
	payments *fakePayments
	pub      *fakePublisher
}

func newCheckoutWorld() checkoutWorld {
	w := checkoutWorld{baskets: newMemBaskets(), catalog: newCatalog(), marks: &memMarks{marked: map[string]bool{}},
		payments: &fakePayments{}, pub: &fakePublisher{}}
	w.svc = &Service{baskets: w.baskets, catalog: w.catalog, checkouts: w.marks, handled: w.marks,
		payments: w.payments, publisher: w.pub, log: discard()}
	return w
}

func validCheckout() CheckoutRequest {
	return CheckoutRequest{
		Address: events.Address{Name: "Ann", Street: "1 Main St", City: "Lyon", PostalCode: "69001", Country: "FR"},
		Card:    card.Details{Number: "4242 4242 4242 4242", Expiry: "12/39", CVC: "123"},
	}
}

var (
	errPaymentDown = errors.Join(ErrPaymentUnavailable, errors.New("rpc error: code = Unavailable"))
	errBusDown     = errors.New("pubsub unreachable")
)

func TestCheckout(t *testing.T) {
	const key = "checkout-key-1"
	tests := []struct {
		name    string
		items   []Item
		key     string
		change  func(*CheckoutRequest)
		setup   func(checkoutWorld)
		err     error  // errors.Is
		status  int    // of problem(err)
		code    string // of problem(err)
		fields  []string
		tokened bool // payment was asked
	}{
		{name: "no idempotency key", key: "short", status: 400, code: "idempotency_key_required", err: ErrIdempotencyKey},
		{name: "invalid address and card", change: func(r *CheckoutRequest) { r.Address.City = " "; r.Card.CVC = "1" },
			status: 422, code: "invalid_input", fields: []string{"shippingAddress.city", "card.cvc"}},
		{name: "empty basket", items: []Item{}, status: 422, code: "empty_basket", err: ErrEmptyBasket},
		{name: "a product catalog no longer sells", items: []Item{headlamps(1), {ProductID: "gone", Name: "Gone", UnitPrice: money.EUR(1), Quantity: 1}},
			status: 422, code: "unknown_product", err: ErrUnknownProduct},
		{name: "catalog down", setup: func(w checkoutWorld) { w.catalog.err = errCatalogDown },
			status: 503, code: "catalog_unavailable", err: ErrCatalogUnavailable},
		{name: "card refused by payment", tokened: true,
			setup: func(w checkoutWorld) {
				w.payments.res = &contracts.TokenizeResult{Errors: map[string]string{"number": "is not a valid card number"}}
			},
			status: 422, code: "invalid_input", fields: []string{"card.number"}},
		{name: "payment down", tokened: true, setup: func(w checkoutWorld) { w.payments.err = errPaymentDown },
			status: 503, code: "payment_unavailable", err: ErrPaymentUnavailable},
		{name: "event bus down", tokened: true, setup: func(w checkoutWorld) { w.pub.err = errBusDown },
			status: 500, code: "internal", err: errBusDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newCheckoutWorld()
			items := []Item{headlamps(2)}
			if tt.items != nil {
				items = tt.items
			}
			seed(t, w.baskets, "ann", items...)
			if tt.setup != nil {
				tt.setup(w)
			}
			req := validCheckout()
			if tt.change != nil {
				tt.change(&req)
			}
			k := key
			if tt.key != "" {
				k = tt.key
			}
			_, err := w.svc.Checkout(t.Context(), "ann", k, req)
			require.Error(t, err)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
			}
			status, code, fields := problemOf(problem(err))
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.code, code)
			if tt.fields != nil {
				assert.ElementsMatch(t, tt.fields, keys(fields))
			}
			assert.Equal(t, tt.tokened, len(w.payments.cards) > 0, "payment asked")
			assert.Empty(t, w.pub.sent, "nothing published")
			assert.Empty(t, w.marks.marked, "nothing remembered: the same key may be sent again")
			b, _, _ := w.baskets.Get(t.Context(), "ann")
			assert.Equal(t, items, b.Items, "the basket is untouched")
		})
	}
}

// problemOf is what Fail would answer for err.
func problemOf(err error) (int, string, map[string]string) {
	var e *httpapi.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, "internal", nil
	}
	return e.Status, e.Code, e.Fields
}

func TestCheckoutAccepted(t *testing.T) {
	w := newCheckoutWorld()
	ctx := t.Context()
	// The basket holds an old price: catalog's current one counts.
	seed(t, w.baskets, "ann", Item{ProductID: "headlamp", Name: "Old name", UnitPrice: money.EUR(1000), Quantity: 2},
		Item{ProductID: "blanket", Name: "Wool blanket", UnitPrice: money.EUR(9900), Quantity: 1})
	req := validCheckout()

	id, err := w.svc.Checkout(ctx, "ann", "checkout-key-1", req)
	require.NoError(t, err)
	assert.Equal(t, orderID("ann", "checkout-key-1"), id)
	require.Len(t, w.pub.sent, 1)
	assert.Equal(t, events.Checkout{
		OrderID: id, UserID: "ann", Address: req.Address, CardToken: "tok_1",
		Lines: []events.Line{
			{ProductID: "headlamp", Name: "Headlamp", UnitPrice: money.EUR(2900), Quantity: 2},
			{ProductID: "blanket", Name: "Wool blanket", UnitPrice: money.EUR(9900), Quantity: 1},
		},
		Total: money.EUR(2*2900 + 9900),
	}, w.pub.sent[0])
	assert.Equal(t, []contracts.TokenizeRequest{{OrderID: id, Details: req.Card}}, w.payments.cards, "the card is tokenized for this order")
	assert.True(t, w.marks.marked[id], "the checkout is remembered")
	b, _, _ := w.baskets.Get(ctx, "ann")
	assert.Len(t, b.Items, 2, "the basket is emptied only once ordering submitted the order")

	t.Run("replay with the same key", func(t *testing.T) {
		again, err := w.svc.Checkout(ctx, "ann", "checkout-key-1", req)
		require.NoError(t, err)
		assert.Equal(t, id, again)
		assert.Len(t, w.pub.sent, 1, "no second event")
		assert.Len(t, w.payments.cards, 1, "the card is not tokenized again")
	})
	t.Run("another key is another order", func(t *testing.T) {
		other, err := w.svc.Checkout(ctx, "ann", "checkout-key-2", req)
		require.NoError(t, err)
		assert.NotEqual(t, id, other)
		assert.Len(t, w.pub.sent, 2)
	})
	t.Run("the same key of another user is another order", func(t *testing.T) {
		assert.NotEqual(t, orderID("ann", "checkout-key-1"), orderID("bob", "checkout-key-1"))
	})
}

// Stock is reserved by ordering's saga, which alone can hold it against
// other orders: checkout accepts a basket beyond today's stock, and the
// saga rejects the order (ordering's integration test "not enough stock").
func TestCheckoutLeavesStockToTheSaga(t *testing.T) {
	w := newCheckoutWorld()
	seed(t, w.baskets, "ann", Item{ProductID: "blanket", Name: "Wool blanket", UnitPrice: money.EUR(9900), Quantity: 3})
	w.catalog.products["blanket"] = contracts.Product{ID: "blanket", Name: "Wool blanket", Price: money.EUR(9900), Stock: 1}
	_, err := w.svc.Checkout(t.Context(), "ann", "checkout-key-1", validCheckout())
	require.NoError(t, err)
	require.Len(t, w.pub.sent, 1)
	assert.Equal(t, 3, w.pub.sent[0].Lines[0].Quantity)
}

// A checkout published but not remembered is still accepted: a retry
// publishes again, and ordering ignores the second (same order id).
func TestCheckoutNotRemembered(t *testing.T) {
	w := newCheckoutWorld()
	seed(t, w.baskets, "ann", headlamps(1))
	w.marks.err = errors.New("store down")
	id, err := w.svc.Checkout(t.Context(), "ann", "checkout-key-1", validCheckout())
	require.NoError(t, err)
	again, err := w.svc.Checkout(t.Context(), "ann", "checkout-key-1", validCheckout())
	require.NoError(t, err)
	assert.Equal(t, id, again)
	assert.Len(t, w.pub.sent, 2)
	assert.Equal(t, w.pub.sent[0].OrderID, w.pub.sent[1].OrderID)
}

func TestOrderStatusChanged(t *testing.T) {
	submitted := events.StatusChange{OrderID: "o1", UserID: "ann", Status: events.Submitted,
		Lines: []events.Line{{ProductID: "headlamp", Quantity: 2}}}
	tests := []struct {
		name    string
		changes []events.StatusChange
		want    []Item
	}{
		{name: "submitted takes the ordered lines out, not what came after", changes: []events.StatusChange{submitted},
			want: []Item{headlamps(1)}},
		{name: "a redelivery changes nothing", changes: []events.StatusChange{submitted, submitted},
			want: []Item{headlamps(1)}},
		{name: "other statuses change nothing",
			changes: []events.StatusChange{{OrderID: "o1", UserID: "ann", Status: events.Paid, Lines: submitted.Lines}},
			want:    []Item{headlamps(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newCheckoutWorld()
			seed(t, w.baskets, "ann", headlamps(3))
			for _, c := range tt.changes {
				require.NoError(t, w.svc.OrderStatusChanged(t.Context(), c))
			}
			b, _, _ := w.baskets.Get(t.Context(), "ann")
			assert.Equal(t, tt.want, b.Items)
			if len(tt.changes) > 0 && tt.changes[0].Status == events.Submitted {
				assert.Equal(t, []string{"o1/submitted"}, slices.Sorted(maps.Keys(w.marks.marked)))
			}
		})
	}
}
