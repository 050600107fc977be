package main

import (
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/fragment"
)

//go:embed static
var staticFiles embed.FS

// updatedEvent tells the page that the basket changed (the mini cart
// listens for it).
const updatedEvent = "basket-updated"

// guestCookie holds the id of a signed-out visitor's basket. Cookies of the
// basket service start with "basket_": the gateway passes only those to it.
const guestCookie = "basket_guest"

// guestCookieLife is how long a browser keeps the guest cookie.
const guestCookieLife = 30 * 24 * time.Hour

func newFragments() *fragment.Service {
	return fragment.NewService("basket", staticFiles, "basket.css",
		fragment.Spec{Name: "mini-cart", Description: "item count and total, for the header", Cache: fragment.Public},
		fragment.Spec{Name: "add-to-cart", Description: "quantity and add button for one product or variant; follows catalog-variant-selected", Params: []string{"id", "sku", "page"}, Cache: fragment.Public, Actions: []string{"POST"}},
		fragment.Spec{Name: "cart", Description: "the lines, with change and remove; summary=1 is read-only", Params: []string{"page", "summary"}, Cache: fragment.Personal, Actions: []string{"POST"}},
	)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func invalid(msg string) string {
	if msg != "" {
		return "true"
	}
	return "false"
}

// owner finds whose basket a fragment shows: the signed-in user's, else the
// guest basket named by the cookie ("" when there is none yet). A guest
// basket is merged into the user's basket on the first request after
// signing in, and its cookie cleared.
func owner(w http.ResponseWriter, r *http.Request, svc *Service) (string, error) {
	guest := ""
	if c, err := r.Cookie(guestCookie); err == nil && validGuestID(c.Value) {
		guest = guestOwner(c.Value)
	}
	user, err := caller.User(r)
	if err != nil {
		return guest, nil
	}
	if guest != "" {
		if err := svc.MergeGuest(r.Context(), guest, user); err != nil {
			return "", err
		}
		http.SetCookie(w, &http.Cookie{Name: guestCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	return user, nil
}

// keepGuest gives a signed-out visitor the cookie of the guest basket id.
func keepGuest(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{Name: guestCookie, Value: id, Path: "/", MaxAge: int(guestCookieLife.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// current is the basket a fragment shows, and whose it is (see owner).
func current(w http.ResponseWriter, r *http.Request, svc *Service) (string, Basket, error) {
	who, err := owner(w, r, svc)
	if err != nil {
		return "", Basket{}, err
	}
	b, err := svc.Basket(r.Context(), who)
	return who, b, err
}

// personal is the cache policy: an empty basket of nobody in particular is
// the same for everyone.
func personal(r *http.Request, who string) string {
	if who == "" && r.Header.Get("Authorization") == "" {
		return fragment.Public
	}
	return fragment.Personal
}

func miniCartHandler(log *slog.Logger, f *fragment.Service, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, b, err := current(w, r, svc)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		ctx := r.Context()
		if fragment.IsHTMX(r) {
			ctx = fragment.WithHighlight(ctx)
		}
		f.Write(w, r.WithContext(ctx), http.StatusOK, personal(r, who), miniCartFragment(b))
	})
}

// addToCartView is the add-to-cart form: what was asked and what came of it.
type addToCartView struct {
	// SKU is what the form adds (a product's id, or a variant's SKU);
	// Variant is the variant's label.
	ProductID, SKU, Variant string
	Page, Quantity          string
	Added, Error            string
	// SoldOut: nothing of it can be added (the form still says what it is).
	SoldOut bool
}

// variantSelected is catalog's event when a variant is picked on a product
// page, with the variant's sku: the form follows it.
const variantSelected = "catalog-variant-selected"

// addToCartHandler renders the form for the variant sku of product id (the
// catalog's default one when sku is missing or not the product's).
func addToCartHandler(log *slog.Logger, f *fragment.Service, catalog Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p, err := catalog.Product(r.Context(), q.Get("id"))
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		chosen, ok := p.Variant(q.Get("sku"))
		if !ok {
			chosen = p.DefaultVariant()
		}
		v := addToCartView{ProductID: p.ID, SKU: chosen.SKU, Variant: chosen.Label, Page: fragment.Page(r), Quantity: "1", SoldOut: chosen.Stock == 0}
		f.Write(w, r, http.StatusOK, fragment.Public, addToCartFragment(v))
	})
}

// addToCart adds quantity of a product to the basket, starting a guest
// basket (and its cookie) when there is none.
func addToCart(log *slog.Logger, f *fragment.Service, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := addToCartView{ProductID: r.PostFormValue("id"), SKU: r.PostFormValue("sku"), Variant: r.PostFormValue("variant"),
			Page: fragment.Page(r), Quantity: strings.TrimSpace(r.PostFormValue("quantity"))}
		if v.SKU == "" {
			v.SKU = v.ProductID // a form from before variants
		}
		n, err := strconv.Atoi(v.Quantity)
		if err != nil {
			v.Error = wholeNumber(1)
			f.Invalid(w, r, addToCartFragment(v))
			return
		}
		who, err := owner(w, r, svc)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		client, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ",")
		added, err := svc.Add(r.Context(), who, strings.TrimSpace(client), v.SKU, n)
		if msg, ok := refusal(err, 1); ok {
			v.Error = msg
			f.Invalid(w, r, addToCartFragment(v))
			return
		}
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		if added.Guest != "" {
			keepGuest(w, added.Guest)
		}
		v.Added, v.Quantity = strconv.Itoa(n)+" × "+added.Item.title(), "1"
		f.Done(w, r, v.Page, addToCartFragment(v), updatedEvent)
	})
}

