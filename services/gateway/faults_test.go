package main

import (
	"context"
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
	harness.Eventually(t, 30*time.Second, func() error {
		status, _, _ := harness.Call(t, http.MethodGet, base+"/", nil, "")
		if status != http.StatusOK {
			return assert.AnError
		}
		return nil
	})

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
