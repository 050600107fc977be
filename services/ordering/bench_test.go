package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/harness"
)

// BenchmarkCheckout measures the whole saga with no grace period: workers
// fill a basket and check out in a loop; a probe app subscribed to
// order.status-changed records when each order was reported paid. Latency
// is from the start of POST /basket/checkout to that report; throughput is
// orders paid per second over the run. Every order is then counted: each
// must be paid exactly once and listed exactly once.
func BenchmarkCheckout(b *testing.B) {
	const orders, workers = 600, 24
	for _, profile := range []string{"embedded", "servers"} {
		b.Run(profile, func(b *testing.B) {
			sys := harness.Start(b, harness.Options{Profile: profile,
				Extra: []compose.Service{harness.Probe("client"), harness.Probe("watcher", events.OrderStatusChanged)},
				Env:   map[string]string{"ORDERING_GRACE_PERIOD": "0s"}})
			s := shop{t: b, sys: sys, from: sys.App("client")}
			harness.Eventually(b, 30*time.Second, func() error {
				if status, body := s.call("basket", http.MethodPut, "basket/items/headlamp", "warmup", `{"quantity":1}`); status != 200 {
					return fmt.Errorf("%d %s", status, body)
				}
				return nil
			})
			s.setStock("insulated-bottle", 1_000_000)
			s.waitFor("warmup", s.checkout("warmup", "warmup-order", approve), events.Paid)

			for range b.N {
				started := make([]time.Time, orders)
				ids := make([]string, orders)
				jobs := make(chan int)
				var wg sync.WaitGroup
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range jobs {
							user := fmt.Sprintf("bench-%s-%d", profile, i)
							s.add(user, "insulated-bottle", 1)
							started[i] = time.Now()
							ids[i] = s.checkout(user, fmt.Sprintf("bench-order-%05d", i), approve)
						}
					}()
				}
				begin := time.Now()
				for i := range orders {
					jobs <- i
				}
				close(jobs)
				wg.Wait()

				watcher := sys.App("watcher")
				var paidAt map[string][]time.Time
				harness.Eventually(b, 2*time.Minute, func() error {
					paidAt = paidReports(b, watcher.AppURL(), watcher.AppToken)
					done := 0
					for _, id := range ids {
						if len(paidAt[id]) > 0 {
							done++
						}
					}
					if done < orders {
						return fmt.Errorf("%d of %d orders paid", done, orders)
					}
					return nil
				})
				var latencies []time.Duration
				last := begin
				for i, id := range ids {
					at := paidAt[id][0]
					latencies = append(latencies, at.Sub(started[i]))
					if at.After(last) {
						last = at
					}
				}
				dup := 0
				for _, id := range ids {
					dup += len(paidAt[id]) - 1
				}
				listed := 0
				for i := range ids {
					_, body := s.call("ordering", http.MethodGet, "orders", fmt.Sprintf("bench-%s-%d", profile, i), "")
					var list []Summary
					require.NoError(b, json.Unmarshal(body, &list))
					listed += len(list)
				}
				require.Zero(b, dup, "orders reported paid twice")
				require.Equal(b, orders, listed, "orders lost or duplicated")
				b.ReportMetric(float64(orders)/last.Sub(begin).Seconds(), "checkouts/s")
				b.ReportMetric(harness.Ms(harness.Percentile(latencies, 50)), "p50-ms")
				b.ReportMetric(harness.Ms(harness.Percentile(latencies, 90)), "p90-ms")
				b.ReportMetric(harness.Ms(harness.Percentile(latencies, 99)), "p99-ms")
			}
		})
	}
}

// paidReports lists, by order id, when the watcher heard it was paid.
func paidReports(b *testing.B, url, token string) map[string][]time.Time {
	_, _, body := harness.Call(b, http.MethodGet, url+"/received", http.Header{"Dapr-Api-Token": {token}}, "")
	var all []struct {
		Data       json.RawMessage `json:"data"`
		ReceivedAt time.Time       `json:"receivedAt"`
	}
	require.NoError(b, json.Unmarshal(body, &all))
	out := map[string][]time.Time{}
	for _, e := range all {
		var c events.StatusChange
		if json.Unmarshal(e.Data, &c) == nil && c.Status == events.Paid {
			out[c.OrderID] = append(out[c.OrderID], e.ReceivedAt)
		}
	}
	return out
}
