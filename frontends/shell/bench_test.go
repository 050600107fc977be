package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// BenchmarkPages measures composed pages through the gateway, everything
// local on this machine (the load generator included), twice back to back:
// "untraced" (no Jaeger, no Prometheus), then "defaults" as `make run` has it
// (Jaeger and Prometheus on, page views traced up to compose.yaml's
// TRACE_PAGES_PER_SECOND), which also reports what tracing and metrics cost
// a signed-in page against the run before it (CPU of every process per
// page; from run to run it moves by ±5 %, docs/benchmarks.md). Each measures:
//   - the anonymous home page (five fragments; the gateway's page cache
//     answers most): sustained pages/s with 32 clients, and latency at a
//     steady 200 pages/s;
//   - the signed-in home page (user menu and mini cart are personal and
//     fetched every time): sustained pages/s, and the CPU of every process
//     per page;
//   - composition overhead: the signed-in page's p50 against each of its
//     fragments fetched alone through the gateway, one at a time;
//   - one render of an order's status (what each poll cost before the
//     status became a long poll).
//
// The one thing changed from make run: the gateway's per-client rate limit,
// since the load comes from one address.
func BenchmarkPages(b *testing.B) {
	var untracedCPU float64
	for _, run := range []struct {
		name     string
		observed bool
	}{{"untraced", false}, {"defaults", true}} {
		b.Run(run.name, func(b *testing.B) {
			sys := harness.Start(b, harness.Options{Profile: "embedded", Services: []string{"catalog", "basket", "ordering", "identity", "shell", "gateway"},
				Tracing: run.observed, Metrics: run.observed,
				Env: map[string]string{"GATEWAY_RATE_PER_SECOND": "1000000"}})
			cpu := measurePages(b, sys, run.name)
			if run.observed && untracedCPU > 0 {
				b.ReportMetric(100*(cpu-untracedCPU)/untracedCPU, "tracing-cost-%")
			}
			untracedCPU = cpu
		})
	}
}

// measurePages runs BenchmarkPages' loads on sys and returns the CPU a
// signed-in home page costs at full load (the anonymous one is a cache hit).
func measurePages(b *testing.B, sys *runner.System, profileAs string) (signedInCPU float64) {
	base := sys.App("gateway").AppURL()
	token := harness.NewUsers(sys).Token(b, "bench")
	signedIn := http.Header{"Cookie": {"identity_session=" + token}}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	require.EventuallyWithT(b, func(c *assert.CollectT) { assert.NoError(c, fetchPage(client, base+"/", nil)) }, 30*time.Second, harness.Poll)
	for range 500 {
		timed(b, client, base+"/", nil)
		timed(b, client, base+"/", signedIn)
	}
	b.ResetTimer()
	for range b.N {
		// BAZAAR_PROFILES=dir keeps CPU profiles of the two sustained loads.
		profiled := harness.Profiles(b, sys, profileAs+"-anon-home", 8*time.Second)
		before := harness.CPU(sys)
		anon := sustained(b, client, base+"/", nil, 32, 10*time.Second)
		b.ReportMetric(anon, "anon-pages/s")
		profiled()
		b.ReportMetric(cpuPerPage(b, sys, before, anon*10), "anon-cpu-ms/page")
		p50, p99 := steady(b, client, base+"/", nil, 200, 10*time.Second)
		b.ReportMetric(p50, "anon-at-200/s-p50-ms")
		b.ReportMetric(p99, "anon-at-200/s-p99-ms")
		profiled = harness.Profiles(b, sys, profileAs+"-signed-in-home", 8*time.Second)
		before = harness.CPU(sys)
		perSecond := sustained(b, client, base+"/", signedIn, 32, 10*time.Second)
		b.ReportMetric(perSecond, "signed-in-pages/s")
		profiled()
		signedInCPU = cpuPerPage(b, sys, before, perSecond*10)
		b.ReportMetric(signedInCPU, "signed-in-cpu-ms/page")

		page := sequential(b, client, base+"/", signedIn, 1000)
		slowest := 0.0
		for name, f := range map[string]string{"user-menu": "/fragments/identity/user-menu?page=%2F", "mini-cart": "/fragments/basket/mini-cart",
			"categories": "/fragments/catalog/categories?category=", "product-grid": "/fragments/catalog/product-grid",
			"recommendations": "/fragments/catalog/recommendations"} {
			alone := sequential(b, client, base+f, signedIn, 1000)
			b.ReportMetric(alone, name+"-alone-p50-ms")
			slowest = max(slowest, alone)
		}
		b.ReportMetric(page, "signed-in-page-p50-ms")
		b.ReportMetric(slowest, "slowest-fragment-alone-p50-ms")
		b.ReportMetric(page/slowest, "composition-overhead-x")
		b.ReportMetric(sequential(b, client, base+"/fragments/ordering/order-status?id=0123456789abcdef01234567", signedIn, 1000), "status-render-p50-ms")
	}
	return signedInCPU
}

