package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestTraceParentCarriesTheTrace(t *testing.T) {
	provider := sdktrace.NewTracerProvider()
	ctx, span := provider.Tracer("test").Start(context.Background(), "checkout")
	defer span.End()
	tp := TraceParent(ctx)
	require.NotEmpty(t, tp)
	joined := trace.SpanContextFromContext(WithTraceParent(context.Background(), tp))
	assert.Equal(t, span.SpanContext().TraceID(), joined.TraceID(), "the same trace")
	assert.Equal(t, span.SpanContext().SpanID(), joined.SpanID(), "the span becomes the parent")
	assert.Empty(t, TraceParent(context.Background()), "outside any span")
	assert.Equal(t, context.Background(), WithTraceParent(context.Background(), ""))
}

func TestLogLinesCarryTheTraceID(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(Logs(slog.NewJSONHandler(&out, nil))).With("service", "x")
	provider := sdktrace.NewTracerProvider()
	ctx, span := provider.Tracer("test").Start(context.Background(), "work")
	log.InfoContext(ctx, "inside")
	span.End()
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	var inside, outside map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &inside))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &outside))
	assert.Equal(t, span.SpanContext().TraceID().String(), inside["trace_id"])
	assert.NotContains(t, outside, "trace_id")
}

func TestRoutesLeaveIDsOut(t *testing.T) {
	for path, want := range map[string]string{
		"/orders/abc123/cancel":   "/orders",
		"/fragments/product-grid": "/fragments/product-grid",
		"/api/catalog/products/x": "/api/catalog",
		"/pages/products/y":       "/pages/products",
		"/":                       "/",
		"/fragments":              "/fragments",
		"/static/shell/app.css":   "/static/shell",
		"/cart":                   "/cart",
	} {
		assert.Equal(t, want, route(httptest.NewRequest(http.MethodGet, path, nil)), path)
	}
}

func TestSummaryOncePerPeriodAndNothingWhenIdle(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	window.requests.Store(0)
	window.failures.Store(0)
	for i := range window.buckets {
		window.buckets[i].Store(0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	Summarize(ctx, log, 100*time.Millisecond)
	h := measure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	for _, p := range []string{"/a", "/b", "/fail", "/healthz", "/dapr/subscribe"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	// A gRPC app's calls count too (payment): a refusal is an answer, an
	// internal error a failure; health checks are not counted.
	for method, err := range map[string]error{
		"/dapr.proto.runtime.v1.AppCallback/OnInvoke":               status.Error(codes.InvalidArgument, "no"),
		"/dapr.proto.runtime.v1.AppCallback/OnInvoke/x":             status.Error(codes.Internal, "broken"),
		"/grpc.health.v1.Health/Check":                              nil,
		"/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions": nil,
	} {
		_, _ = MeasureGRPC(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) { return nil, err })
	}
	require.Eventually(t, func() bool { return strings.Contains(out.String(), `"msg":"requests"`) }, 2*time.Second, 20*time.Millisecond)
	time.Sleep(350 * time.Millisecond) // idle periods
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1, "one summary, then silence: %s", out.String())
	var summary map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &summary))
	assert.EqualValues(t, 5, summary["count"], "probes and the sidecar's own calls are not counted")
	assert.EqualValues(t, 2, summary["failed"])
}

func TestSummaryP99IsWithinABucketOfTheTruth(t *testing.T) {
	var histogram [durationBuckets]int64
	// 990 fast requests and 10 slow ones: the 99th percentile is the
	// slowest of the fast ones.
	histogram[bucketOf(2*time.Millisecond)] += 990
	histogram[bucketOf(800*time.Millisecond)] += 10
	got := p99(histogram[:], 1000)
	assert.GreaterOrEqual(t, got, 2*time.Millisecond)
	assert.Less(t, got, 2*time.Millisecond*110/100, "within one bucket (9 %%)")
	histogram[bucketOf(800*time.Millisecond)] += 10 // now 2 % are slow
	got = p99(histogram[:], 1010)
	assert.GreaterOrEqual(t, got, 800*time.Millisecond)
	assert.Less(t, got, 800*time.Millisecond*110/100)
	assert.Equal(t, durationBuckets-1, bucketOf(time.Hour), "longer than the last bucket lands in it")
	assert.Zero(t, bucketOf(0))
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
