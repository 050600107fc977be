package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestClientsHangingUpCrashNothing has many clients ask for pages and hang
// up at random moments, mid-answer included. Dapr's sidecar panicked on
// exactly this (dapr/dapr#10371: with a resiliency timeout on service
// invocation, the handler returns on cancellation while a goroutine still
// writes the answer into a recycled writer). No process may restart.
func TestClientsHangingUpCrashNothing(t *testing.T) {
	sys := harness.Start(t, harness.Options{Profile: "embedded",
		Env: map[string]string{"GATEWAY_RATE_PER_SECOND": "100000"}})
	base := sys.App("gateway").AppURL()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, _ := harness.Call(t, http.MethodGet, base+"/", nil, "")
		assert.Equal(c, http.StatusOK, status, "the home page")
	}, 30*time.Second, harness.Poll)

	var sent, cut atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	paths := []string{"/", "/products/headlamp", "/?category=garden", "/api/catalog/products", "/fragments/catalog/product-grid"}
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				// Three requests in four are cut after 0.2 to 50 ms: before,
				// during or after the services answer (under this load a
				// page takes tens of ms); the others run to the end.
				ctx, cancel := context.WithCancel(context.Background())
				if rand.IntN(4) > 0 {
					wait := time.Duration(200+rand.IntN(49800)) * time.Microsecond
					ctx, cancel = context.WithTimeout(context.Background(), wait)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+paths[rand.IntN(len(paths))], nil)
				resp, err := client.Do(req)
				sent.Add(1)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					cut.Add(1)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests, %d cut off by their client", sent.Load(), cut.Load())
	require.Greater(t, cut.Load(), int64(1000), "the test must hang up on many requests")
	require.Greater(t, sent.Load()-cut.Load(), int64(100), "and let some finish")

	// Still serving, and nothing restarted.
	status, _, body := harness.Call(t, http.MethodGet, base+"/healthz", nil, "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Empty(t, sys.Crashes(), "processes restarted:\n%s", panics(harness.Output(sys)))
}

// panics returns the lines around any Go panic in the output.
func panics(out string) string {
	var b strings.Builder
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.Contains(l, "panic:") {
			b.WriteString(strings.Join(lines[i:min(i+12, len(lines))], "\n"))
			b.WriteString("\n…\n")
		}
	}
	return b.String()
}

// TestNoEmptySuccessWhileServicesDie reads an order and writes a basket
// through the gateway from 8 clients while the owning apps and their
// sidecars are killed again and again. Every answer keeps the contract: a
// 2xx carries its whole JSON body, anything else is a problem with a stable
// code and no internal detail.
func TestNoEmptySuccessWhileServicesDie(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			sys := harness.Start(t, harness.Options{Profile: profile,
				Env: map[string]string{"ORDERING_GRACE_PERIOD": "0s", "GATEWAY_RATE_PER_SECOND": "100000"}})
			base := sys.App("gateway").AppURL()
			users := harness.NewUsers(sys)
			token := users.Token(t, "kim")
			auth := http.Header{"Authorization": {"Bearer " + token}}
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				status, _, body := harness.Call(t, http.MethodPut, base+"/api/basket/items/headlamp", auth, `{"quantity":1}`)
				assert.Equal(c, http.StatusOK, status, "%s", body)
			}, 30*time.Second, harness.Poll)
			h := http.Header{"Authorization": auth["Authorization"], "Idempotency-Key": {"gateway-faults-" + profile}}
			status, _, body := harness.Call(t, http.MethodPost, base+"/api/basket/checkout", h,
				`{"shippingAddress":{"name":"K","street":"1 St","city":"C","postalCode":"1","country":"FR"},"card":{"number":"4242424242424242","expiry":"12/30","cvc":"123"}}`)
			require.Equal(t, http.StatusAccepted, status, "%s", body)
			var placed struct{ OrderID string }
			require.NoError(t, json.Unmarshal(body, &placed))
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				_, _, body := harness.Call(t, http.MethodGet, base+"/api/ordering/orders/"+placed.OrderID, auth, "")
				assert.Contains(c, string(body), `"status":"paid"`)
			}, 30*time.Second, harness.Poll)

			// check returns what is wrong with an answer, or "".
			check := func(status int, header http.Header, body []byte, field, want string) string {
				if status >= 200 && status < 300 {
					var v map[string]any
					if err := json.Unmarshal(body, &v); err != nil {
						return fmt.Sprintf("%d with a body that is not JSON (%d bytes): %v", status, len(body), err)
					}
					if got := fmt.Sprint(v[field]); want != "" && got != want || v[field] == nil {
						return fmt.Sprintf("%d without %s in %s", status, field, body)
					}
					return ""
				}
				if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
					return fmt.Sprintf("%d as %q: %s", status, ct, body)
				}
				var p struct{ Code string }
				if json.Unmarshal(body, &p) != nil || p.Code == "" {
					return fmt.Sprintf("%d problem without a code: %s", status, body)
				}
				for _, leak := range []string{"127.0.0.1", "ERR_", "rpc error", "dial tcp"} {
					if strings.Contains(string(body), leak) {
						return fmt.Sprintf("%d leaks %q: %s", status, leak, body)
					}
				}
				return ""
			}

			var mu sync.Mutex
			counts := map[string]int{}
			var problems []string
			record := func(what string, status int, problem string) {
				mu.Lock()
				defer mu.Unlock()
				counts[fmt.Sprintf("%s %d", what, status)]++
				if problem != "" && len(problems) < 20 {
					problems = append(problems, what+": "+problem)
				}
			}
			client := &http.Client{Timeout: 15 * time.Second}
			send := func(method, path, body string) (int, http.Header, []byte, error) {
				req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return 0, nil, nil, err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return resp.StatusCode, resp.Header, b, err
			}
			deadline := time.Now().Add(12 * time.Second)
			var wg sync.WaitGroup
			for c := range 8 {
				wg.Go(func() {
					for time.Now().Before(deadline) {
						if c%2 == 0 {
							status, h, b, err := send(http.MethodGet, "/api/ordering/orders/"+placed.OrderID, "")
							if err != nil {
								record("read", 0, err.Error())
								continue
							}
							record("read", status, check(status, h, b, "id", placed.OrderID))
						} else {
							status, h, b, err := send(http.MethodPut, "/api/basket/items/headlamp", `{"quantity":2}`)
							if err != nil {
								record("write", 0, err.Error())
								continue
							}
							record("write", status, check(status, h, b, "items", ""))
						}
					}
				})
			}
			// Kill the owners, app and sidecar by turns, every 1.5 s.
			kills := []func() error{sys.App("ordering").KillApp, sys.App("basket").KillApp,
				sys.App("ordering").KillSidecar, sys.App("basket").KillSidecar}
			for i := 0; time.Now().Before(deadline.Add(-time.Second)); i++ {
				time.Sleep(1500 * time.Millisecond)
				require.NoError(t, kills[i%len(kills)]())
			}
			wg.Wait()
			t.Logf("%s: answers %v", profile, counts)
			assert.Empty(t, problems)
			ok := counts["read 200"] + counts["write 200"]
			assert.Greater(t, ok, 100, "some answers went through")
		})
	}
}
