package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPageMeta(t *testing.T) {
	product := Page{Title: "Product", Description: "default", Meta: "product-detail"}
	req := func(path string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, pagesPrefix+path, nil)
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "shop.example")
		return r
	}
	root := `<div data-fragment="product-detail" data-page-title="Headlamp &amp; co" data-page-description="350 lumen." ` +
		`data-page-data="{&#34;@type&#34;:&#34;Product&#34;,&#34;name&#34;:&#34;&lt;/script&gt;&lt;script&gt;alert(1)&#34;}"><p>x</p></div>`

	m := metaFor(req("/products/headlamp?boundaries=1"), product, map[string]Filled{"product-detail": {HTML: root, Status: 200}})
	assert.Equal(t, "Headlamp & co", m.Title)
	assert.Equal(t, "350 lumen.", m.Description)
	assert.Equal(t, "https://shop.example/products/headlamp", m.Canonical, "without the boundaries toggle")
	assert.NotContains(t, m.Data, "</script>", "JSON-LD stays data")
	var data map[string]any
	require.NoError(t, json.Unmarshal([]byte(m.Data), &data))
	assert.Equal(t, "</script><script>alert(1)", data["name"])

	t.Run("only the page's own slot describes it", func(t *testing.T) {
		m := metaFor(req("/products/x"), product, map[string]Filled{"recommendations": {HTML: root, Status: 200}})
		assert.Equal(t, "Product", m.Title)
		assert.Equal(t, "default", m.Description)
	})
	t.Run("a failed fragment describes nothing", func(t *testing.T) {
		m := metaFor(req("/products/x"), product, map[string]Filled{"product-detail": {HTML: root, Status: 502}})
		assert.Equal(t, "Product", m.Title)
	})
	t.Run("bad JSON-LD is dropped", func(t *testing.T) {
		m := metaFor(req("/products/x"), product, map[string]Filled{"product-detail": {HTML: `<div data-page-data="{not json"></div>`, Status: 200}})
		assert.Empty(t, m.Data)
	})
	t.Run("canonical listings keep what makes the page", func(t *testing.T) {
		assert.Equal(t, "https://shop.example/?category=garden&page=2", canonical(req("/?page=2&category=garden&boundaries=1&utm=x")))
		assert.Equal(t, "https://shop.example/", canonical(req("/?page=1")))
	})
	t.Run("a hostile host is not used", func(t *testing.T) {
		r := req("/cart")
		r.Header.Set("X-Forwarded-Host", "evil.example/phish")
		assert.Equal(t, "/cart", canonical(r))
		r.Header.Set("X-Forwarded-Proto", "javascript")
		r.Header.Set("X-Forwarded-Host", "shop.example")
		assert.Equal(t, "/cart", canonical(r))
	})
}

// Every page a shopper sees describes itself to search engines and link
// previews (Lighthouse's SEO audit counts a missing description): with its
// own text, or with what its main fragment says of itself (Meta).
func TestShopperPagesHaveADescription(t *testing.T) {
	for route, p := range pages {
		if strings.HasPrefix(route, "/admin") {
			continue
		}
		assert.True(t, p.Description != "" || p.Meta != "", "%s has no description", route)
	}
}