// cpuPerPage is the CPU every process of sys used since before, per page
// of pages served; it logs each process's share (Jaeger and Prometheus
// included, the load generator not).
func cpuPerPage(b *testing.B, sys *runner.System, before map[string]time.Duration, pages float64) float64 {
	used := harness.CPUSince(sys, before)
	names := slices.Sorted(maps.Keys(used))
	slices.SortStableFunc(names, func(x, y string) int { return cmp.Compare(used[y], used[x]) })
	var total time.Duration
	line := ""
	for _, name := range names {
		total += used[name]
		line += fmt.Sprintf(" %s %.0f µs,", name, float64(used[name].Microseconds())/pages)
	}
	b.Logf("CPU per page by process:%s", strings.TrimSuffix(line, ","))
	return harness.Ms(total) / pages
}

// BenchmarkFollowingOrders measures what it costs to keep order pages open
// while their orders are pending, the way the order-status fragment follows
// them: before (asking every second) and now (a long poll that waits up to
// 8 s for the next status). 100 followers for 20 s each way; the figure is
// the CPU of every app and sidecar (the load generator excluded) per
// follower and second.
func BenchmarkFollowingOrders(b *testing.B) {
	sys := harness.Start(b, harness.Options{Profile: "embedded", Services: []string{"ordering", "identity", "gateway"},
		Env: map[string]string{"GATEWAY_RATE_PER_SECOND": "1000000"}})
	base := sys.App("gateway").AppURL()
	signedIn := http.Header{"Cookie": {"identity_session=" + harness.NewUsers(sys).Token(b, "follower")}}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	const followers, d = 100, 20 * time.Second
	status := func(i int) string {
		// Well-formed ids of orders not stored yet: each read is a store
		// lookup, as for a pending order.
		return fmt.Sprintf("%s/fragments/ordering/order-status?id=%024x", base, i+1)
	}
	require.NoError(b, fetchPage(client, status(0), signedIn))
	b.ResetTimer()
	for range b.N {
		for _, way := range []struct {
			name string
			ask  func(i int) string
			wait time.Duration
		}{
			{"every-second", status, time.Second},
			{"long-poll", func(i int) string { return status(i) + "&seen=received" }, 0},
		} {
			before, start := harness.CPU(sys), time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), d)
			var requests atomic.Int64
			var wg sync.WaitGroup
			for i := range followers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						next := time.Now().Add(way.wait)
						if err := fetchPage(client, way.ask(i), signedIn); err == nil {
							requests.Add(1)
						} else if ctx.Err() == nil {
							b.Error(err)
							return
						}
						select {
						case <-ctx.Done():
						case <-time.After(time.Until(next)):
						}
					}
				}()
			}
			wg.Wait() // a long poll in flight at the end finishes its wait
			cancel()
			elapsed := time.Since(start).Seconds()
			var cpu time.Duration
			for _, t := range harness.CPUSince(sys, before) {
				cpu += t
			}
			b.ReportMetric(harness.Ms(cpu)/followers/elapsed, way.name+"-cpu-ms/follower/s")
			b.ReportMetric(float64(requests.Load())/followers/elapsed, way.name+"-requests/follower/s")
		}
	}
}

