package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/fragment"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

//go:embed static
var staticFiles embed.FS

// updatedEvent tells the page that the basket changed (the mini cart
// listens for it).
const updatedEvent = "basket-updated"

// guestCookie holds the id of a signed-out visitor's basket. Cookies of the
// basket service start with "basket_": the gateway passes only those to it.
const guestCookie = "basket_guest"

var guestIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func newFragments() *fragment.Service {
	return fragment.NewService("basket", staticFiles, "basket.css",
		fragment.Spec{Name: "mini-cart", Description: "item count and total, for the header", Cache: fragment.Public},
		fragment.Spec{Name: "add-to-cart", Description: "quantity and add button for one product", Params: []string{"id", "page"}, Cache: fragment.Public, Actions: []string{"POST"}},
		fragment.Spec{Name: "cart", Description: "the lines, with change and remove; summary=1 is read-only", Params: []string{"page", "summary"}, Cache: fragment.Personal, Actions: []string{"POST"}},
	)
}

func (b Basket) count() int {
	n := 0
	for _, it := range b.Items {
		n += it.Quantity
	}
	return n
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
func owner(w http.ResponseWriter, r *http.Request, baskets Baskets) (string, error) {
	guest := ""
	if c, err := r.Cookie(guestCookie); err == nil && guestIDRE.MatchString(c.Value) {
		guest = "guest:" + c.Value
	}
	user, err := caller.User(r)
	if err != nil {
		return guest, nil
	}
	if guest != "" {
		if err := mergeGuest(r.Context(), baskets, guest, user); err != nil {
			return "", err
		}
		http.SetCookie(w, &http.Cookie{Name: guestCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	return user, nil
}

// mergeGuest adds the guest basket's lines to the user's. The user's
// basket remembers which guest baskets it took in (by a hash of their id),
// under its ETag, so two requests merging at once (a page's fragments are
// fetched in parallel) add the lines once and both show them.
func mergeGuest(ctx context.Context, baskets Baskets, guest, user string) error {
	g, _, err := baskets.Get(ctx, guest)
	if err != nil || len(g.Items) == 0 {
		return err
	}
	sum := sha256.Sum256([]byte(guest))
	mark := hex.EncodeToString(sum[:8])
	if _, err := update(ctx, baskets, user, func(b Basket) Basket {
		if slices.Contains(b.Merged, mark) {
			return b
		}
		for _, it := range g.Items {
			it.Quantity = min(it.Quantity+b.quantity(it.ProductID), MaxQuantity)
			b = b.set(it)
		}
		b.Merged = append(b.Merged[max(0, len(b.Merged)-4):], mark)
		return b
	}); err != nil {
		return err
	}
	// The guest basket is done with.
	_, err = update(ctx, baskets, guest, func(Basket) Basket { return Basket{}.withTotal() })
	return err
}

func (b Basket) quantity(id string) int {
	for _, it := range b.Items {
		if it.ProductID == id {
			return it.Quantity
		}
	}
	return 0
}

// newGuest starts a guest basket for a signed-out visitor.
func newGuest(w http.ResponseWriter) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: guestCookie, Value: id, Path: "/", MaxAge: 30 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return "guest:" + id
}

// current is the basket a fragment shows, and whose it is (see owner).
func current(w http.ResponseWriter, r *http.Request, baskets Baskets) (string, Basket, error) {
	who, err := owner(w, r, baskets)
	if err != nil {
		return "", Basket{}, err
	}
	b, err := load(r.Context(), baskets, who)
	return who, b, err
}

func load(ctx context.Context, baskets Baskets, who string) (Basket, error) {
	if who == "" {
		return Basket{}.withTotal(), nil
	}
	b, _, err := baskets.Get(ctx, who)
	return b, err
}

// personal is the cache policy: an empty basket of nobody in particular is
// the same for everyone.
func personal(r *http.Request, who string) string {
	if who == "" && r.Header.Get("Authorization") == "" {
		return fragment.Public
	}
	return fragment.Personal
}

func miniCartHandler(log *slog.Logger, f *fragment.Service, baskets Baskets) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, b, err := current(w, r, baskets)
		if err != nil {
			f.Fail(w, r, log, err)
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
	ProductID, Page, Quantity string
	Added, Error              string
}

func addToCartHandler(f *fragment.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := addToCartView{ProductID: r.URL.Query().Get("id"), Page: fragment.Page(r), Quantity: "1"}
		f.Write(w, r, http.StatusOK, fragment.Public, addToCartFragment(v))
	})
}

// addToCart adds quantity of a product (with its name and price from
// catalog) to the basket, starting a guest basket when there is none.
func addToCart(log *slog.Logger, f *fragment.Service, baskets Baskets, catalog Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := addToCartView{ProductID: r.PostFormValue("id"), Page: fragment.Page(r), Quantity: strings.TrimSpace(r.PostFormValue("quantity"))}
		n, err := strconv.Atoi(v.Quantity)
		if err != nil || n < 1 || n > MaxQuantity {
			v.Error = "Quantity must be a whole number from 1 to 99."
			f.Invalid(w, r, addToCartFragment(v))
			return
		}
		p, err := catalog.Product(r.Context(), v.ProductID)
		if errors.Is(err, ErrUnknownProduct) {
			v.Error = "This product is no longer sold."
			f.Invalid(w, r, addToCartFragment(v))
			return
		}
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		who, err := owner(w, r, baskets)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		if who == "" {
			who = newGuest(w)
		}
		refused := ""
		_, err = update(r.Context(), baskets, who, func(b Basket) Basket {
			total := b.quantity(p.ID) + n
			switch {
			case total > p.Stock:
				refused = "Only " + strconv.Itoa(p.Stock) + " in stock" + inCart(b.quantity(p.ID)) + "."
				return b
			case total > MaxQuantity:
				refused = "A cart holds at most 99 of one product" + inCart(b.quantity(p.ID)) + "."
				return b
			}
			return b.set(Item{ProductID: p.ID, Name: p.Name, UnitPrice: p.Price, Quantity: total})
		})
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		if refused != "" {
			v.Error = refused
			f.Invalid(w, r, addToCartFragment(v))
			return
		}
		v.Added, v.Quantity = strconv.Itoa(n)+" × "+p.Name, "1"
		f.Done(w, r, v.Page, addToCartFragment(v), updatedEvent)
	})
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
	if q, ok := v.Typed[it.ProductID]; ok {
		return q
	}
	return strconv.Itoa(it.Quantity)
}

