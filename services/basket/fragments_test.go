package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/fragment/fragmenttest"
	"github.com/bazaar-shop/bazaar/internal/money"
)

func hostileBasket() Basket {
	return Basket{Items: []Item{
		{ProductID: "evil", Name: fragmenttest.Hostile, UnitPrice: money.EUR(1250), Quantity: 2},
		{ProductID: "headlamp", Name: "Headlamp", UnitPrice: money.EUR(2900), Quantity: 1},
	}}.withTotal()
}

func TestFragmentsRender(t *testing.T) {
	t.Run("mini cart", func(t *testing.T) {
		doc := fragmenttest.Render(t, miniCartFragment(hostileBasket()), "basket", "mini-cart")
		assert.Equal(t, "3", doc.Find(".basket-mini-cart__count").AttrOr("data-count", ""))
		assert.Equal(t, "€54.00", doc.Find(".basket-mini-cart__total").Text())
		root := doc.Find(`[data-fragment="mini-cart"]`)
		assert.Equal(t, "/fragments/basket/mini-cart", root.AttrOr("hx-get", ""))
		assert.Contains(t, root.AttrOr("hx-trigger", ""), "basket-updated from:body")
		empty := fragmenttest.Render(t, miniCartFragment(Basket{}.withTotal()), "basket", "mini-cart")
		assert.Zero(t, empty.Find(".basket-mini-cart__total").Length())
		assert.Contains(t, empty.Text(), "0 items")
	})
	t.Run("add to cart works as a plain form and with htmx", func(t *testing.T) {
		v := addToCartView{ProductID: "headlamp", Page: "/products/headlamp", Quantity: `2"><b>`, Error: fragmenttest.Hostile}
		doc := fragmenttest.Render(t, addToCartFragment(v), "basket", "add-to-cart")
		form := doc.Find("form")
		assert.Equal(t, "post", form.AttrOr("method", ""))
		assert.Equal(t, "/products/headlamp", form.AttrOr("action", ""), "without JavaScript the page takes the post")
		assert.Equal(t, "/fragments/basket/add-to-cart", form.AttrOr("hx-post", ""))
		assert.Equal(t, `2"><b>`, doc.Find("#basket-add-qty-headlamp").AttrOr("value", ""))
		assert.Equal(t, "basket-add-error-headlamp", doc.Find("#basket-add-qty-headlamp").AttrOr("aria-describedby", ""))
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		added := fragmenttest.Render(t, addToCartFragment(addToCartView{ProductID: "x", Page: "/", Quantity: "1", Added: "2 × " + fragmenttest.Hostile}), "basket", "add-to-cart")
		fragmenttest.ShowsText(t, added, fragmenttest.Hostile)
	})
	t.Run("cart with change and remove", func(t *testing.T) {
		v := cartView{Basket: hostileBasket(), Page: "/cart", Typed: map[string]string{"evil": "100"}, Errors: map[string]string{"evil": "Quantity must be a whole number from 0 to 99."}}
		doc := fragmenttest.Render(t, cartFragment(v), "basket", "cart")
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		assert.Equal(t, "100", doc.Find("#basket-qty-evil").AttrOr("value", ""), "the refused quantity stays on screen")
		assert.Equal(t, "1", doc.Find("#basket-qty-headlamp").AttrOr("value", ""))
		assert.Equal(t, "€54.00", doc.Find("[data-total]").Text())
		assert.Equal(t, 2, doc.Find(".basket-cart__remove").Length())
		assert.Equal(t, 1, doc.Find(`a[href="/checkout"]`).Length())
	})
	t.Run("read-only summary at checkout", func(t *testing.T) {
		doc := fragmenttest.Render(t, cartFragment(cartView{Basket: hostileBasket(), Summary: true}), "basket", "cart")
		assert.Zero(t, doc.Find("form").Length())
		assert.Zero(t, doc.Find(`a[href="/checkout"]`).Length())
	})
	t.Run("empty cart", func(t *testing.T) {
		doc := fragmenttest.Render(t, cartFragment(cartView{Basket: Basket{}.withTotal(), Page: "/cart"}), "basket", "cart")
		assert.Contains(t, doc.Text(), "Your cart is empty")
	})
}

// memBaskets is an in-memory Baskets with ETags.
type memBaskets struct {
	mu    sync.Mutex
	items map[string]Basket
	etags map[string]int
}

