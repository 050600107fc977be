package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/money"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

const (
	approve = `{"number":"4242 4242 4242 4242","expiry":"12/30","cvc":"123"}`
	decline = `{"number":"4000 0000 0000 0002","expiry":"12/30","cvc":"123"}`
	address = `{"name":"Ann Example","street":"1 Main St","city":"Lyon","postalCode":"69001","country":"FR"}`
)

// shop drives the system as a client app would, through its own sidecar.
type shop struct {
	t     testing.TB
	sys   *runner.System
	from  *runner.App
	users *harness.Users
}

// backends are the services behind the gateway; a probe app named
// "gateway" stands in for the real one, so tests call as it would.
var backends = []string{"catalog", "basket", "ordering", "payment", "identity"}

// asAdmin is the user name that calls with the first admin's token.
const asAdmin = "@admin"

func (s shop) call(app, method, path, user, body string, extra ...string) (int, []byte) {
	s.t.Helper()
	h := http.Header{}
	switch user {
	case "":
	case asAdmin:
		h.Set("Authorization", "Bearer "+s.users.Admin(s.t))
	default:
		h.Set("Authorization", "Bearer "+s.users.Token(s.t, user))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	status, header, b := harness.Invoke(s.t, s.from, app, method, path, h, body)
	// Every answer of the public API the saga tests see must be one
	// api/openapi.yaml declares. (Not in benchmarks: the checking would
	// take CPU from the system being measured.)
	if _, bench := s.t.(*testing.B); !bench {
		harness.LoadContract(s.t).CheckService(s.t, app, method, path, status, header, b)
	}
	return status, b
}

func (s shop) add(user, product string, qty int) {
	s.t.Helper()
	status, body := s.call("basket", http.MethodPut, "basket/items/"+product, user, fmt.Sprintf(`{"quantity":%d}`, qty))
	require.Equal(s.t, 200, status, "%s", body)
}

func (s shop) checkout(user, key, cardJSON string) string {
	s.t.Helper()
	status, body := s.call("basket", http.MethodPost, "basket/checkout", user,
		`{"shippingAddress":`+address+`,"card":`+cardJSON+`}`, "Idempotency-Key", key)
	require.Equal(s.t, http.StatusAccepted, status, "%s", body)
	var out struct{ OrderID string }
	require.NoError(s.t, json.Unmarshal(body, &out))
	return out.OrderID
}

func (s shop) order(user, id string) (Order, int) {
	status, body := s.call("ordering", http.MethodGet, "orders/"+id, user, "")
	var o Order
	_ = json.Unmarshal(body, &o)
	return o, status
}

// waitFor polls until the order reaches one of the statuses.
func (s shop) waitFor(user, id string, statuses ...string) Order {
	s.t.Helper()
	return s.waitWithin(45*time.Second, user, id, statuses...)
}

func (s shop) waitWithin(limit time.Duration, user, id string, statuses ...string) Order {
	s.t.Helper()
	var o Order
	require.EventuallyWithT(s.t, func(c *assert.CollectT) {
		var status int
		o, status = s.order(user, id)
		assert.True(c, status == http.StatusOK && slices.Contains(statuses, o.Status), "order %s is %q (%d), want %v", id, o.Status, status, statuses)
	}, limit, harness.Poll)
	return o
}

func (s shop) stock(product string) (int, string) {
	s.t.Helper()
	status, h, body := harness.Invoke(s.t, s.from, "catalog", http.MethodGet, "products/"+product, nil, "")
	require.Equal(s.t, 200, status, "%s", body)
	var p struct{ Stock int }
	require.NoError(s.t, json.Unmarshal(body, &p))
	return p.Stock, h.Get("ETag")
}

// variantStock is the stock of each variant of product, by SKU.
func (s shop) variantStock(product string) map[string]int {
	s.t.Helper()
	status, _, body := harness.Invoke(s.t, s.from, "catalog", http.MethodGet, "products/"+product, nil, "")
	require.Equal(s.t, 200, status, "%s", body)
	var p contracts.Product
	require.NoError(s.t, json.Unmarshal(body, &p))
	out := map[string]int{}
	for _, v := range p.Variants {
		out[v.SKU] = v.Stock
	}
	// Callers loop over this map: an empty one would check nothing.
	require.NotEmpty(s.t, out, "%s has no variants", product)
	return out
}

// setVariantStock sets the stock of one variant (sku) of product, keeping
// the others as they are.
func (s shop) setVariantStock(sku string, n int) {
	s.t.Helper()
	product := contracts.ProductOfSKU(sku)
	status, h, body := harness.Invoke(s.t, s.from, "catalog", http.MethodGet, "products/"+product, nil, "")
	require.Equal(s.t, 200, status, "%s", body)
	var p contracts.Product
	require.NoError(s.t, json.Unmarshal(body, &p))
	variants := make([]map[string]any, 0, len(p.Variants))
	for _, v := range p.Variants {
		stock := v.Stock
		if v.SKU == sku {
			stock = n
		}
		variants = append(variants, map[string]any{"label": v.Label, "price": v.Price, "stock": stock})
	}
	update, _ := json.Marshal(map[string]any{"name": p.Name, "description": p.Description, "category": p.Category, "variants": variants})
	status, _, body = harness.Invoke(s.t, s.from, "catalog", http.MethodPut, "products/"+product, http.Header{"If-Match": {h.Get("ETag")}, "Authorization": {"Bearer " + s.users.Admin(s.t)}}, string(update))
	require.Equal(s.t, 200, status, "%s", body)
}

func (s shop) setStock(product string, n int) {
	s.t.Helper()
	_, etag := s.stock(product)
	status, _, body := harness.Invoke(s.t, s.from, "catalog", http.MethodGet, "products/"+product, nil, "")
	require.Equal(s.t, 200, status)
	var p map[string]any
	require.NoError(s.t, json.Unmarshal(body, &p))
	update, _ := json.Marshal(map[string]any{"name": p["name"], "description": p["description"], "category": p["category"], "price": p["price"], "stock": n})
	status, _, body = harness.Invoke(s.t, s.from, "catalog", http.MethodPut, "products/"+product, http.Header{"If-Match": {etag}, "Authorization": {"Bearer " + s.users.Admin(s.t)}}, string(update))
	require.Equal(s.t, 200, status, "%s", body)
}

func statuses(o Order) []string {
	var out []string
	for _, h := range o.History {
		out = append(out, h.Status)
	}
	return out
}

// TestCheckoutSaga runs the checkout saga through real sidecars, a real
// workflow engine and real stores, in both profiles.
func TestCheckoutSaga(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			sys := harness.Start(t, harness.Options{Profile: profile, Services: backends,
				Extra: []compose.Service{harness.Probe("gateway"), harness.Probe("dead-letters", events.DeadLetter(events.CheckoutAccepted)),
					harness.Probe("outsider")},
				Env: map[string]string{"ORDERING_GRACE_PERIOD": "1500ms"}})
			s := shop{t: t, sys: sys, from: sys.App("gateway"), users: harness.NewUsers(sys)}
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				status, body := s.call("basket", http.MethodPut, "basket/items/headlamp", "warmup", `{"quantity":1}`)
				assert.Equal(c, http.StatusOK, status, "catalog not ready: %s", body)
			}, 30*time.Second, harness.Poll)

			t.Run("a client follows an order with one request per status", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				s.add("gil", "headlamp", 1)
				id := s.checkout("gil", "long-poll-1", approve)
				seen, asked := events.Submitted, 0
				var answers []string
				for !settled(seen) && asked < 10 {
					status, body := s.call("ordering", http.MethodGet, "orders/"+id+"?seen="+seen, "gil", "")
					asked++
					var o Order
					require.NoError(t, json.Unmarshal(body, &o), "%d %s", status, body)
					if status == http.StatusOK {
						answers = append(answers, o.Status)
						seen = o.Status
					}
				}
				require.Equal(t, events.Paid, seen, "answers: %v", answers)
				// submitted → awaiting stock → stock confirmed → paid: each
				// answer a new status (asking every 200 ms took about 10
				// requests through the 1.5 s grace period alone).
				assert.LessOrEqual(t, asked, 4, "answers: %v", answers)
				for i := 1; i < len(answers); i++ {
					assert.NotEqual(t, answers[i-1], answers[i], "an answer came before the status moved on: %v", answers)
				}
			})

			t.Run("happy path", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				before, _ := s.stock("chefs-knife")
				variantsBefore := s.variantStock("chefs-knife")
				s.add("ann", "chefs-knife.20-cm", 2) // a variant: stock is held by SKU
				id := s.checkout("ann", "happy-path-1", approve)
				o := s.waitFor("ann", id, events.Paid, events.Cancelled)
				require.Equal(t, events.Paid, o.Status, "%+v", o)
				assert.Equal(t, []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Paid}, statuses(o))
				assert.Equal(t, int64(2*5900), o.Total.Amount)
				after, _ := s.stock("chefs-knife")
				assert.Equal(t, before-2, after)
				variantsAfter := s.variantStock("chefs-knife")
				for sku, n := range variantsBefore {
					if sku == "chefs-knife.20-cm" {
						n -= 2
					}
					assert.Equal(t, n, variantsAfter[sku], "only the variant ordered is taken: %s", sku)
				}
				require.EventuallyWithT(t, func(c *assert.CollectT) {
					_, body := s.call("basket", http.MethodGet, "basket", "ann", "")
					assert.NotContains(c, string(body), "chefs-knife", "basket not emptied")
				}, 10*time.Second, harness.Poll)
				status, _ := s.call("ordering", http.MethodPost, "orders/"+id+"/ship", "ann", "")
				assert.Equal(t, http.StatusForbidden, status, "a customer cannot ship")
				status, _ = s.call("ordering", http.MethodPost, "orders/"+id+"/ship", asAdmin, "")
				assert.Equal(t, http.StatusAccepted, status)
				o = s.waitFor("ann", id, events.Shipped)
				assert.Equal(t, events.Shipped, o.Status)
				_, code := s.order("bob", id)
				assert.Equal(t, http.StatusNotFound, code, "bob cannot see ann's order")
			})

			t.Run("declined card", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				before, _ := s.stock("linen-apron")
				s.add("dan", "linen-apron.natural", 3)
				id := s.checkout("dan", "declined-card-1", decline)
				o := s.waitFor("dan", id, events.Paid, events.Cancelled)
				assert.Equal(t, events.Cancelled, o.Status)
				assert.Equal(t, events.PaymentDeclined, o.Reason)
				assert.NotContains(t, statuses(o), events.Paid)
				// The saga records the cancellation, then puts the stock back.
				require.EventuallyWithT(t, func(c *assert.CollectT) {
					after, _ := s.stock("linen-apron")
					assert.Equal(c, before, after, "the stock back")
				}, 10*time.Second, harness.Poll)
			})

			t.Run("not enough stock", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				s.add("eve", "block-plane", 3)
				s.setStock("block-plane", 2)
				id := s.checkout("eve", "no-stock-1", approve)
				o := s.waitFor("eve", id, events.Paid, events.Cancelled)
				assert.Equal(t, events.Cancelled, o.Status)
				assert.Equal(t, events.StockRejected, o.Reason)
				after, _ := s.stock("block-plane")
				assert.Equal(t, 2, after)
			})

			t.Run("cancel in grace period", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				before, _ := s.stock("tool-roll")
				s.add("fay", "tool-roll", 1)
				id := s.checkout("fay", "cancel-grace-1", approve)
				s.waitFor("fay", id, events.Submitted)
				status, body := s.call("ordering", http.MethodPost, "orders/"+id+"/cancel", "fay", "")
				require.Equal(t, http.StatusAccepted, status, "%s", body)
				o := s.waitFor("fay", id, events.Cancelled, events.Paid)
				assert.Equal(t, events.Cancelled, o.Status)
				assert.Equal(t, events.UserCancelled, o.Reason)
				after, _ := s.stock("tool-roll")
				assert.Equal(t, before, after, "stock untouched")
				status, _ = s.call("ordering", http.MethodPost, "orders/"+id+"/cancel", "fay", "")
				assert.Equal(t, http.StatusConflict, status, "too late once cancelled")
			})

			t.Run("same Idempotency-Key twice is one order", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				s.add("gus", "claw-hammer", 1)
				first := s.checkout("gus", "same-key-123", approve)
				second := s.checkout("gus", "same-key-123", approve)
				assert.Equal(t, first, second)
				s.waitFor("gus", first, events.Paid)
				_, body := s.call("ordering", http.MethodGet, "orders", "gus", "")
				var list []Summary
				require.NoError(t, json.Unmarshal(body, &list))
				assert.Len(t, list, 1)
			})

			// tokenFor tokenizes the approved test card for an order and
			// publishCheckout publishes c, both as basket: the one app that
			// may (a compromised basket, or a forger with its credentials).
			tokenFor := func(t *testing.T, orderID string) string {
				status, _, body := harness.Invoke(t, sys.App("basket"), "payment", http.MethodPost, "tokenize", nil,
					`{"orderId":"`+orderID+`",`+approve[1:])
				require.Equal(t, 200, status, "%s", body)
				var tok struct{ Token string }
				require.NoError(t, json.Unmarshal(body, &tok))
				return tok.Token
			}
			publishCheckout := func(t *testing.T, c events.Checkout) {
				payload, _ := json.Marshal(c)
				basket := sys.App("basket")
				status, _, body := harness.Call(t, http.MethodPost, basket.SidecarURL()+"/v1.0/publish/events/"+events.CheckoutAccepted,
					http.Header{"Dapr-Api-Token": {basket.APIToken}}, string(payload))
				require.Equal(t, http.StatusNoContent, status, "%s", body)
			}
			headlamp := func(orderID, user, token string, cents int64) events.Checkout {
				return events.Checkout{OrderID: orderID, UserID: user, CardToken: token,
					Lines: []events.Line{{ProductID: "headlamp", Name: "Headlamp", UnitPrice: money.EUR(cents), Quantity: 1}},
					Total: money.EUR(cents), Address: events.Address{Name: "Hal", Street: "x", City: "y", PostalCode: "1", Country: "FR"}}
			}

			t.Run("same event twice is one order", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				c := headlamp("dup-event-order", s.users.ID(t, "hal"), tokenFor(t, "dup-event-order"), 2900)
				before, _ := s.stock("headlamp")
				publishCheckout(t, c)
				publishCheckout(t, c)
				s.waitFor("hal", c.OrderID, events.Paid)
				time.Sleep(time.Second)
				_, body := s.call("ordering", http.MethodGet, "orders", "hal", "")
				var list []Summary
				require.NoError(t, json.Unmarshal(body, &list))
				assert.Len(t, list, 1)
				after, _ := s.stock("headlamp")
				assert.Equal(t, before-1, after, "stock taken once")
			})

			t.Run("a checkout event is checked, not trusted", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				mal := s.users.ID(t, "mal")
				before, _ := s.stock("headlamp")

				// A price below catalog's: nothing held, payment never asked.
				cheap := headlamp("forged-price", mal, tokenFor(t, "forged-price"), 1)
				publishCheckout(t, cheap)
				o := s.waitFor("mal", cheap.OrderID, events.Paid, events.Cancelled)
				assert.Equal(t, events.Cancelled, o.Status)
				assert.Equal(t, events.PriceChanged, o.Reason)

				// Another checkout's card token: declined, the stock back.
				stolen := headlamp("forged-token", mal, tokenFor(t, "the-token-owner"), 2900)
				publishCheckout(t, stolen)
				o = s.waitFor("mal", stolen.OrderID, events.Paid, events.Cancelled)
				assert.Equal(t, events.Cancelled, o.Status)
				assert.Equal(t, events.PaymentDeclined, o.Reason)

				// A total that is not the sum of the lines: refused outright.
				wrongTotal := headlamp("forged-total", mal, tokenFor(t, "forged-total"), 2900)
				wrongTotal.Total = money.EUR(1)
				publishCheckout(t, wrongTotal)
				time.Sleep(2 * time.Second)
				_, status := s.order("mal", wrongTotal.OrderID)
				assert.Equal(t, http.StatusNotFound, status, "no order for a checkout basket could not have sent")

				after, _ := s.stock("headlamp")
				assert.Equal(t, before, after, "no stock taken by forged checkouts")
			})

			t.Run("services may publish only their own events", func(t *testing.T) {
				for _, tt := range []struct{ from, topic string }{
					{"gateway", events.CheckoutAccepted},
					{"ordering", events.CheckoutAccepted},
					{"catalog", events.OrderStatusChanged},
					{"basket", events.OrderStatusChanged},
					{"payment", events.OrderStatusChanged},
				} {
					from := sys.App(tt.from)
					status, _, body := harness.Call(t, http.MethodPost, from.SidecarURL()+"/v1.0/publish/events/"+tt.topic,
						http.Header{"Dapr-Api-Token": {from.APIToken}}, `{"orderId":"forged-by-`+tt.from+`"}`)
					assert.Equal(t, http.StatusForbidden, status, "%s publishes %s: %s", tt.from, tt.topic, body)
				}
			})

			t.Run("services may invoke only what they need", func(t *testing.T) {
				for _, tt := range []struct {
					from, to, method, path string
				}{
					{"outsider", "catalog", http.MethodGet, "products"},
					{"basket", "payment", http.MethodPost, "authorize"},
					{"basket", "catalog", http.MethodPost, "reservations"},
					{"ordering", "basket", http.MethodGet, "basket"},
					{"catalog", "payment", http.MethodPost, "tokenize"},
					{"gateway", "catalog", http.MethodPost, "reservations"},
					{"gateway", "payment", http.MethodPost, "authorize"},
					{"basket", "identity", http.MethodGet, "users/x/contact"},
					{"gateway", "identity", http.MethodGet, "users/x/contact"},
				} {
					status, _, body := harness.Invoke(t, sys.App(tt.from), tt.to, tt.method, tt.path, nil, `{}`)
					assert.Equal(t, http.StatusForbidden, status, "%s → %s %s %s: %s", tt.from, tt.to, tt.method, tt.path, body)
				}
			})

			t.Run("poison event ends in the dead-letter topic", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				basket := sys.App("basket")
				status, _, body := harness.Call(t, http.MethodPost, basket.SidecarURL()+"/v1.0/publish/events/"+events.CheckoutAccepted,
					http.Header{"Dapr-Api-Token": {basket.APIToken}}, `{"orderId":"poison-1","lines":"not a list"}`)
				require.Equal(t, http.StatusNoContent, status, "%s", body)
				dlq := sys.App("dead-letters")
				// Deliveries are retried for about 11 s first (resiliency.yaml).
				require.EventuallyWithT(t, func(c *assert.CollectT) {
					_, _, body := harness.Call(t, http.MethodGet, dlq.AppURL()+"/received", http.Header{"Dapr-Api-Token": {dlq.AppToken}}, "")
					assert.Contains(c, string(body), "poison-1", "not dead-lettered yet")
				}, 60*time.Second, harness.Poll)
				_, code := s.order("anyone", "poison-1")
				assert.Equal(t, http.StatusNotFound, code, "no order from a poison message")
			})

			t.Run("bad checkout input changes nothing", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				s.add("ivy", "compost-bin", 1)
				for _, tt := range []struct{ name, key, body, code string }{
					{"no key", "", `{"shippingAddress":` + address + `,"card":` + approve + `}`, "idempotency_key_required"},
					{"bad card", "bad-card-001", `{"shippingAddress":` + address + `,"card":{"number":"4242 4242 4242 4241","expiry":"12/30","cvc":"123"}}`, "card.number"},
					{"expired card", "bad-card-002", `{"shippingAddress":` + address + `,"card":{"number":"4242424242424242","expiry":"01/20","cvc":"123"}}`, "card.expiry"},
					{"no address", "bad-card-003", `{"card":` + approve + `}`, "shippingAddress.street"},
					{"malformed", "bad-card-004", `{"card":`, "malformed_json"},
				} {
					status, body := s.call("basket", http.MethodPost, "basket/checkout", "ivy", tt.body, "Idempotency-Key", tt.key)
					assert.True(t, status >= 400 && status < 500, "%s: %d", tt.name, status)
					assert.Contains(t, string(body), tt.code, tt.name)
				}
				// A run of rejected requests must not shut checkout for others
				// (Dapr counts 4xx as failures if a circuit breaker is set).
				for i := range 12 {
					status, _ := s.call("basket", http.MethodPost, "basket/checkout", "ivy", `{"card":`, "Idempotency-Key", fmt.Sprintf("bad-run-%03d", i))
					require.Equal(t, http.StatusBadRequest, status)
				}
				s.add("jon", "seed-starter-tray", 1)
				s.waitFor("jon", s.checkout("jon", "after-bad-run", approve), events.Paid)
				status, body := s.call("basket", http.MethodPost, "basket/checkout", "nobody-has-a-basket",
					`{"shippingAddress":`+address+`,"card":`+approve+`}`, "Idempotency-Key", "empty-basket-1")
				assert.Equal(t, http.StatusUnprocessableEntity, status)
				assert.Contains(t, string(body), "empty_basket")
				_, body = s.call("basket", http.MethodGet, "basket", "ivy", "")
				assert.Contains(t, string(body), "compost-bin", "the basket is untouched")
				_, body = s.call("ordering", http.MethodGet, "orders", "ivy", "")
				assert.JSONEq(t, `[]`, string(body))
			})

			t.Run("20 concurrent checkouts for 5 in stock", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				s.setStock("folding-rule", 5)
				ids := make([]string, 20)
				var wg sync.WaitGroup
				for i := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						user := fmt.Sprintf("racer-%02d", i)
						s.add(user, "folding-rule", 1)
						ids[i] = s.checkout(user, fmt.Sprintf("race-key-%02d", i), approve)
					}()
				}
				wg.Wait()
				paid, cancelled := 0, 0
				for i, id := range ids {
					o := s.waitFor(fmt.Sprintf("racer-%02d", i), id, events.Paid, events.Cancelled)
					if o.Status == events.Paid {
						paid++
					} else {
						assert.Equal(t, events.StockRejected, o.Reason)
						cancelled++
					}
				}
				assert.Equal(t, 5, paid)
				assert.Equal(t, 15, cancelled)
				stock, _ := s.stock("folding-rule")
				assert.Equal(t, 0, stock)
			})

			t.Run("ordering killed mid-saga", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				before, _ := s.stock("camping-stove")
				s.add("kim", "camping-stove", 1)
				id := s.checkout("kim", "killed-saga-1", approve)
				s.waitFor("kim", id, events.Submitted)
				// The saga now waits out the grace period (1.5 s; timers fire
				// on whole seconds): let the step that recorded "submitted"
				// finish, then kill ordering. (Kills during each step are
				// TestSagaCrashMatrix's.)
				time.Sleep(300 * time.Millisecond)
				ordering := sys.App("ordering")
				require.NoError(t, ordering.KillApp())
				o := s.waitWithin(3*time.Minute, "kim", id, events.Paid, events.Cancelled)
				assert.Equal(t, events.Paid, o.Status)
				assert.Equal(t, []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Paid}, statuses(o))
				assert.GreaterOrEqual(t, ordering.Restarts(), 1)
				after, _ := s.stock("camping-stove")
				assert.Equal(t, before-1, after, "stock taken exactly once")
			})

			if profile == "servers" {
				t.Run("each service's data lives only in its own store", func(t *testing.T) {
					assertStoresSeparate(t, sys)
				})
			}
		})
	}
}

