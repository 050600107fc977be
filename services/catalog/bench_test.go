package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/bazaar-shop/bazaar/internal/compose"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// BenchmarkInvocation compares a product read sent straight to catalog with
// the same read sent app → sidecar → sidecar → catalog (mTLS between the
// sidecars). The direct figure is all our own code costs; the rest is Dapr's.
func BenchmarkInvocation(b *testing.B) {
	for _, profile := range []string{"embedded", "servers"} {
		b.Run(profile, func(b *testing.B) {
			sys := harness.Start(b, harness.Options{Profile: profile, Services: []string{"catalog"},
				Extra: []compose.Service{harness.Probe("gateway")}})
			from, catalog := sys.App("gateway"), sys.App("catalog")
			waitSeeded(b, from)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			get := func(url, token string) time.Duration {
				return harness.TimedGet(b, client, url, http.Header{"Dapr-Api-Token": {token}})
			}
			direct := catalog.AppURL() + "/products/headlamp"
			viaDapr := from.SidecarURL() + "/v1.0/invoke/catalog/method/products/headlamp"
			const n = 3000
			for range 300 { // warm up connections and caches
				get(direct, catalog.AppToken)
				get(viaDapr, from.APIToken)
			}
			b.ResetTimer()
			for range b.N {
				var d, v []time.Duration
				for range n {
					d = append(d, get(direct, catalog.AppToken))
					v = append(v, get(viaDapr, from.APIToken))
				}
				b.ReportMetric(harness.Ms(harness.Percentile(d, 50)), "direct-p50-ms")
				b.ReportMetric(harness.Ms(harness.Percentile(d, 99)), "direct-p99-ms")
				b.ReportMetric(harness.Ms(harness.Percentile(v, 50)), "dapr-p50-ms")
				b.ReportMetric(harness.Ms(harness.Percentile(v, 99)), "dapr-p99-ms")
			}
		})
	}
}