// refusal is what a form shows under a quantity the domain refused (err),
// for a form that takes least to MaxQuantity; ok is false for any other
// error.
func refusal(err error, least int) (msg string, ok bool) {
	var invalid *InvalidError
	var stock *StockError
	var limit *LimitError
	switch {
	case errors.As(err, &invalid):
		return wholeNumber(least), true
	case errors.Is(err, ErrUnknownProduct):
		return "This product is no longer sold.", true
	case errors.Is(err, ErrTooManyGuests):
		return "Too many new carts from your network. Sign in, or try again in a few minutes.", true
	case errors.As(err, &stock):
		return "Only " + strconv.Itoa(stock.Stock) + " in stock" + inCart(stock.InCart) + ".", true
	case errors.As(err, &limit):
		return "A cart holds at most " + strconv.Itoa(MaxQuantity) + " of one product" + inCart(limit.InCart) + ".", true
	}
	return "", false
}

func wholeNumber(least int) string {
	return "Quantity must be a whole number from " + strconv.Itoa(least) + " to " + strconv.Itoa(MaxQuantity) + "."
}

func inCart(n int) string {
	if n == 0 {
		return ""
	}
	return " (you have " + strconv.Itoa(n) + " in your cart)"
}

// cartView is the cart page, or its read-only summary at checkout.
type cartView struct {
	Basket  Basket
	Page    string
	Summary bool
	// Typed and Errors keep a refused quantity on screen with its reason.
	Typed, Errors map[string]string
}

func (v cartView) quantity(it Item) string {
	if q, ok := v.Typed[it.item()]; ok {
		return q
	}
	return strconv.Itoa(it.Quantity)
}

func cartHandler(log *slog.Logger, f *fragment.Service, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, b, err := current(w, r, svc)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		v := cartView{Basket: b, Page: fragment.Page(r), Summary: r.URL.Query().Get("summary") == "1"}
		f.Write(w, r, http.StatusOK, fragment.Personal, cartFragment(v))
	})
}

// changeCart sets a line's quantity (0 or action=remove takes it out).
func changeCart(log *slog.Logger, f *fragment.Service, svc *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, page := r.PostFormValue("id"), fragment.Page(r)
		who, err := owner(w, r, svc)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		if who == "" {
			f.Done(w, r, page, nil)
			return
		}
		typed := strings.TrimSpace(r.PostFormValue("quantity"))
		refuse := func(msg string) {
			b, err := svc.Basket(r.Context(), who)
			if err != nil {
				f.Fail(w, r, log, problem(err))
				return
			}
			f.Invalid(w, r, cartFragment(cartView{Basket: b, Page: page, Typed: map[string]string{id: typed}, Errors: map[string]string{id: msg}}))
		}
		n, err := strconv.Atoi(typed)
		if r.PostFormValue("action") == "remove" {
			n, err = 0, nil
		}
		if err != nil {
			refuse(wholeNumber(0))
			return
		}
		b, err := svc.Change(r.Context(), who, id, n)
		if msg, ok := refusal(err, 0); ok {
			refuse(msg)
			return
		}
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Done(w, r, page, cartFragment(cartView{Basket: b, Page: page}), updatedEvent)
	})
}

// productURL is the product page of a line, showing its variant.
func productURL(it Item) string {
	u := "/products/" + url.PathEscape(it.ProductID)
	if it.SKU != "" {
		u += "?" + url.Values{"sku": {it.SKU}}.Encode()
	}
	return u
}

// refetchURL is where the add-to-cart form fetches itself again for
// another variant of the same product.
func (v addToCartView) refetchURL() string {
	return "/fragments/basket/add-to-cart?" + url.Values{"id": {v.ProductID}, "page": {v.Page}}.Encode()
}