func (m *memBaskets) Get(_ context.Context, who string) (Basket, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etags[who] == 0 {
		return Basket{}.withTotal(), "", nil
	}
	return m.items[who].withTotal(), strconv.Itoa(m.etags[who]), nil
}

func (m *memBaskets) Save(_ context.Context, who string, b Basket, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if etag != strings.TrimPrefix(strconv.Itoa(m.etags[who]), "0") {
		return ErrConflict
	}
	m.items[who], m.etags[who] = b, m.etags[who]+1
	return nil
}

// Two fragments of one page merge the guest basket at once: the lines are
// added once, and both see them.
func TestMergeGuestOnce(t *testing.T) {
	m := &memBaskets{items: map[string]Basket{}, etags: map[string]int{}}
	svc := &Service{baskets: m}
	ctx := t.Context()
	require.NoError(t, m.Save(ctx, "guest:g", Basket{Items: []Item{{ProductID: "a", Name: "A", UnitPrice: money.EUR(100), Quantity: 2}}}, ""))
	require.NoError(t, m.Save(ctx, "u1", Basket{Items: []Item{{ProductID: "a", Name: "A", UnitPrice: money.EUR(100), Quantity: 1}}}, ""))
	var wg sync.WaitGroup
	for range 3 { // a page has up to three basket fragments
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, svc.MergeGuest(ctx, "guest:g", "u1"))
			b, _, _ := m.Get(ctx, "u1")
			assert.Equal(t, 3, b.count(), "every request sees the merged basket")
		}()
	}
	wg.Wait()
	b, _, _ := m.Get(ctx, "u1")
	assert.Equal(t, 3, b.quantity("a"))
	g, _, _ := m.Get(ctx, "guest:g")
	assert.Empty(t, g.Items, "the guest basket is emptied")
	// The same guest cookie again (another tab) adds nothing.
	require.NoError(t, svc.MergeGuest(ctx, "guest:g", "u1"))
	b, _, _ = m.Get(ctx, "u1")
	assert.Equal(t, 3, b.quantity("a"))
}

func TestRefusal(t *testing.T) {
	tests := []struct {
		err   error
		least int
		want  string
	}{
		{&InvalidError{}, 1, "Quantity must be a whole number from 1 to 99."},
		{&InvalidError{}, 0, "Quantity must be a whole number from 0 to 99."},
		{ErrUnknownProduct, 1, "This product is no longer sold."},
		{&StockError{Stock: 3}, 0, "Only 3 in stock."},
		{&StockError{Stock: 3, InCart: 2}, 1, "Only 3 in stock (you have 2 in your cart)."},
		{&LimitError{InCart: 98}, 1, "A cart holds at most 99 of one product (you have 98 in your cart)."},
	}
	for _, tt := range tests {
		msg, ok := refusal(tt.err, tt.least)
		assert.True(t, ok)
		assert.Equal(t, tt.want, msg)
	}
	for _, err := range []error{nil, ErrCatalogUnavailable, ErrConflict} {
		_, ok := refusal(err, 1)
		assert.False(t, ok, "%v is not the form's to show", err)
	}
}

// A signed-out visitor's first addition starts a guest basket and its
// cookie; a refused one starts neither.
func TestAddToCartAsAGuest(t *testing.T) {
	svc := &Service{baskets: newMemBaskets(), catalog: newCatalog()}
	h := addToCart(discard(), newFragments(), svc)
	post := func(form string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/fragments/add-to-cart", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	refused := post("id=blanket&quantity=4&page=/products/blanket")
	assert.Equal(t, http.StatusUnprocessableEntity, refused.Code)
	assert.Contains(t, refused.Body.String(), "Only 3 in stock.")
	assert.Empty(t, refused.Result().Cookies())

	added := post("id=headlamp&quantity=2&page=/products/headlamp")
	assert.Equal(t, http.StatusSeeOther, added.Code)
	cookies := added.Result().Cookies()
	require.Len(t, cookies, 1)
	assert.Equal(t, guestCookie, cookies[0].Name)
	b, err := svc.Basket(t.Context(), guestOwner(cookies[0].Value))
	require.NoError(t, err)
	assert.Equal(t, []Item{headlamps(2)}, b.Items)
}
