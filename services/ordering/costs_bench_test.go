package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// BenchmarkDaprCosts prices the parts a checkout is made of, so that its
// cost (BenchmarkCheckout) can be explained part by part. Each part runs
// alone, 8 at a time, and is charged the CPU time that every process of the
// system used meanwhile (apps, sidecars, control plane, servers; not this
// load generator, nor NATS, which runs inside it), less what they use idle:
//
//   - invoke: one HTTP service invocation through two sidecars, mTLS and
//     access control included (ordering's sidecar → identity's sidecar →
//     identity's GET /jwks.json);
//   - state-write: one state save of a 300-byte order through a sidecar
//     into ordering's store;
//   - publish: one event published through a sidecar and delivered to one
//     subscriber app;
//   - workflow-1, workflow-4: a workflow of 1 and of 4 no-op activities.
//     The difference divided by 3 is the price of one activity; workflow-1
//     less one activity, the price of starting and ending a workflow.
//
// A probe app stands in for ordering (its id, store and workflow engine).
func BenchmarkDaprCosts(b *testing.B) {
	for _, profile := range []string{"embedded", "servers"} {
		b.Run(profile, func(b *testing.B) {
			sys := harness.Start(b, harness.Options{Profile: profile, Services: []string{"identity"},
				Extra: []compose.Service{harness.WorkflowProbe("ordering"), harness.Probe("watcher", events.OrderStatusChanged)}})
			from, watcher := sys.App("ordering"), sys.App("watcher")
			side := func(method, path, body string) func(i int) error {
				return func(i int) error {
					return expect200(method, from.SidecarURL()+path, from.APIToken, strings.ReplaceAll(body, "{i}", fmt.Sprint(i)))
				}
			}
			order := `{"orderId":"bench-{i}","userId":"u-1","status":"paid","lines":[{"productId":"insulated-bottle","name":"Insulated bottle","unitPrice":{"amount":2490,"currency":"EUR"},"quantity":1}],"total":{"amount":2490,"currency":"EUR"},"at":"2026-11-26T12:00:00Z"}`
			// Warm every path once, so that connections and caches exist.
			require.EventuallyWithT(b, func(c *assert.CollectT) {
				assert.NoError(c, side(http.MethodGet, "/v1.0/invoke/identity/method/jwks.json", "")(0))
			}, 30*time.Second, harness.Poll)
			require.EventuallyWithT(b, func(c *assert.CollectT) {
				assert.NoError(c, expect200(http.MethodPost, from.AppURL()+"/workflows?activities=1&count=1", from.AppToken, ""))
			}, 30*time.Second, harness.Poll)
			idle := idleRate(sys, 5*time.Second)

			delivered := func() int {
				_, _, body := harness.Call(b, http.MethodGet, watcher.AppURL()+"/received", http.Header{"Dapr-Api-Token": {watcher.AppToken}}, "")
				return strings.Count(string(body), `"receivedAt"`)
			}
			for _, part := range []struct {
				name string
				ops  int
				run  func(b *testing.B, ops int)
			}{
				{"invoke", 2000, each(side(http.MethodGet, "/v1.0/invoke/identity/method/jwks.json", ""))},
				{"state-write", 2000, each(side(http.MethodPost, "/v1.0/state/ordering-store", `[{"key":"bench-{i}","value":`+order+`}]`))},
				{"publish", 2000, func(b *testing.B, ops int) {
					before := delivered()
					each(side(http.MethodPost, "/v1.0/publish/events/"+events.OrderStatusChanged, order))(b, ops)
					require.EventuallyWithT(b, func(c *assert.CollectT) {
						assert.GreaterOrEqual(c, delivered()-before, ops, "delivered")
					}, time.Minute, harness.Poll)
				}},
				{"workflow-1", 300, chains(from, 1)},
				{"workflow-4", 300, chains(from, 4)},
			} {
				b.Run(part.name, func(b *testing.B) {
					for range b.N {
						before, start := harness.CPU(sys), time.Now()
						part.run(b, part.ops)
						elapsed := time.Since(start)
						used := harness.CPUSince(sys, before)
						var total time.Duration
						for _, d := range used {
							total += d
						}
						total -= time.Duration(idle * float64(elapsed))
						b.ReportMetric(harness.Ms(total)/float64(part.ops), "cpu-ms/op")
						b.ReportMetric(float64(part.ops)/elapsed.Seconds(), "ops/s")
						b.Logf("%s %s: %s", profile, part.name, perOp(used, part.ops))
					}
				})
			}
		})
	}
}

// each runs op ops times, 8 at a time, and fails b on the first error.
func each(op func(i int) error) func(b *testing.B, ops int) {
	return func(b *testing.B, ops int) {
		var next atomic.Int64
		var failed atomic.Value
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)); i <= ops; i = int(next.Add(1)) {
					if err := op(i); err != nil {
						failed.CompareAndSwap(nil, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
	}
}

// chains runs ops workflows of n no-op activities in the probe.
func chains(probe *runner.App, n int) func(b *testing.B, ops int) {
	return func(b *testing.B, ops int) {
		require.NoError(b, expect200(http.MethodPost, fmt.Sprintf("%s/workflows?activities=%d&count=%d", probe.AppURL(), n, ops), probe.AppToken, ""))
	}
}

var benchClient = &http.Client{Timeout: 6 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// expect200 sends one request with a Dapr token and wants a 2xx answer.
func expect200(method, url, token, body string) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Dapr-Api-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := benchClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, head)
	}
	return nil
}

// idleRate is the CPU the whole system uses per second of wall time while
// nothing happens (name-resolution renewals, the scheduler's etcd, …).
func idleRate(sys *runner.System, over time.Duration) float64 {
	before := harness.CPU(sys)
	time.Sleep(over)
	var total time.Duration
	for _, d := range harness.CPUSince(sys, before) {
		total += d
	}
	return float64(total) / float64(over)
}

// perOp lists the processes that used CPU, most first, in ms per op.
func perOp(used map[string]time.Duration, ops int) string {
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return int(used[b] - used[a]) })
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", n, harness.Ms(used[n])/float64(ops)))
	}
	return strings.Join(parts, ", ")
}
