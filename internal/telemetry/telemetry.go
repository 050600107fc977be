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
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
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

// pages lets page views be traced at the entry point (Edge) up to a rate.
var pages = newPageLimiter(DefaultPagesPerSecond, time.Now)

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
// point's span (keepFailure).
func Setup(ctx context.Context, service string, getenv func(string) string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagator)
	tracing = false
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func(context.Context) error { return nil }, nil
	}
	perSecond, err := pagesPerSecond(getenv("TRACE_PAGES_PER_SECOND"))
	if err != nil {
		return nil, err
	}
	// The exporter reads the endpoint and its options from the standard
	// OTEL_EXPORTER_OTLP_* variables.
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	provider := newProvider(service, exporter)
	otel.SetTracerProvider(provider)
	otel.SetErrorHandler(&exportErrors{})
	pages, tracing = newPageLimiter(perSecond, time.Now), true
	return provider.Shutdown, nil
}

// newProvider sends the spans of sampled traces to exporter, in batches.
// A trace that starts here (at the entry point, which decided to trace it,
// or in the background) is sampled; any other follows its parent.
func newProvider(service string, exporter sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		// Spans leave within a second: a trace is complete soon after the
		// request (the default waits 5 s).
		sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithIDGenerator(idGenerator{}),
		// The sidecar reports under the same service name; the component
		// tells the app's spans from its sidecar's.
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), Component)),
	)
}

// exportErrors logs what the tracing SDK could not do (spans it could not
// send: the backend is away, or not built yet on a first run) at most once
// a minute, with how many more there were: it must not fill the log.
type exportErrors struct {
	last   atomic.Int64 // when the last one was logged, in ns
	hushed atomic.Int64 // since then
}

func (e *exportErrors) Handle(err error) {
	now, last := time.Now().UnixNano(), e.last.Load()
	if now-last < int64(time.Minute) || !e.last.CompareAndSwap(last, now) {
		e.hushed.Add(1)
		return
	}
	slog.Warn("tracing", "err", err, "more_since_last", e.hushed.Swap(0))
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

// idGenerator makes random ids, but for a span given its ids in advance
// (keepFailure): the ones an untraced request already passed on.
type idGenerator struct{}

type fixedIDs struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if sc, ok := ctx.Value(fixedIDs{}).(trace.SpanContext); ok {
		return sc.TraceID(), sc.SpanID()
	}
	sc := newTraceContext()
	return sc.TraceID(), sc.SpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) (id trace.SpanID) {
	binary.NativeEndian.PutUint64(id[:], rand.Uint64()|1)
	return id
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
// sampling decision for the whole request is made here: a change is traced,
// a read if the page limiter lets it. Any other request only carries a fresh
// trace context on, unsampled, and costs no span unless it fails.
func Edge(h http.Handler) http.Handler {
	measured := measure(h)
	traced := otelhttp.NewHandler(measured, "http.server", otelhttp.WithSpanNameFormatter(spanName), otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }))
	return edge{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		if tracing && (!read || pages.allow()) {
			traced.ServeHTTP(w, r)
			return
		}
		sc, start := newTraceContext(), time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		measured.ServeHTTP(rec, r.WithContext(trace.ContextWithSpanContext(r.Context(), sc)))
		if tracing && rec.status >= 500 {
			keepFailure(r, sc, start, rec.status)
		}
	})}
}

// keepFailure exports the entry span of a request that was not sampled and
// failed, after the fact, with the ids it passed on: a failure is never lost
// to sampling, and its log lines in every app carry that trace id.
func keepFailure(r *http.Request, sc trace.SpanContext, start time.Time, status int) {
	ctx := context.WithValue(context.Background(), fixedIDs{}, sc)
	_, span := Tracer().Start(ctx, spanName("", r), trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path),
			semconv.HTTPRoute(route(r)), semconv.HTTPResponseStatusCode(status)))
	span.SetStatus(codes.Error, http.StatusText(status))
	span.End()
}

type edge struct{ http.Handler }

// newTraceContext is a fresh, unsampled trace context: what an untraced
// request carries so that every log line of it, in every app, has one id.
// Trace ids need to be unique, not secret (math/rand/v2 is ChaCha8).
func newTraceContext() trace.SpanContext {
	var c trace.SpanContextConfig
	binary.NativeEndian.PutUint64(c.TraceID[:8], rand.Uint64())
	binary.NativeEndian.PutUint64(c.TraceID[8:], rand.Uint64()|1)
	binary.NativeEndian.PutUint64(c.SpanID[:], rand.Uint64()|1)
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
