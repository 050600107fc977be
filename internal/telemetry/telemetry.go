// Package telemetry gives every Bazaar app its traces: it joins the W3C
// trace context that Dapr's sidecars pass along, adds the app's own spans,
// exports them over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT says where (the
// runner points it at the local Jaeger), and puts the trace id on every log
// line made while serving a request.
//
// Without an endpoint nothing is exported, but the trace context still
// flows from the sidecar that called an app to the sidecar it calls, so
// Dapr's own spans still make one trace.
package telemetry

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// Scope names Bazaar's own spans, which tells them from the sidecars'.
const Scope = "github.com/bazaar-shop/bazaar"

// Component marks the spans of Bazaar's apps (a resource attribute, which
// Jaeger shows as a process tag): their sidecars' spans carry the same
// service name.
var Component = attribute.String("bazaar.component", "app")

// Tracer makes Bazaar's own spans.
func Tracer() trace.Tracer { return otel.Tracer(Scope) }

// tracing says whether Setup found somewhere to send spans. Without it
// the apps make no spans: they pass the W3C trace context along (a header
// read and a header written), which is all the logs' trace ids need.
var tracing bool

// Setup installs the W3C propagator and, when getenv names an OTLP
// endpoint, a tracer provider that exports service's sampled spans there.
// The returned function flushes what is left; call it on the way out.
//
// Sampling is decided once, where a request enters the shop (Edge), and
// everything downstream follows it: the sidecars' sampler is parent-based
// (Dapr's), and so is this one. Every request that changes something (a
// checkout, a sign-in, a basket line) is kept; of page views and other
// reads, at most TRACE_PAGES_PER_SECOND a second (default 2): every one on a
// quiet shop, where someone reads the traces, and a bounded cost under load
// (a ratio would grow with it); a failed one keeps at least the entry
// point's span (keepFailures).
func Setup(ctx context.Context, service string, getenv func(string) string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagator)
	tracing = false
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func(context.Context) error { return nil }, nil
	}
	pages, err := pagesPerSecond(getenv("TRACE_PAGES_PER_SECOND"))
	if err != nil {
		return nil, err
	}
	// The exporter reads the endpoint and its options from the standard
	// OTEL_EXPORTER_OTLP_* variables.
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	provider := newProvider(service, exporter, pages)
	otel.SetTracerProvider(provider)
	tracing = true
	return provider.Shutdown, nil
}

// newProvider samples as Setup says and sends the spans it keeps to
// exporter, in batches.
func newProvider(service string, exporter sdktrace.SpanExporter, pagesPerSecond float64) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		// Spans leave within a second: a trace is complete soon after the
		// request (the default waits 5 s).
		sdktrace.WithSpanProcessor(keepFailures{sdktrace.NewBatchSpanProcessor(exporter, sdktrace.WithBatchTimeout(time.Second))}),
		sdktrace.WithSampler(sdktrace.ParentBased(entrySampler{pages: newPageLimiter(pagesPerSecond, time.Now)})),
		// The sidecar reports under the same service name; the component
		// tells the app's spans from its sidecar's.
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), Component)),
	)
}

// DefaultPagesPerSecond is how many page views (and other reads) a second
// are traced at most.
const DefaultPagesPerSecond = 2

func pagesPerSecond(v string) (float64, error) {
	if v == "" {
		return DefaultPagesPerSecond, nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) {
		return 0, fmt.Errorf("TRACE_PAGES_PER_SECOND: %q is not a number of page views a second (0 or more)", v)
	}
	return n, nil
}

// pageLimiter lets at most perSecond page views a second be traced, evenly
// spaced, without a lock (it is on every request's path): it keeps the
// time the next one may pass.
type pageLimiter struct {
	interval int64 // nanoseconds between two; 0: none passes
	next     atomic.Int64
	now      func() time.Time
}

func newPageLimiter(perSecond float64, now func() time.Time) *pageLimiter {
	l := &pageLimiter{now: now}
	if perSecond > 0 {
		l.interval = max(1, int64(float64(time.Second)/perSecond))
	}
	return l
}

func (l *pageLimiter) allow() bool {
	if l.interval == 0 {
		return false
	}
	now := l.now().UnixNano()
	for {
		next := l.next.Load()
		if now < next {
			return false
		}
		if l.next.CompareAndSwap(next, now+l.interval) {
			return true
		}
	}
}

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// entrySampler decides for the traces that start here: at the entry point,
// a read (marked by Edge) is sampled if the page limiter lets it, and when
// it is not, its span is still recorded so that keepFailures can keep it if
// it fails; anything else (a change, or work started in the background) is
// kept.
type entrySampler struct{ pages *pageLimiter }

type readKey struct{}

func (s entrySampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	res := sdktrace.AlwaysSample().ShouldSample(p)
	if read, _ := p.ParentContext.Value(readKey{}).(bool); read && !s.pages.allow() {
		res.Decision = sdktrace.RecordOnly
	}
	return res
}

