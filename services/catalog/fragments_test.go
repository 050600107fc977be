package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/fragment"
	"github.com/bazaar-shop/bazaar/internal/fragment/fragmenttest"
	"github.com/bazaar-shop/bazaar/internal/money"
)

func hostileProduct() contracts.Product {
	return contracts.Product{ID: "evil", Name: fragmenttest.Hostile, Description: fragmenttest.Hostile, Category: "garden",
		Price: money.EUR(1250), Stock: 3, ImageURL: "/static/catalog/products/evil.svg"}
}

func TestFragmentsRender(t *testing.T) {
	p := hostileProduct()
	t.Run("categories", func(t *testing.T) {
		doc := fragmenttest.Render(t, categoriesFragment("garden"), "catalog", "categories")
		assert.Equal(t, 5, doc.Find("a").Length())
		assert.Equal(t, "Garden", doc.Find(`a[aria-current="page"]`).Text())
	})
	t.Run("product grid escapes names and the search text", func(t *testing.T) {
		q := Query{Category: "garden", Text: `<b>"x"</b>`, Page: 2, PageSize: 1}
		doc := fragmenttest.Render(t, productGridFragment(q, ProductPage{Items: []contracts.Product{p}, Total: 3, Page: 2, PageSize: 1}), "catalog", "product-grid")
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		assert.Equal(t, `<b>"x"</b>`, doc.Find("#catalog-search-q").AttrOr("value", ""))
		assert.Zero(t, doc.Find("b").Length())
		assert.Equal(t, "Only 3 left", strings.TrimSpace(doc.Find(".catalog-stock").Text()))
		assert.Equal(t, "/?category=garden&page=1&q=%3Cb%3E%22x%22%3C%2Fb%3E", doc.Find(`a[rel="prev"]`).AttrOr("href", ""))
		assert.Equal(t, "/?category=garden&page=3&q=%3Cb%3E%22x%22%3C%2Fb%3E", doc.Find(`a[rel="next"]`).AttrOr("href", ""))
	})
	t.Run("empty grid", func(t *testing.T) {
		doc := fragmenttest.Render(t, productGridFragment(Query{Page: 1, PageSize: 12}, ProductPage{Page: 1, PageSize: 12}), "catalog", "product-grid")
		assert.Contains(t, doc.Find(".catalog-grid__empty").Text(), "No products match")
	})
	t.Run("product detail", func(t *testing.T) {
		doc := fragmenttest.Render(t, productDetailFragment(viewOf(p, "")), "catalog", "product-detail")
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		assert.Equal(t, fragmenttest.Hostile, doc.Find(".catalog-detail__image").AttrOr("alt", ""))
		assert.Equal(t, "€12.50", doc.Find(".catalog-detail__price").Text())
	})
	t.Run("stock badge", func(t *testing.T) {
		for stock, want := range map[int]string{0: "Sold out", 5: "Only 5 left", 6: "In stock"} {
			p.Stock = stock
			doc := fragmenttest.Render(t, stockBadgeFragment(viewOf(p, "")), "catalog", "stock-badge")
			assert.Equal(t, want, strings.TrimSpace(doc.Text()))
		}
	})
	t.Run("recommendations", func(t *testing.T) {
		doc := fragmenttest.Render(t, recommendationsFragment("x", []contracts.Product{hostileProduct()}), "catalog", "recommendations")
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		fragmenttest.Render(t, recommendationsFragment("x", nil), "catalog", "recommendations")
	})
	t.Run("admin products keep what was typed, with the errors", func(t *testing.T) {
		row := adminRow{Product: hostileProduct(), SKU: "evil", ETag: "7", Price: `12,5"><x`, Stock: "-1",
			Errors: map[string]string{"price": "must be an amount", "stock": "must be a whole number"}}
		doc := fragmenttest.Render(t, adminProductsFragment([]adminRow{row}, "/admin"), "catalog", "admin-products")
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		assert.Equal(t, `12,5"><x`, doc.Find("#catalog-price-evil").AttrOr("value", ""))
		assert.Equal(t, "true", doc.Find("#catalog-price-evil").AttrOr("aria-invalid", ""))
		assert.Equal(t, 2, doc.Find(".catalog-field-error").Length())
		assert.Equal(t, 1, doc.Find(`label[for="catalog-stock-evil"]`).Length(), "every input has a label")
	})
}

func TestRecommend(t *testing.T) {
	all := seedProducts()
	got := recommend(all, "headlamp", "", 4)
	require.Len(t, got, 4)
	for _, p := range got {
		assert.Equal(t, "outdoor", p.Category)
		assert.NotEqual(t, "headlamp", p.ID)
	}
	seen := map[string]bool{}
	for _, p := range recommend(all, "", "", 4) {
		seen[p.Category] = true
	}
	assert.Len(t, seen, 4, "the home page shows one of each category")
}

