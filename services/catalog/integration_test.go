package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/money"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// TestThroughSidecars exercises the platform end to end with real sidecars in
// both component profiles: invocation from one app to another, state with an
// ETag conflict, and an event delivered once to each subscribing app.
func TestThroughSidecars(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			sys := harness.Start(t, harness.Options{Profile: profile, Services: []string{"catalog", "identity"},
				// The gateway may not read catalog's events (subscriptionScopes):
				// two apps outside the scopes stand in for subscribers.
				Extra: []compose.Service{harness.Probe("gateway"), harness.Probe("probe-a", TopicProductChanged), harness.Probe("probe-b", TopicProductChanged)}})
			a, pa, b := sys.App("gateway"), sys.App("probe-a"), sys.App("probe-b")
			waitSeeded(t, a)
			// invoke calls catalog as the gateway does and checks the
			// answer against the public contract, api/openapi.yaml.
			invoke := func(method, path string, h http.Header, body string) (int, http.Header, []byte) {
				status, header, answer := harness.Invoke(t, a, "catalog", method, path, h, body)
				harness.LoadContract(t).CheckService(t, "catalog", method, path, status, header, answer)
				return status, header, answer
			}
			admin := harness.NewUsers(sys).Admin(t)

			t.Run("invocation from another app", func(t *testing.T) {
				status, _, body := invoke(http.MethodGet, "products?category=garden&pageSize=4", nil, "")
				require.Equal(t, http.StatusOK, status, "%s", body)
				var page ProductPage
				require.NoError(t, json.Unmarshal(body, &page))
				assert.Equal(t, 6, page.Total)
				assert.Len(t, page.Items, 4)
				for _, p := range page.Items {
					assert.Equal(t, "garden", p.Category)
				}
			})

			t.Run("stale ETag is a conflict", func(t *testing.T) {
				status, h, body := invoke(http.MethodGet, "products/headlamp", nil, "")
				require.Equal(t, http.StatusOK, status, "%s", body)
				etag := h.Get("ETag")
				require.NotEmpty(t, etag)
				update := `{"name":"Headlamp","description":"Brighter.","category":"outdoor","price":{"amount":3100,"currency":"EUR"},"stock":54}`
				status, h2, body := invoke(http.MethodPut, "products/headlamp", http.Header{"If-Match": {etag}, "Authorization": {"Bearer " + admin}}, update)
				require.Equal(t, http.StatusOK, status, "%s", body)
				assert.NotEqual(t, etag, h2.Get("ETag"))
				status, _, body = invoke(http.MethodPut, "products/headlamp", http.Header{"If-Match": {etag}, "Authorization": {"Bearer " + admin}}, update)
				assert.Equal(t, http.StatusConflict, status, "%s", body)
				assert.Contains(t, string(body), "etag_mismatch")
			})

			t.Run("event reaches each subscriber once", func(t *testing.T) {
				for _, p := range []*runner.App{pa, b} {
					require.EventuallyWithT(t, func(c *assert.CollectT) {
						assert.Len(c, changesOf(t, p, "headlamp"), 1, "%s's catalog.product-changed events for headlamp", p.AppID)
					}, 10*time.Second, harness.Poll)
				}
				// A late duplicate would arrive within the redelivery interval.
				time.Sleep(2500 * time.Millisecond)
				for _, p := range []*runner.App{pa, b} {
					events := changesOf(t, p, "headlamp")
					require.Len(t, events, 1, p.AppID)
					var change ProductChanged
					require.NoError(t, json.Unmarshal(events[0].Data, &change))
					assert.Equal(t, int64(3100), change.Price.Amount)
					assert.Equal(t, 54, change.Stock)
				}
			})

			t.Run("variants through the API", func(t *testing.T) {
				bearer := http.Header{"Authorization": {"Bearer " + admin}}
				towel := `{"name":"Tea Towel","category":"kitchen","variants":[` +
					`{"label":"Blue","price":{"amount":900,"currency":"EUR"},"stock":4},` +
					`{"label":"Large Red","price":{"amount":1200,"currency":"EUR"},"stock":2}]}`
				status, _, body := invoke(http.MethodPost, "products", bearer, towel)
				require.Equal(t, http.StatusCreated, status, "%s", body)
				var p contracts.Product
				require.NoError(t, json.Unmarshal(body, &p))
				assert.Equal(t, []contracts.Variant{
					{SKU: "tea-towel.blue", Label: "Blue", Price: money.EUR(900), Stock: 4},
					{SKU: "tea-towel.large-red", Label: "Large Red", Price: money.EUR(1200), Stock: 2},
				}, p.Variants)
				assert.Equal(t, money.EUR(900), p.Price, "listed from its lowest price")
				assert.Equal(t, 6, p.Stock)

				// A price of its own beside variants is refused by field,
				// and nothing is stored.
				status, _, body = invoke(http.MethodPost, "products", bearer,
					`{"name":"Dish Cloth","category":"kitchen","price":{"amount":500,"currency":"EUR"},"variants":[{"label":"Blue","price":{"amount":900,"currency":"EUR"},"stock":1}]}`)
				require.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
				assert.Contains(t, string(body), "each variant has its price")
				status, _, _ = invoke(http.MethodGet, "products/dish-cloth", nil, "")
				assert.Equal(t, http.StatusNotFound, status)

				// The seeded knife's variants, as the product page shows them.
				status, _, body = invoke(http.MethodGet, "products/chefs-knife", nil, "")
				require.Equal(t, http.StatusOK, status, "%s", body)
				require.NoError(t, json.Unmarshal(body, &p))
				require.Len(t, p.Variants, 3)
				assert.Equal(t, "chefs-knife.24-cm", p.Variants[2].SKU)
			})

			t.Run("every answer is one the contract declares", func(t *testing.T) {
				bearer := http.Header{"Authorization": {"Bearer " + admin}}
				item := `{"name":"Trowel","description":"Narrow.","category":"garden","price":{"amount":1200,"currency":"EUR"},"stock":3}`
				for _, tt := range []struct {
					method, path string
					header       http.Header
					body         string
					status       int
				}{
					{http.MethodGet, "products?q=lamp", nil, "", http.StatusOK},
					{http.MethodGet, "products?page=2&pageSize=5", nil, "", http.StatusOK},
					{http.MethodGet, "products?page=1000001", nil, "", http.StatusBadRequest},
					{http.MethodGet, "products?pageSize=101", nil, "", http.StatusBadRequest},
					{http.MethodGet, "products?category=kitchenware", nil, "", http.StatusBadRequest},
					{http.MethodGet, "products/no-such-product", nil, "", http.StatusNotFound},
					{http.MethodPost, "products", nil, item, http.StatusUnauthorized},
					{http.MethodPost, "products", bearer, `{"name":""}`, http.StatusUnprocessableEntity},
					{http.MethodPost, "products", bearer, item, http.StatusCreated},
					{http.MethodPut, "products/headlamp", bearer, item, http.StatusPreconditionRequired},
					{http.MethodPut, "products/no-such-product", http.Header{"Authorization": {"Bearer " + admin}, "If-Match": {`"1"`}}, item, http.StatusNotFound},
				} {
					status, _, body := invoke(tt.method, tt.path, tt.header, tt.body)
					assert.Equal(t, tt.status, status, "%s %s: %s", tt.method, tt.path, body)
				}
			})

			t.Run("app refuses callers without its token", func(t *testing.T) {
				c := sys.App("catalog")
				status, _, _ := harness.Call(t, http.MethodGet, c.AppURL()+"/products", nil, "")
				assert.Equal(t, http.StatusUnauthorized, status)
				status, _, _ = harness.Call(t, http.MethodGet, c.AppURL()+"/products", http.Header{"Dapr-Api-Token": {"wrong"}}, "")
				assert.Equal(t, http.StatusUnauthorized, status)
				status, _, _ = harness.Call(t, http.MethodGet, c.AppURL()+"/healthz", nil, "")
				assert.Equal(t, http.StatusOK, status)
			})
		})
	}
}

func waitSeeded(t testing.TB, from *runner.App) {
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := harness.Invoke(t, from, "catalog", http.MethodGet, "products", nil, "")
		require.Equal(c, http.StatusOK, status, "%s", body)
		var page ProductPage
		require.NoError(c, json.Unmarshal(body, &page))
		assert.Equal(c, 24, page.Total, "catalog not seeded")
	}, 20*time.Second, harness.Poll)
}

// changesOf lists the product-changed events a probe received for id.
func changesOf(t testing.TB, probe *runner.App, id string) []daprapp.Event {
	status, _, body := harness.Call(t, http.MethodGet, probe.AppURL()+"/received", http.Header{"Dapr-Api-Token": {probe.AppToken}}, "")
	require.Equal(t, http.StatusOK, status)
	var all []daprapp.Event
	require.NoError(t, json.Unmarshal(body, &all))
	var out []daprapp.Event
	for _, e := range all {
		var c ProductChanged
		if e.Topic == TopicProductChanged && json.Unmarshal(e.Data, &c) == nil && c.ID == id {
			out = append(out, e)
		}
	}
	return out
}