func cartHandler(log *slog.Logger, f *fragment.Service, baskets Baskets) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, b, err := current(w, r, baskets)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		v := cartView{Basket: b, Page: fragment.Page(r), Summary: r.URL.Query().Get("summary") == "1"}
		f.Write(w, r, http.StatusOK, fragment.Personal, cartFragment(v))
	})
}

// changeCart sets a line's quantity (0 or action=remove takes it out).
func changeCart(log *slog.Logger, f *fragment.Service, baskets Baskets, catalog Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, page := r.PostFormValue("id"), fragment.Page(r)
		who, err := owner(w, r, baskets)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		if who == "" {
			f.Done(w, r, page, nil)
			return
		}
		typed := strings.TrimSpace(r.PostFormValue("quantity"))
		n, err := strconv.Atoi(typed)
		if r.PostFormValue("action") == "remove" {
			n, err = 0, nil
		}
		refuse := func(msg string) {
			b, lerr := load(r.Context(), baskets, who)
			if lerr != nil {
				f.Fail(w, r, log, lerr)
				return
			}
			f.Invalid(w, r, cartFragment(cartView{Basket: b, Page: page, Typed: map[string]string{id: typed}, Errors: map[string]string{id: msg}}))
		}
		if err != nil || n < 0 || n > MaxQuantity {
			refuse("Quantity must be a whole number from 0 to 99.")
			return
		}
		item := Item{ProductID: id, Quantity: n}
		if n > 0 {
			p, err := catalog.Product(r.Context(), id)
			if err != nil {
				f.Fail(w, r, log, httpapi.Errorf(http.StatusBadGateway, "catalog_unavailable", "The catalog did not answer; try again."))
				return
			}
			if n > p.Stock {
				refuse("Only " + strconv.Itoa(p.Stock) + " in stock.")
				return
			}
			item.Name, item.UnitPrice = p.Name, p.Price
		}
		b, err := update(r.Context(), baskets, who, func(b Basket) Basket {
			if b.quantity(id) == 0 {
				return b // not in the basket (an old page): nothing to change
			}
			return b.set(item)
		})
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		f.Done(w, r, page, cartFragment(cartView{Basket: b, Page: page}), updatedEvent)
	})
}