func TestFragmentEndpoints(t *testing.T) {
	f := newFakeProducts()
	t.Run("public fragments are cacheable and name their stylesheet", func(t *testing.T) {
		w := serve(t, f, http.MethodGet, "/fragments/product-grid?category=kitchen", nil, "")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, fragment.Public, w.Header().Get("Cache-Control"))
		assert.Regexp(t, `^</static/catalog/catalog\.[0-9a-f]{10}\.css>; rel=stylesheet$`, w.Header().Get("Link"))
		fragmenttest.Check(t, w.Body.String(), "catalog", "product-grid")
		css := strings.Trim(strings.Split(w.Header().Get("Link"), ";")[0], "<>")
		w = serve(t, f, http.MethodGet, css, nil, "")
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, "public, max-age=31536000, immutable", w.Header().Get("Cache-Control"))
		assert.Contains(t, w.Body.String(), ".catalog-card")
	})
	t.Run("unknown product is 404", func(t *testing.T) {
		w := serve(t, f, http.MethodGet, "/fragments/product-detail?id=nope", nil, "")
		assert.Equal(t, http.StatusNotFound, w.Code)
		doc := fragmenttest.Check(t, w.Body.String(), "catalog", "problem")
		assert.Contains(t, doc.Text(), "There is no such product.")
	})
	t.Run("a hand-edited page shows page 1", func(t *testing.T) {
		for _, page := range []string{"768614336404564652", "9223372036854775807", "1000001", "0", "-3", "x", "99999999999999999999"} {
			w := serve(t, f, http.MethodGet, "/fragments/product-grid?category=garden&page="+page, nil, "")
			require.Equal(t, http.StatusOK, w.Code, page)
			doc := fragmenttest.Check(t, w.Body.String(), "catalog", "product-grid")
			assert.Equal(t, 6, doc.Find(".catalog-card").Length(), page)
			assert.Equal(t, "Garden", doc.Find("#catalog-grid-title").Text(), "the filter is kept")
		}
	})
	t.Run("manifest lists every fragment", func(t *testing.T) {
		w := serve(t, f, http.MethodGet, "/fragments", nil, "")
		var m struct{ Fragments []fragment.Spec }
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
		var names []string
		for _, s := range m.Fragments {
			names = append(names, s.Name)
			assert.Equal(t, http.StatusOK, serve(t, f, http.MethodGet, "/fragments/"+s.Name+"?id=headlamp", nil, "").Code, s.Name)
		}
		assert.ElementsMatch(t, []string{"categories", "product-grid", "product-detail", "recommendations", "stock-badge", "admin-products"}, names)
	})
	form := func(v url.Values) (http.Header, string) {
		return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, v.Encode()
	}
	t.Run("admin saves price and stock, post-redirect-get", func(t *testing.T) {
		_, etag, _ := f.Get(t.Context(), "headlamp")
		h, body := form(url.Values{"id": {"headlamp"}, "etag": {etag}, "price": {"31.5"}, "stock": {"7"}, "page": {"/admin"}})
		w := serve(t, f, http.MethodPost, "/fragments/admin-products", h, body)
		require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
		assert.Equal(t, "/admin#catalog-admin-headlamp", w.Header().Get("Location"))
		p, _, _ := f.Get(t.Context(), "headlamp")
		assert.Equal(t, money.EUR(3150), p.Price)
		assert.Equal(t, 7, p.Stock)
	})
	t.Run("a stale form is refused with the product as it is now", func(t *testing.T) {
		h, body := form(url.Values{"id": {"headlamp"}, "etag": {"stale"}, "price": {"1"}, "stock": {"1"}, "page": {"/admin"}})
		w := serve(t, f, http.MethodPost, "/fragments/admin-products", h, body)
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		assert.Contains(t, w.Body.String(), "someone changed this product")
		p, _, _ := f.Get(t.Context(), "headlamp")
		assert.Equal(t, 7, p.Stock, "nothing changed")
	})
	t.Run("the catalog's limits apply to the form", func(t *testing.T) {
		for _, tt := range []struct{ price, stock, field string }{
			{"0", "1", "price"},
			{"100000.01", "1", "price"},
			{"184467440737095517", "1", "price"}, // ×100 wraps around to 84 cents
			{"1", "1000001", "stock"},
			{"1", "-1", "stock"},
		} {
			_, etag, _ := f.Get(t.Context(), "headlamp")
			h, body := form(url.Values{"id": {"headlamp"}, "etag": {etag}, "price": {tt.price}, "stock": {tt.stock}, "page": {"/admin"}})
			w := serve(t, f, http.MethodPost, "/fragments/admin-products", h, body)
			require.Equal(t, http.StatusUnprocessableEntity, w.Code, tt)
			doc := fragmenttest.Check(t, w.Body.String(), "catalog", "admin-products")
			assert.Equal(t, "true", doc.Find("#catalog-"+tt.field+"-headlamp").AttrOr("aria-invalid", ""), tt)
			if tt.field == "price" {
				assert.Contains(t, doc.Find(".catalog-field-error").Text(), "from 0.01 to 100000", tt)
			}
			p, _, _ := f.Get(t.Context(), "headlamp")
			assert.Equal(t, 7, p.Stock, "nothing changed")
		}
	})
	t.Run("bad input is refused, nothing changes", func(t *testing.T) {
		_, etag, _ := f.Get(t.Context(), "headlamp")
		h, body := form(url.Values{"id": {"headlamp"}, "etag": {etag}, "price": {"12.345"}, "stock": {"many"}, "page": {"/admin"}})
		w := serve(t, f, http.MethodPost, "/fragments/admin-products", h, body)
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		doc := fragmenttest.Check(t, w.Body.String(), "catalog", "admin-products")
		assert.Equal(t, "12.345", doc.Find("#catalog-price-headlamp").AttrOr("value", ""))
		assert.Equal(t, "many", doc.Find("#catalog-stock-headlamp").AttrOr("value", ""))
	})
}

func TestParseEuros(t *testing.T) {
	// The limits are the catalog's: "0" and "100000.01" are read here and
	// refused by ProductInput.Valid.
	for in, want := range map[string]int64{"12": 1200, "12.5": 1250, "12,50": 1250, "0.01": 1, "100000": 10_000_000, "0": 0, "100000.01": 10_000_001} {
		got, err := parseEuros(in)
		require.NoError(t, err, in)
		assert.Equal(t, money.EUR(want), got, in)
	}
	for _, in := range []string{"", "-1", "-0.50", "1.234", "1.-5", "abc", "1e3", ".5", "184467440737095517", "92233720368547758.08"} {
		_, err := parseEuros(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "31.05", decimal(money.EUR(3105)))
}
