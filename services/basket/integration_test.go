package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestBasketThroughSidecars drives basket through real sidecars: a caller app
// invokes basket, which invokes catalog for names and prices (app → basket →
// catalog, three sidecars), in both profiles.
func TestBasketThroughSidecars(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			sys := harness.Start(t, harness.Options{Profile: profile, Services: []string{"catalog", "basket", "identity"},
				Extra: []compose.Service{harness.Probe("gateway")}})
			from := sys.App("gateway")
			users := harness.NewUsers(sys)
			as := func(user string) http.Header {
				if user == "" {
					return nil
				}
				return harness.Bearer(users.Token(t, user))
			}
			call := func(method, path, user, body string) (int, Basket, string) {
				status, h, b := harness.Invoke(t, from, "basket", method, path, as(user), body)
				harness.LoadContract(t).CheckService(t, "basket", method, path, status, h, b)
				var basket Basket
				_ = json.Unmarshal(b, &basket)
				return status, basket, string(b)
			}
			// Catalog seeds in the background after its sidecar is up.
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				status, _, body := call(http.MethodPut, "basket/items/headlamp", "ann", `{"quantity":2}`)
				assert.Equal(c, http.StatusOK, status, "%s", body)
			}, 20*time.Second, harness.Poll)

			status, b, body := call(http.MethodPut, "basket/items/wool-blanket", "ann", `{"quantity":1}`)
			require.Equal(t, 200, status, body)
			require.Len(t, b.Items, 2)
			assert.Equal(t, "Headlamp", b.Items[0].Name)
			assert.Equal(t, int64(2900), b.Items[0].UnitPrice.Amount)
			assert.Equal(t, int64(2*2900+9900), b.Total.Amount)

			t.Run("each user has their own basket", func(t *testing.T) {
				status, b, _ := call(http.MethodGet, "basket", "bob", "")
				require.Equal(t, 200, status)
				assert.Empty(t, b.Items)
				status, _, _ = call(http.MethodGet, "basket", "", "")
				assert.Equal(t, http.StatusUnauthorized, status)
			})

			t.Run("bad input changes nothing", func(t *testing.T) {
				for _, tt := range []struct{ path, body, code string }{
					{"basket/items/no-such-product", `{"quantity":1}`, "unknown_product"},
					{"basket/items/headlamp", `{"quantity":10000}`, "invalid_input"},
					{"basket/items/headlamp", `{"quantity":`, "malformed_json"},
					{"basket/items/headlamp", `{}`, "invalid_input"},
					{"basket/items/wool-blanket", `{"quantity":12}`, "insufficient_stock"},
				} {
					status, _, body := call(http.MethodPut, tt.path, "ann", tt.body)
					assert.True(t, status >= 400 && status < 500, "%s %s → %d", tt.path, tt.body, status)
					assert.Contains(t, body, tt.code)
				}
				_, b, _ := call(http.MethodGet, "basket", "ann", "")
				assert.Equal(t, int64(2*2900+9900), b.Total.Amount)
			})

			t.Run("concurrent changes are all kept", func(t *testing.T) {
				ids := []string{"claw-hammer", "block-plane", "chisel-set", "folding-rule", "tool-roll"}
				var wg sync.WaitGroup
				for _, id := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						status, _, body := call(http.MethodPut, "basket/items/"+id, "cat", `{"quantity":1}`)
						assert.Equal(t, 200, status, body)
					}()
				}
				wg.Wait()
				_, b, _ := call(http.MethodGet, "basket", "cat", "")
				assert.Len(t, b.Items, len(ids))
			})

			t.Run("remove", func(t *testing.T) {
				status, b, _ := call(http.MethodDelete, "basket/items/headlamp", "ann", "")
				require.Equal(t, 200, status)
				require.Len(t, b.Items, 1)
				assert.Equal(t, int64(9900), b.Total.Amount)
				status, b, _ = call(http.MethodPut, "basket/items/wool-blanket", "ann", `{"quantity":0}`)
				require.Equal(t, 200, status)
				assert.Empty(t, b.Items)
			})
		})
	}
}

// TestGuestBasketsExpire: a signed-out visitor's basket is deleted by the
// store once BASKET_GUEST_TTL has passed since its last change, so guest
// baskets do not pile up; a user's basket stays.
func TestGuestBasketsExpire(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			sys := harness.Start(t, harness.Options{Profile: profile, Services: []string{"catalog", "basket", "identity"},
				Extra: []compose.Service{harness.Probe("gateway")}, Env: map[string]string{"BASKET_GUEST_TTL": "3s"}})
			basket := sys.App("basket")
			users := harness.NewUsers(sys)
			var guest string
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				status, h, body := harness.Invoke(t, sys.App("gateway"), "basket", http.MethodPost, "fragments/add-to-cart",
					// As htmx posts it: a plain form post answers 303, which the client would follow.
					http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "HX-Request": {"true"}}, "id=headlamp&quantity=1")
				for _, cookie := range (&http.Response{Header: h}).Cookies() {
					if cookie.Name == "basket_guest" {
						guest = cookie.Value
					}
				}
				assert.NotEmpty(c, guest, "no guest basket: %d %s", status, body)
			}, 20*time.Second, harness.Poll)
			status, _, body := harness.Invoke(t, sys.App("gateway"), "basket", http.MethodPut, "basket/items/headlamp",
				harness.Bearer(users.Token(t, "stays")), `{"quantity":1}`)
			require.Equal(t, http.StatusOK, status, "%s", body)
			stored := func(owner string) int {
				status, _, _ := harness.Call(t, http.MethodGet, basket.SidecarURL()+"/v1.0/state/basket-store/basket:"+owner,
					http.Header{"Dapr-Api-Token": {basket.APIToken}}, "")
				return status
			}
			require.Equal(t, http.StatusOK, stored("guest:"+guest), "the guest basket is stored")
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				assert.Equal(c, http.StatusNoContent, stored("guest:"+guest), "the guest basket is still there")
			}, 20*time.Second, harness.Poll)
			assert.Equal(t, http.StatusOK, stored(users.ID(t, "stays")), "a user's basket does not expire")
		})
	}
}
