package main

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/fragment"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

//go:embed static
var staticFiles embed.FS

func newFragments() *fragment.Service {
	return fragment.NewService("ordering", staticFiles, "ordering.css",
		fragment.Spec{Name: "checkout-form", Description: "shipping address and card; places the order", Params: []string{"page"}, Cache: fragment.Personal, Actions: []string{"POST"}},
		fragment.Spec{Name: "order-confirmation", Description: "thank you and the order number", Params: []string{"id"}, Cache: fragment.Personal},
		fragment.Spec{Name: "order-status", Description: "the order's status, polling itself until it settles", Params: []string{"id"}, Cache: fragment.Personal},
		fragment.Spec{Name: "order-history", Description: "the user's orders", Cache: fragment.Personal},
		fragment.Spec{Name: "admin-orders", Description: "recent orders, shipping the paid ones (admins)", Params: []string{"page"}, Cache: fragment.Personal, Actions: []string{"POST"}},
	)
}

// checkoutView is the checkout form with what was typed and the errors.
type checkoutView struct {
	Page, Key string
	SignedIn  bool
	Values    map[string]string
	Errors    map[string]string
}

// formFields maps basket's API fields to the form's.
var formFields = map[string]string{
	"shippingAddress.name": "name", "shippingAddress.street": "street", "shippingAddress.city": "city",
	"shippingAddress.postalCode": "postalCode", "shippingAddress.country": "country",
	"card.number": "cardNumber", "card.expiry": "cardExpiry", "card.cvc": "cardCvc",
}

// statusChangedEvent tells the page that an order's status changed.
const statusChangedEvent = "ordering-status-changed"

// newKey is the Idempotency-Key of one rendering of the form: submitting it
// twice (a double click, a retried post) places one order.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func checkoutFormHandler(f *fragment.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := caller.User(r)
		v := checkoutView{Page: fragment.Page(r), Key: newKey(), SignedIn: err == nil, Values: map[string]string{}}
		if c, ok := caller.Claims(r); ok {
			v.Values["name"] = c.Name
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, checkoutFormFragment(v))
	})
}

// placeOrder sends the form to basket's checkout. Refused input comes back
// with its errors and what was typed, except the card number and security
// code, which are never written into a page.
func placeOrder(log *slog.Logger, f *fragment.Service, basket contracts.Invoker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := caller.User(r); err != nil {
			f.Fail(w, r, log, err)
			return
		}
		v := checkoutView{Page: fragment.Page(r), Key: r.PostFormValue("key"), SignedIn: true, Values: map[string]string{}, Errors: map[string]string{}}
		if !contracts.ValidIdempotencyKey(v.Key) {
			v.Key = newKey()
		}
		for _, name := range []string{"name", "street", "postalCode", "city", "country", "cardExpiry"} {
			v.Values[name] = strings.TrimSpace(r.PostFormValue(name))
		}
		body, _ := json.Marshal(map[string]any{
			"shippingAddress": events.Address{Name: v.Values["name"], Street: v.Values["street"], City: v.Values["city"],
				PostalCode: v.Values["postalCode"], Country: v.Values["country"]},
			"card": map[string]string{"number": r.PostFormValue("cardNumber"), "expiry": v.Values["cardExpiry"], "cvc": r.PostFormValue("cardCvc")},
		})
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, "/basket/checkout", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		req.Header.Set(contracts.IdempotencyKeyHeader, v.Key)
		resp, err := basket.Do(r.Context(), contracts.BasketApp, req)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		switch {
		case resp.StatusCode == http.StatusAccepted:
			var out struct{ OrderID string }
			if err := json.Unmarshal(raw, &out); err != nil || out.OrderID == "" {
				f.Fail(w, r, log, errors.New("checkout answered without an order id"))
				return
			}
			f.Done(w, r, "/orders/"+out.OrderID+"?placed=1", nil)
		case resp.StatusCode == http.StatusUnprocessableEntity || resp.StatusCode == http.StatusConflict:
			var p httpapi.Problem
			_ = json.Unmarshal(raw, &p)
			for field, msg := range p.Fields {
				if name, ok := formFields[field]; ok {
					v.Errors[name] = msg
				}
			}
			switch {
			case p.Code == "empty_basket":
				v.Errors["form"] = "Your cart is empty: add something first."
			case len(v.Errors) == 0:
				v.Errors["form"] = p.Detail
			default:
				v.Errors["form"] = "Please correct the fields marked below."
			}
			f.Invalid(w, r, checkoutFormFragment(v))
		default:
			f.Fail(w, r, log, errors.New("checkout answered "+resp.Status))
		}
	})
}

