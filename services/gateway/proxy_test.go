package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

func TestRoute(t *testing.T) {
	for _, tt := range []struct {
		path string
		want target
		ok   bool
	}{
		{"/api/catalog/products", target{app: "catalog", path: "/products", api: true}, true},
		{"/api/basket", target{app: "basket", path: "/basket", api: true}, true},
		{"/api/identity/login", target{app: "identity", path: "/login", api: true, tokenFree: true}, true},
		{"/api/payment/authorize", target{path: "/authorize", api: true}, false},
		// Only Bazaar's services read the signed-out sessions (through
		// their sidecars), however the path is spelt.
		{"/api/identity/sessions/signed-out", target{}, false},
		{"/api/identity/sessions/signed-out/", target{}, false},
		{"/api/identity/sessions/./signed-out", target{}, false},
		{"/api/identity/x/../sessions/signed-out", target{}, false},
		{"/api/identity/sessions", target{}, false},
		{"/fragments/basket/mini-cart", target{app: "basket", path: "/fragments/mini-cart"}, true},
		{"/fragments/payment/x", target{path: "/fragments/x"}, false},
		{"/fragments/catalog/a/b", target{app: "catalog", path: "/fragments/a/b"}, false},
		{"/fragments/catalog/", target{app: "catalog", path: "/fragments"}, true},
		{"/fragments/catalog", target{app: "catalog", path: "/fragments"}, true},
		{"/static/catalog/catalog.1.css", target{app: "catalog", path: "/static/catalog/catalog.1.css", anonymous: true}, true},
		{"/static/shell/htmx.min.js", target{app: "shell", path: "/static/shell/htmx.min.js", anonymous: true}, true},
		{"/static/payment/x", target{app: "payment", path: "/static/payment/x", anonymous: true}, false},
		// Everything else is a page of the shell, under its /pages.
		{"/", target{app: "shell", path: "/pages/"}, true},
		{"/products/headlamp", target{app: "shell", path: "/pages/products/headlamp"}, true},
		{"/robots.txt", target{app: "shell", path: "/pages/robots.txt"}, true},
	} {
		got, ok := route(tt.path)
		assert.Equal(t, tt.ok, ok, tt.path)
		if ok {
			assert.Equal(t, tt.want, got, tt.path)
		}
	}
}

// Each service sees and sets only its own cookies; the shell passes each
// service's on; the session cookie travels only as a bearer token.
func TestCookieRules(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "identity_session=tok; basket_guest=g1; catalog_pref=x; tracker=1")
	assert.Equal(t, "basket_guest=g1", cookiesFor(r, "basket"))
	assert.Equal(t, "catalog_pref=x", cookiesFor(r, "catalog"))
	assert.Equal(t, "", cookiesFor(r, "identity"))
	assert.Equal(t, "basket_guest=g1; catalog_pref=x", cookiesFor(r, "shell"))

	assert.True(t, mayCookie("basket", "basket_guest=abc; Path=/"))
	assert.False(t, mayCookie("basket", "identity_session=forged; Path=/"))
	assert.False(t, mayCookie("catalog", "basket_guest=abc"))
	assert.True(t, mayCookie("identity", "identity_session=t; HttpOnly"))
	assert.True(t, mayCookie("shell", "identity_session=t; HttpOnly"))
	assert.False(t, mayCookie("shell", "shell_x=1"))
	assert.False(t, mayCookie("shell", "tracker=1"))
}

// A path with a control character is refused by the gateway itself, with
// the segment at fault named, and reaches no one: the sidecars would answer
// it with a 500 (Dapr 1.18).
func TestControlCharactersInPath(t *testing.T) {
	for _, tc := range []struct{ target, segment string }{
		{"/api/catalog/products/%00", "segment 4 holds U+0000"},
		{"/api/basket/items/a%0Ab", "segment 4 holds U+000A"},
		{"/api/identity/%7F", "segment 3 holds U+007F"},
		{"/fragments/catalog/x%1B", "segment 3 holds U+001B"},
		{"/products/%C2%85", "segment 2 holds U+0085"},
		{"/api/nothing/%00", "segment 3 holds U+0000"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			h, inv := newGateway(1000)
			w := do(h, http.MethodGet, tc.target, nil)
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			var p httpapi.Problem
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			assert.Equal(t, "bad_path", p.Code)
			assert.Equal(t, tc.segment, p.Fields["path"])
			assert.Empty(t, inv.app, "a refused path reached %s", inv.app)
		})
	}
	h, inv := newGateway(1000)
	assert.Equal(t, http.StatusOK, do(h, http.MethodGet, "/api/catalog/products/caf%C3%A9", nil).Code, "printable text passes")
	assert.Equal(t, "catalog", inv.app)
}
