package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestTwoReplicasOfEveryService runs 2 replicas of every service (and
// sidecar) but the gateway: replicas of one app share its events and its
// workflows, and the checkout still holds: the journey, the oversell race,
// and a paced load whose every order finishes.
func TestTwoReplicasOfEveryService(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		// One profile at a time: two systems of 2 replicas each would share
		// the machine's 2 cores and measure each other.
		t.Run(profile, func(t *testing.T) {
			sys := harness.Start(t, harness.Options{Profile: profile, Services: backends, Replicas: 2,
				Extra: []compose.Service{harness.Probe("gateway"), harness.Probe("watcher", events.OrderStatusChanged)},
				Env:   map[string]string{"ORDERING_GRACE_PERIOD": "0s"}})
			require.Len(t, sys.Replicas("ordering"), 2)
			s := shop{t: t, sys: sys, from: sys.App("gateway"), users: harness.NewUsers(sys)}

			t.Run("journey", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				before, _ := s.stock("headlamp")
				s.add("rita", "headlamp", 2)
				id := s.checkout("rita", "replicas-journey", approve)
				o := s.waitFor("rita", id, events.Paid, events.Cancelled)
				assert.Equal(t, events.Paid, o.Status)
				after, _ := s.stock("headlamp")
				assert.Equal(t, before-2, after)
				status, body := s.call("ordering", http.MethodPost, "orders/"+id+"/ship", asAdmin, "")
				require.Equal(t, http.StatusAccepted, status, "%s", body)
				s.waitFor("rita", id, events.Shipped)
			})

			t.Run("20 buyers race for the last 5 of a variant", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				const knife, sku = "chefs-knife", "chefs-knife.24-cm"
				s.setVariantStock(sku, 5)
				others := s.variantStock(knife)
				delete(others, sku)
				const buyers = 20
				ids := make([]string, buyers)
				for i := range buyers {
					s.add(fmt.Sprintf("racer-%d", i), sku, 1)
				}
				var wg sync.WaitGroup
				for i := range buyers {
					wg.Go(func() { ids[i] = s.checkout(fmt.Sprintf("racer-%d", i), fmt.Sprintf("replicas-race-%02d", i), approve) })
				}
				wg.Wait()
				paid := 0
				for i, id := range ids {
					o := s.waitWithin(2*time.Minute, fmt.Sprintf("racer-%d", i), id, events.Paid, events.Cancelled)
					if o.Status == events.Paid {
						paid++
					} else {
						assert.Equal(t, events.StockRejected, o.Reason)
					}
				}
				assert.Equal(t, 5, paid, "exactly the variant's stock is sold")
				left := s.variantStock(knife)
				assert.Zero(t, left[sku])
				delete(left, sku)
				assert.Equal(t, others, left, "the other variants are untouched")
			})

			t.Run("15 checkouts a second for 20 s", func(t *testing.T) {
				s := shop{t: t, sys: sys, from: s.from, users: s.users}
				s.setStock("seed-starter-tray", 1_000_000)
				m := measureCheckouts(t, s, "replicas-"+profile, 300, 15, "")
				t.Logf("%s, 2 replicas, 15/s for 20 s: %.1f paid/s, p50 %s, p99 %s", profile, m.paidPerSecond, m.p50, m.p99)
				assert.Less(t, m.p99, 5*time.Second, "p99 from checkout to paid")
				assert.Zero(t, m.repeated, "within capacity, no step runs twice: no order is reported paid twice")
			})

			for name, n := range sys.Crashes() {
				t.Errorf("%s restarted %d times", name, n)
			}
		})
	}
}