// assertStoresSeparate reads the real stores: every key in a service's Redis
// database, and in ordering's PostgreSQL table, belongs to that service.
func assertStoresSeparate(t *testing.T, sys *runner.System) {
	ctx := context.Background()
	for db, owner := range map[int]string{1: "catalog", 2: "basket", 3: "payment"} {
		rdb := redis.NewClient(&redis.Options{Addr: sys.RedisAddr, Password: sys.RedisPassword, DB: db})
		keys, err := rdb.Keys(ctx, "*").Result()
		rdb.Close()
		require.NoError(t, err)
		require.NotEmpty(t, keys, "redis db %d (%s) is empty", db, owner)
		for _, k := range keys {
			assert.True(t, strings.HasPrefix(k, owner+"||"), "redis db %d belongs to %s but holds %q", db, owner, k)
		}
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
		require.NotEmpty(t, matches, "psql is needed to read ordering's store")
		psql = matches[0]
	}
	out, err := exec.Command(psql, sys.PostgresConn, "-tAc", "SELECT key FROM state").CombinedOutput()
	require.NoError(t, err, "%s", out)
	keys := strings.Fields(string(out))
	require.NotEmpty(t, keys)
	for _, k := range keys {
		// Besides its own keys, the table holds Dapr's metadata for
		// ordering's workflow actors (actor types named after the app).
		own := strings.HasPrefix(k, "ordering||") || strings.HasPrefix(k, "actors||dapr.internal.default.ordering.")
		assert.True(t, own, "ordering's table holds %q", k)
	}
}
