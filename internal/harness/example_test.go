package harness_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestExampleServiceToService is the README's "Writing a service-to-service
// test", runnable: it starts catalog and basket with their own sidecars,
// calls catalog from basket through Dapr, as basket does for prices, and
// checks the answer and the access-control policy.
func TestExampleServiceToService(t *testing.T) {
	// Real processes: the apps, a sidecar each, the control plane, a
	// state store per app. Everything stops when the test ends.
	sys := harness.Start(t, harness.Options{Profile: "embedded", Services: []string{"catalog", "basket"}})
	basket := sys.App("basket")

	// basket's sidecar → mTLS → catalog's sidecar → catalog. The sidecars
	// may still be finding each other: ask again until catalog answers.
	var product struct {
		ID    string `json:"id"`
		Price struct {
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		} `json:"price"`
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := harness.Invoke(t, basket, "catalog", http.MethodGet, "products/headlamp", nil, "")
		require.Equal(c, http.StatusOK, status, "%s", body)
		require.NoError(c, json.Unmarshal(body, &product))
	}, 30*time.Second, harness.Poll)
	assert.Equal(t, "headlamp", product.ID)
	assert.Equal(t, "EUR", product.Price.Currency)
	assert.Positive(t, product.Price.Amount)

	// The policy (dapr/config.yaml) lets basket read products, not hold
	// stock: catalog's sidecar refuses, and catalog never sees the call.
	status, _, body := harness.Invoke(t, basket, "catalog", http.MethodPost, "reservations", nil, `{}`)
	assert.Equal(t, http.StatusForbidden, status, "%s", body)
}
