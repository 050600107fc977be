package main

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/mux"
)

// Page is one page of the shop: its slots and how its main area is laid out.
// Every page also has the header's slots (chrome).
type Page struct {
	Title       string
	Description string // for search engines and link previews
	// Meta names the slot whose fragment may describe the page (its own
	// title, description and schema.org data; see metaFor).
	Meta  string
	Slots func(r *http.Request) map[string]Slot
	Main  func(View) templ.Component
}

// Slot deadlines. The header's fragments are small and cached; a page's
// own fragments may take longer before the page gives up on them.
const (
	headerTimeout = 400 * time.Millisecond
	mainTimeout   = 1500 * time.Millisecond
)

// here passes the page's own path, which forms post back to.
func here(r *http.Request) url.Values { return url.Values{"page": {pagePath(r)}} }

// pagesPrefix is where the shell's pages are: the gateway sends the
// browser's /<path> here as /pages/<path>.
const pagesPrefix = "/pages"

// pagePath is the page's address as the browser knows it. The home page
// arrives as /pages, without its slash: Dapr 1.18 cleans an invoked method's
// path (path.Clean), so the gateway's /pages/ loses its trailing slash.
func pagePath(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.RequestURI(), pagesPrefix)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// chrome are the header's slots, on every page.
func chrome(r *http.Request) map[string]Slot {
	return map[string]Slot{
		"user-menu": {Service: "identity", Fragment: "user-menu", Params: here, Timeout: headerTimeout, Personal: true, Fallback: signInLink()},
		"mini-cart": {Service: "basket", Fragment: "mini-cart", Timeout: headerTimeout, Personal: true, Fallback: cartLink()},
		"categories": {Service: "catalog", Fragment: "categories", Timeout: headerTimeout,
			Params: func(r *http.Request) url.Values { return url.Values{"category": {r.URL.Query().Get("category")}} }},
	}
}

func query(names ...string) func(r *http.Request) url.Values {
	return func(r *http.Request) url.Values {
		v := url.Values{}
		for _, n := range names {
			if s := r.URL.Query().Get(n); s != "" {
				v.Set(n, s)
			}
		}
		return v
	}
}

// productID names the product of a product page, and the variant chosen
// (?sku=, the picker's plain form and a shared link) for the fragments that
// depend on it.
func productID(r *http.Request) url.Values {
	v := url.Values{"id": {mux.Vars(r)["id"]}, "page": {pagePath(r)}}
	if sku := r.URL.Query().Get("sku"); sku != "" {
		v.Set("sku", sku)
	}
	return v
}

func orderID(r *http.Request) url.Values { return url.Values{"id": {mux.Vars(r)["id"]}} }

// withPage adds the page's path to other parameters.
func withPage(params func(*http.Request) url.Values) func(*http.Request) url.Values {
	return func(r *http.Request) url.Values {
		v := params(r)
		v.Set("page", pagePath(r))
		return v
	}
}

func fixed(v url.Values) func(*http.Request) url.Values {
	return func(*http.Request) url.Values { return v }
}

func slots(s map[string]Slot) func(*http.Request) map[string]Slot {
	return func(*http.Request) map[string]Slot { return s }
}

// pages maps each route to its page.
var pages = map[string]Page{
	"/": {Title: "Shop", Meta: "product-grid", Main: homeMain, Slots: slots(map[string]Slot{
		"product-grid": {Service: "catalog", Fragment: "product-grid", Params: query("category", "q", "page"), Timeout: mainTimeout,
			Fallback: unavailable("The products cannot be shown right now. Please try again in a moment.")},
		"recommendations": {Service: "catalog", Fragment: "recommendations", Timeout: headerTimeout},
	})},
	"/products/{id}": {Title: "Product", Meta: "product-detail", Main: productMain, Slots: slots(map[string]Slot{
		"product-detail":  {Service: "catalog", Fragment: "product-detail", Params: productID, Timeout: mainTimeout, Required: true},
		"add-to-cart":     {Service: "basket", Fragment: "add-to-cart", Params: productID, Timeout: mainTimeout, Fallback: unavailable("Adding to the cart is unavailable right now.")},
		"recommendations": {Service: "catalog", Fragment: "recommendations", Params: productID, Timeout: headerTimeout},
	})},
	"/cart": {Title: "Cart", Description: "Your cart at Bazaar: change quantities, then check out.", Main: single, Slots: slots(map[string]Slot{
		"main": {Service: "basket", Fragment: "cart", Params: here, Timeout: mainTimeout, Personal: true, Required: true},
	})},
	"/checkout": {Title: "Checkout", Description: "Check out your Bazaar cart: address and card, then follow your order.", Main: checkoutMain, Slots: slots(map[string]Slot{
		"checkout-form": {Service: "ordering", Fragment: "checkout-form", Params: here, Timeout: mainTimeout, Personal: true, Required: true},
		"cart":          {Service: "basket", Fragment: "cart", Params: fixed(url.Values{"summary": {"1"}}), Timeout: mainTimeout, Personal: true, Fallback: unavailable("The order summary is unavailable right now.")},
	})},
	"/orders/{id}": {Title: "Your order", Description: "Where your Bazaar order is, step by step, until it is paid and shipped.", Main: orderMain, Slots: func(r *http.Request) map[string]Slot {
		s := map[string]Slot{"order-status": {Service: "ordering", Fragment: "order-status", Params: orderID, Timeout: mainTimeout, Personal: true, Required: true}}
		if r.URL.Query().Get("placed") == "1" {
			s["order-confirmation"] = Slot{Service: "ordering", Fragment: "order-confirmation", Params: orderID, Timeout: headerTimeout, Personal: true}
		}
		return s
	}},
	"/orders": {Title: "Your orders", Description: "Your Bazaar orders and where each one is.", Main: single, Slots: slots(map[string]Slot{
		"main": {Service: "ordering", Fragment: "order-history", Timeout: mainTimeout, Personal: true, Required: true},
	})},
	"/sign-in": {Title: "Sign in", Description: "Sign in to Bazaar to check out and follow your orders.", Main: single, Slots: slots(map[string]Slot{
		"main": {Service: "identity", Fragment: "sign-in", Params: withPage(query("return")), Timeout: mainTimeout, Required: true},
	})},
	"/register": {Title: "Create an account", Description: "Create a Bazaar account to check out and follow your orders.", Main: single, Slots: slots(map[string]Slot{
		"main": {Service: "identity", Fragment: "register", Params: withPage(query("return")), Timeout: mainTimeout, Required: true},
	})},
	"/admin": {Title: "Admin", Main: adminMain, Slots: slots(map[string]Slot{
		"admin-orders":   {Service: "ordering", Fragment: "admin-orders", Params: here, Timeout: mainTimeout, Personal: true, Required: true},
		"admin-products": {Service: "catalog", Fragment: "admin-products", Params: here, Timeout: mainTimeout, Personal: true, Required: true},
		"admin-keys":     {Service: "identity", Fragment: "admin-keys", Params: here, Timeout: mainTimeout, Personal: true, Required: true},
	})},
}
