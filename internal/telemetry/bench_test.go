package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkInstrumentation is what Bazaar's instrumentation adds to one
// request, in process, around a handler that does nothing: the metrics, the
// request summary and the trace context, with tracing off, and on (the
// request sampled or not, as the gateway decided). A page costs about 1 ms
// of CPU over the gateway, the shell and their sidecars (docs/benchmarks.md);
// each app it crosses pays this once.
func BenchmarkInstrumentation(b *testing.B) {
	nothing := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	// make bench runs every benchmark once (-benchtime 1x): each run times
	// a fixed number of requests itself.
	run := func(b *testing.B, h http.Handler, traceparent string) {
		r := httptest.NewRequest(http.MethodGet, "/fragments/catalog/product-grid?category=garden", nil)
		if traceparent != "" {
			r.Header.Set("traceparent", traceparent)
		}
		serve := func() { h.ServeHTTP(httptest.NewRecorder(), r) }
		const n = 20_000
		for range b.N {
			start := time.Now()
			for range n {
				serve()
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/request")
			b.ReportMetric(testing.AllocsPerRun(1000, serve), "allocs/request")
		}
	}
	const sampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	const unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	b.Run("bare", func(b *testing.B) { run(b, nothing, "") })
	b.Run("untraced/app", func(b *testing.B) {
		tracing = false
		run(b, Handler(nothing), unsampled)
	})
	b.Run("untraced/edge", func(b *testing.B) {
		tracing = false
		run(b, Edge(nothing), "")
	})
	b.Run("traced/app-unsampled", func(b *testing.B) {
		traceWithExporter(b)
		run(b, Handler(nothing), unsampled)
	})
	b.Run("traced/app-sampled", func(b *testing.B) {
		traceWithExporter(b)
		run(b, Handler(nothing), sampled)
	})
	b.Run("traced/edge-page", func(b *testing.B) {
		traceWithExporter(b)
		run(b, Edge(nothing), "")
	})
}

func traceWithExporter(b *testing.B) {
	provider := newProvider("bench", tracetest.NewNoopExporter())
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagator)
	pages, tracing = newPageLimiter(DefaultPagesPerSecond, time.Now), true
	b.Cleanup(func() { tracing = false; _ = provider.Shutdown(b.Context()) })
}