// sustained runs workers clients back to back for d and returns pages/s.
// It fails if any answer was not the page (see fetchPage).
func sustained(b *testing.B, client *http.Client, url string, h http.Header, workers int, d time.Duration) float64 {
	var n, failed atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := fetchPage(client, url, h); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d pages failed, the first: %v", failed.Load(), failed.Load()+n.Load(), firstErr.Load())
	}
	return float64(n.Load()) / time.Since(start).Seconds()
}

// steady sends rate requests a second for d, each on its own schedule (an
// open loop: a slow answer does not delay the next request), and returns
// p50 and p99 in ms, measured from when each request was due. It fails if
// any answer was not the page (see fetchPage).
func steady(b *testing.B, client *http.Client, url string, h http.Header, rate int, d time.Duration) (float64, float64) {
	interval := time.Second / time.Duration(rate)
	total := int(d / interval)
	took := make([]time.Duration, total)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fetchPage(client, url, h); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
			took[i] = time.Since(due)
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d pages failed, the first: %v", failed.Load(), total, firstErr.Load())
	}
	return harness.Ms(harness.Percentile(took, 50)), harness.Ms(harness.Percentile(took, 99))
}

// sequential fetches url n times, one at a time, and returns the p50 in ms.
func sequential(b *testing.B, client *http.Client, url string, h http.Header, n int) float64 {
	took := make([]time.Duration, n)
	for i := range took {
		took[i] = timed(b, client, url, h)
	}
	return harness.Ms(harness.Percentile(took, 50))
}

// timed is how long fetchPage took; the benchmark fails on an answer that is not
// the page.
func timed(b *testing.B, client *http.Client, url string, h http.Header) time.Duration {
	b.Helper()
	start := time.Now()
	if err := fetchPage(client, url, h); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// fetchPage fetches url and says what is wrong with the answer, if anything: a
// status other than 200, or a page with a fallback in place of a fragment.
// The shell answers such a page 200 when an optional slot fails or is late,
// but it is an error page, and timing it would flatter the figures.
func fetchPage(client *http.Client, url string, h http.Header) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return fmt.Errorf("GET %s: %w", url, err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("GET %s: %d %.200s", url, resp.StatusCode, body)
	case bytes.Contains(body, []byte(`class="shell-fallback`)):
		return fmt.Errorf("GET %s: 200, but a slot showed its fallback", url)
	}
	return nil
}

// TestBenchmarkRefusesErrorPages: what BenchmarkPages times must be the
// page, not an error status or a page of fallbacks.
func TestBenchmarkRefusesErrorPages(t *testing.T) {
	answers := map[string]func(http.ResponseWriter){
		"/page": func(w http.ResponseWriter) { _, _ = io.WriteString(w, `<main data-boundary="catalog">products</main>`) },
		"/502":  func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) },
		"/fallback": func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `<div class="shell-fallback" role="status"><p>later</p></div>`)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answers[r.URL.Path](w) }))
	defer srv.Close()
	assert.NoError(t, fetchPage(srv.Client(), srv.URL+"/page", nil))
	assert.ErrorContains(t, fetchPage(srv.Client(), srv.URL+"/502", nil), "502")
	assert.ErrorContains(t, fetchPage(srv.Client(), srv.URL+"/fallback", nil), "fallback")
}

// BenchmarkComposeInProcess is the shell's own work for the signed-in home
// page (five slots, two personal), against instant fake services: what
// composition costs apart from the network hops. (make bench runs each
// benchmark once, so it composes 5,000 pages and reports the mean.)
func BenchmarkComposeInProcess(b *testing.B) {
	h := shellFor(newFakeServices(0))
	for b.Loop() {
		const pages = 5000
		start := time.Now()
		for range pages {
			r := httptest.NewRequest(http.MethodGet, "/pages/", nil)
			r.Header.Set("dapr-api-token", "app-token")
			r.Header.Set("Authorization", "Bearer x")
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/pages, "µs/page")
	}
}
