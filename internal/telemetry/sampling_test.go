package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

// shop is an entry point (Edge) that calls one app (Handler) through
// Transport, as the gateway calls the services through its sidecar; it
// records the traceparent each hop received.
type shop struct {
	edge    *httptest.Server
	mu      sync.Mutex
	parents []string // what the app received, in order
}

func newShop(t *testing.T) *shop {
	s := &shop{}
	app := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.parents = append(s.parents, r.Header.Get("traceparent"))
		s.mu.Unlock()
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})))
	t.Cleanup(app.Close)
	client := &http.Client{Transport: Transport(http.DefaultTransport)}
	s.edge = httptest.NewServer(Edge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, app.URL+r.URL.Path, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	})))
	t.Cleanup(s.edge.Close)
	return s
}

// call asks the shop and returns the traceparent the app received.
func (s *shop) call(t *testing.T, method, path string) string {
	req, err := http.NewRequest(method, s.edge.URL+path, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parents[len(s.parents)-1]
}

// traceWith installs what Setup would with spans going to a memory
// exporter, page views sampled at pages.
func traceWith(t *testing.T, pagesPerSecond float64) (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exporter := tracetest.NewInMemoryExporter()
	provider := newProvider("test", exporter)
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagator)
	pages, tracing = newPageLimiter(pagesPerSecond, time.Now), true
	t.Cleanup(func() {
		tracing = false
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = provider.Shutdown(context.Background())
	})
	return exporter, provider
}

func sampledFlag(traceparent string) string {
	if i := strings.LastIndexByte(traceparent, '-'); i >= 0 {
		return traceparent[i+1:]
	}
	return ""
}

func TestSamplingIsDecidedOnceAtTheEntry(t *testing.T) {
	exporter, provider := traceWith(t, 0)
	s := newShop(t)

	page := s.call(t, http.MethodGet, "/")
	assert.Equal(t, "00", sampledFlag(page), "a page view beyond the limit (0 a second) is not sampled, and the app is told so")
	change := s.call(t, http.MethodPost, "/checkout")
	assert.Equal(t, "01", sampledFlag(change), "a change is always sampled")
	failed := s.call(t, http.MethodGet, "/fail")
	assert.Equal(t, "00", sampledFlag(failed))
	require.NoError(t, provider.ForceFlush(context.Background()))

	byTrace := map[string][]sdktrace.ReadOnlySpan{}
	for _, span := range exporter.GetSpans().Snapshots() {
		byTrace[span.SpanContext().TraceID().String()] = append(byTrace[span.SpanContext().TraceID().String()], span)
	}
	traceOf := func(traceparent string) []sdktrace.ReadOnlySpan { return byTrace[strings.Split(traceparent, "-")[1]] }
	assert.Empty(t, traceOf(page), "nothing of the unsampled page view is exported")
	names := func(spans []sdktrace.ReadOnlySpan) (out []string) {
		for _, s := range spans {
			out = append(out, s.Name())
		}
		return out
	}
	assert.ElementsMatch(t, []string{"POST /checkout", "GET /checkout", "GET /checkout"}, names(traceOf(change)),
		"the change's trace: the entry's span, its client span and the app's span")
	kept := traceOf(failed)
	require.Len(t, kept, 1, "a failed page view keeps its entry span: %v", names(kept))
	assert.Equal(t, "GET /fail", kept[0].Name())
	assert.Equal(t, codes.Error, kept[0].Status().Code)
	assert.Equal(t, strings.Split(failed, "-")[2], kept[0].SpanContext().SpanID().String(), "the span the app was told was its parent")
}

func TestPageViewsAreTracedUpToTheLimit(t *testing.T) {
	traceWith(t, 1_000_000)
	s := newShop(t)
	assert.Equal(t, "01", sampledFlag(s.call(t, http.MethodGet, "/")), "under the limit a page view is sampled")

	clock := time.Unix(1000, 0)
	l := newPageLimiter(2, func() time.Time { return clock })
	passed := 0
	for range 100 { // 10 s, 10 page views a second
		if l.allow() {
			passed++
		}
		clock = clock.Add(100 * time.Millisecond)
	}
	assert.Equal(t, 20, passed, "2 a second pass, whatever the load")
	assert.False(t, newPageLimiter(0, time.Now).allow(), "0: none")
}

func TestWithoutTracingTheContextStillFlows(t *testing.T) {
	tracing = false
	otel.SetTextMapPropagator(propagator)
	s := newShop(t)
	first, second := s.call(t, http.MethodGet, "/"), s.call(t, http.MethodGet, "/")
	require.Len(t, strings.Split(first, "-"), 4, "the app gets a traceparent: %q", first)
	assert.Equal(t, "00", sampledFlag(first))
	assert.NotEqual(t, strings.Split(first, "-")[1], strings.Split(second, "-")[1], "each request its own trace id")
}

func TestPagesPerSecondSetting(t *testing.T) {
	n, err := pagesPerSecond("")
	require.NoError(t, err)
	assert.Equal(t, float64(DefaultPagesPerSecond), n)
	n, err = pagesPerSecond("0.5")
	require.NoError(t, err)
	assert.Equal(t, 0.5, n)
	for _, bad := range []string{"-1", "all", "+Inf"} {
		_, err := pagesPerSecond(bad)
		assert.ErrorContains(t, err, "TRACE_PAGES_PER_SECOND", bad)
	}
}

func TestExportErrorsAreLoggedOnceAMinute(t *testing.T) {
	var out syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&out, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	e := &exportErrors{}
	for range 100 {
		e.Handle(errors.New("traces export: connection refused"))
	}
	assert.Equal(t, 1, strings.Count(out.String(), "connection refused"), out.String())
	e.last.Store(time.Now().Add(-2 * time.Minute).UnixNano())
	e.Handle(errors.New("traces export: connection refused"))
	assert.Contains(t, out.String(), `"more_since_last":99`)
}
