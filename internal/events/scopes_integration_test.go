package events_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// TestOnlyConsumersReadTheirTopics publishes an accepted checkout as basket
// and checks, with real sidecars in both profiles, that ordering (its
// consumer) gets it while apps outside the topic's subscriptionScopes that
// subscribe to it anyway (the gateway, the shell, notification) get nothing.
func TestOnlyConsumersReadTheirTopics(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			outsiders := []string{"gateway", "shell", "notification"}
			extra := []compose.Service{harness.Probe("basket"), harness.Probe("ordering", events.CheckoutAccepted)}
			for _, name := range outsiders {
				extra = append(extra, harness.Probe(name, events.CheckoutAccepted, events.DeadLetter(events.CheckoutAccepted)))
			}
			sys := harness.Start(t, harness.Options{Profile: profile, Services: []string{"basket", "ordering"}, Extra: extra})

			basket := sys.App("basket")
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				status, _, body := harness.Call(t, http.MethodPost, basket.SidecarURL()+"/v1.0/publish/events/"+events.CheckoutAccepted,
					http.Header{"Dapr-Api-Token": {basket.APIToken}}, `{"orderId":"scoped-1"}`)
				assert.Equal(c, http.StatusNoContent, status, "%s", body)
			}, 30*time.Second, harness.Poll)
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				assert.Contains(c, received(t, sys.App("ordering")), "scoped-1", "ordering, the consumer, got nothing")
			}, 30*time.Second, harness.Poll)
			// Deliveries to every subscriber go out together: give a late
			// one the redelivery interval to arrive.
			time.Sleep(3 * time.Second)
			for _, name := range outsiders {
				assert.Empty(t, received(t, sys.App(name)), "%s read checkout.accepted", name)
			}
		})
	}
}

// received lists the order ids of the events a probe got.
func received(t *testing.T, probe *runner.App) []string {
	t.Helper()
	status, _, body := harness.Call(t, http.MethodGet, probe.AppURL()+"/received", http.Header{"Dapr-Api-Token": {probe.AppToken}}, "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var got []daprapp.Event
	require.NoError(t, json.Unmarshal(body, &got))
	var ids []string
	for _, e := range got {
		var c struct {
			OrderID string `json:"orderId"`
		}
		_ = json.Unmarshal(e.Data, &c)
		ids = append(ids, c.OrderID)
	}
	return ids
}