func (s entrySampler) Description() string { return "bazaar entry: changes, failures and some reads" }

// keepFailures exports sampled spans, and the recorded ones that failed (a
// page view that was not sampled but answered 5xx): a failure is never
// lost to sampling, at least its entry span with the route and status.
type keepFailures struct{ sdktrace.SpanProcessor }

func (k keepFailures) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		if s.Status().Code != codes.Error {
			return
		}
		s = keptSpan{s}
	}
	k.SpanProcessor.OnEnd(s)
}

// keptSpan is a failed span that sampling passed over, marked sampled so
// that the exporter takes it.
type keptSpan struct{ sdktrace.ReadOnlySpan }

func (s keptSpan) SpanContext() trace.SpanContext {
	sc := s.ReadOnlySpan.SpanContext()
	return sc.WithTraceFlags(sc.TraceFlags().WithSampled(true))
}

// Handler joins the trace of each request (the traceparent its sidecar
// sends). A sampled request gets a server span named by the route; any
// other only carries its trace context on. A handler made by Edge is left
// as it is.
func Handler(h http.Handler) http.Handler {
	if _, ok := h.(edge); ok {
		return h
	}
	measured := measure(h)
	traced := otelhttp.NewHandler(measured, "http.server", otelhttp.WithSpanNameFormatter(spanName))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		if sc := trace.SpanContextFromContext(ctx); tracing && (sc.IsSampled() || !sc.IsValid()) {
			traced.ServeHTTP(w, r)
			return
		}
		measured.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Edge is Handler for the shop's entry point, the gateway: a request from
// outside starts a new trace (a traceparent it brings is only linked, so
// clients cannot choose trace ids or join others' traces), and the
// sampling decision for the whole request is made here.
func Edge(h http.Handler) http.Handler {
	measured := measure(h)
	traced := otelhttp.NewHandler(measured, "http.server", otelhttp.WithSpanNameFormatter(spanName), otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }))
	return edge{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tracing {
			measured.ServeHTTP(w, r.WithContext(trace.ContextWithSpanContext(r.Context(), newTraceContext())))
			return
		}
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		traced.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), readKey{}, read)))
	})}
}

type edge struct{ http.Handler }

// newTraceContext is a fresh, unsampled trace context: what an untraced
// request carries so that every log line of it, in every app, has one id.
func newTraceContext() trace.SpanContext {
	var c trace.SpanContextConfig
	_, _ = rand.Read(c.TraceID[:])
	_, _ = rand.Read(c.SpanID[:])
	return trace.NewSpanContext(c)
}

func spanName(_ string, r *http.Request) string { return r.Method + " " + route(r) }

// Transport sends the current trace context with each request (to a
// sidecar, which continues the trace to the app it calls), with a client
// span when the trace is sampled.
func Transport(base http.RoundTripper) http.RoundTripper {
	traced := otelhttp.NewTransport(base, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	}))
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		sc := trace.SpanContextFromContext(r.Context())
		switch {
		case tracing && sc.IsSampled():
			return traced.RoundTrip(r)
		case sc.IsValid():
			// A RoundTripper must not change the request it is given.
			out := *r
			out.Header = r.Header.Clone()
			propagator.Inject(r.Context(), propagation.HeaderCarrier(out.Header))
			return base.RoundTrip(&out)
		}
		return base.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// GRPCClient sends the current trace context with each call to the
// sidecar's gRPC API (state, pub/sub, invocation, workflows).
func GRPCClient() grpc.DialOption { return grpc.WithStatsHandler(otelgrpc.NewClientHandler()) }

// GRPCServer joins the trace of each call a sidecar makes to a gRPC app.
func GRPCServer() grpc.ServerOption { return grpc.StatsHandler(otelgrpc.NewServerHandler()) }

// route is the start of the path, without ids, so that span names stay
// few: "/orders", "/fragments/product-grid", "/api/catalog". It is a prefix
// of the path (no allocation: every request computes it).
func route(r *http.Request) string {
	path := r.URL.Path
	first := segmentEnd(path, 1)
	switch path[min(1, len(path)):first] {
	case "fragments", "api", "static", "pages":
		if first < len(path) {
			return path[:segmentEnd(path, first+1)]
		}
	}
	if path == "" {
		return "/"
	}
	return path[:first]
}

// segmentEnd is the index of the "/" that ends the path segment starting
// at from, or the path's length.
func segmentEnd(path string, from int) int {
	if from >= len(path) {
		return len(path)
	}
	if i := strings.IndexByte(path[from:], '/'); i >= 0 {
		return from + i
	}
	return len(path)
}

// Logs wraps h so that each record made with a context inside a span
// carries its trace and span ids.
func Logs(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }

// TraceParent is the W3C traceparent of the span in ctx, or "" outside
// any: for work that outlives the request that started it (a workflow).
func TraceParent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// WithTraceParent returns ctx inside the trace that traceparent names (from
// TraceParent), so that the spans started from it join that trace.
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