// findOrder is the caller's order in the query, as Ordering.Track sees it;
// with a status seen, once it is no longer that (Ordering.Await).
func findOrder(r *http.Request, o Ordering, seen string) (order Order, found bool, err error) {
	v, err := viewer(r)
	if err != nil {
		return Order{}, false, err
	}
	id := r.URL.Query().Get("id")
	if seen != "" {
		order, found, err = o.Await(r.Context(), v, id, seen, MaxWait)
	} else {
		order, found, err = o.Track(r.Context(), v, id)
	}
	return order, found, problem(err)
}

func confirmationHandler(log *slog.Logger, f *fragment.Service, o Ordering) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		order, _, err := findOrder(r, o, "")
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, confirmationFragment(order))
	})
}

// received is the status shown of an order the saga has not stored yet.
const received = "received"

func orderStatusHandler(log *slog.Logger, f *fragment.Service, o Ordering) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A page that has seen a status asks again with it, and the answer
		// waits until the order moves on (a long poll, Ordering.Await).
		seen := r.URL.Query().Get("seen")
		awaited := seen
		if seen == received {
			awaited = events.Submitted // what Track says of an order not stored yet
		}
		order, found, err := findOrder(r, o, awaited)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		if !found {
			order.Status = received
		}
		// Other fragments may follow the order (the mini cart: the basket
		// empties once the order is placed); tell them when it moves on.
		if fragment.IsHTMX(r) && seen != "" && seen != order.Status {
			w.Header().Set("HX-Trigger", statusChangedEvent)
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, orderStatusFragment(order, found))
	})
}

func orderHistoryHandler(log *slog.Logger, f *fragment.Service, o Ordering) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := viewer(r)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		list, err := o.Mine(r.Context(), v)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, orderHistoryFragment(list))
	})
}

func adminOrdersHandler(log *slog.Logger, f *fragment.Service, o Ordering) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := viewer(r)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		list, err := o.Recent(r.Context(), v)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, adminOrdersFragment(list, fragment.Page(r), ""))
	})
}

// shipFromAdmin ships a paid order from the admin list.
func shipFromAdmin(log *slog.Logger, f *fragment.Service, o Ordering) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := viewer(r)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		page := fragment.Page(r)
		order, err := o.Ship(r.Context(), v, r.PostFormValue("id"))
		message := ""
		var transition *TransitionError
		switch {
		case errors.Is(err, ErrNotFound):
			message = "There is no such order."
		case errors.As(err, &transition):
			message = "Order " + events.ShortID(order.ID) + " is " + statusText(order.Status) + ": only paid orders ship."
		case err != nil:
			f.Fail(w, r, log, problem(err))
			return
		}
		list, err := o.Recent(r.Context(), v)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		if message != "" {
			f.Invalid(w, r, adminOrdersFragment(list, page, message))
			return
		}
		f.Done(w, r, page, adminOrdersFragment(list, page, "Order "+events.ShortID(order.ID)+" is on its way."))
	})
}

// statusAttrs makes a live status ask at once for its next status, which
// the answer waits for (a long poll: at most MaxWait, then it asks again),
// until the order settles. If an answer is lost, the next try is at most
// 10 s later (htmx drops a trigger while a request is in flight).
func statusAttrs(o Order, found bool) templ.Attributes {
	if found && settled(o.Status) {
		return nil
	}
	return templ.Attributes{"hx-get": "/fragments/ordering/order-status?" + url.Values{"id": {o.ID}, "seen": {o.Status}}.Encode(),
		"hx-trigger": "load, every 10s", "hx-swap": "outerHTML"}
}

func settled(status string) bool {
	return status == events.Paid || status == events.Shipped || status == events.Cancelled
}

func statusText(s string) string {
	switch s {
	case received:
		return "Received, being confirmed…"
	case events.Submitted:
		return "Placed"
	case events.AwaitingStock:
		return "Setting stock aside…"
	case events.StockConfirmed:
		return "Stock set aside, taking payment…"
	case events.Paid:
		return "Paid"
	case events.Shipped:
		return "Shipped"
	case events.Cancelled:
		return "Cancelled"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func clock(at string) string {
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return at
	}
	return t.UTC().Format("15:04:05 UTC")
}

func day(at string) string {
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return at
	}
	return t.UTC().Format("2 Jan 2006, 15:04")
}
