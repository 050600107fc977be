package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// BenchmarkGatewayOverhead measures what the gateway adds to a request: a
// signed-in product read through the gateway (client → gateway → its
// sidecar → catalog's sidecar → catalog) against the same read sent
// straight to the gateway's sidecar. Both carry the same bearer token,
// which catalog verifies in both cases; the gateway verifies it once more.
func BenchmarkGatewayOverhead(b *testing.B) {
	sys := harness.Start(b, harness.Options{Profile: "embedded", Services: []string{"catalog", "identity", "gateway"},
		Env: map[string]string{"GATEWAY_RATE_PER_SECOND": "100000"}})
	gw := sys.App("gateway")
	token := harness.NewUsers(sys).Token(b, "bench")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(url, apiToken string) time.Duration {
		h := http.Header{"Authorization": {"Bearer " + token}}
		if apiToken != "" {
			h.Set("dapr-api-token", apiToken)
		}
		return harness.TimedGet(b, client, url, h)
	}
	viaGateway := gw.AppURL() + "/api/catalog/products/headlamp"
	viaSidecar := gw.SidecarURL() + "/v1.0/invoke/catalog/method/products/headlamp"
	require.EventuallyWithT(b, func(c *assert.CollectT) {
		resp, err := http.Get(viaGateway)
		require.NoError(c, err)
		resp.Body.Close()
		assert.Equal(c, http.StatusOK, resp.StatusCode)
	}, 30*time.Second, harness.Poll)
	for range 300 {
		get(viaGateway, "")
		get(viaSidecar, gw.APIToken)
	}
	b.ResetTimer()
	for range b.N {
		var g, s []time.Duration
		for range 3000 {
			g = append(g, get(viaGateway, ""))
			s = append(s, get(viaSidecar, gw.APIToken))
		}
		b.ReportMetric(harness.Ms(harness.Percentile(g, 50)), "gateway-p50-ms")
		b.ReportMetric(harness.Ms(harness.Percentile(g, 99)), "gateway-p99-ms")
		b.ReportMetric(harness.Ms(harness.Percentile(s, 50)), "sidecar-p50-ms")
		b.ReportMetric(harness.Ms(harness.Percentile(s, 99)), "sidecar-p99-ms")
		b.ReportMetric(harness.Ms(harness.Percentile(g, 50)-harness.Percentile(s, 50)), "added-p50-ms")
	}
}
