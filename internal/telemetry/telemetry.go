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
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
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

// Setup installs the W3C propagator and, when getenv names an OTLP
// endpoint, a tracer provider that exports every span of service there.
// The returned function flushes what is left; call it on the way out.
func Setup(ctx context.Context, service string, getenv func(string) string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func(context.Context) error { return nil }, nil
	}
	// The exporter reads the endpoint and its options from the standard
	// OTEL_EXPORTER_OTLP_* variables.
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	provider := sdktrace.NewTracerProvider(
		// Spans leave within a second: a trace is complete soon after the
		// request (the default waits 5 s).
		sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(time.Second)),
		// Follow the caller's decision: Dapr samples (dapr/config.yaml).
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		// The sidecar reports under the same service name; the component
		// tells the app's spans from its sidecar's.
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), Component)),
	)
	otel.SetTracerProvider(provider)
	return provider.Shutdown, nil
}

// Handler joins the trace of each request (the traceparent its sidecar
// sends) with a server span named by the route. A handler made by Edge is
// left as it is.
func Handler(h http.Handler) http.Handler {
	if _, ok := h.(edge); ok {
		return h
	}
	return otelhttp.NewHandler(measure(h), "http.server", otelhttp.WithSpanNameFormatter(spanName))
}

// Edge is Handler for the shop's entry point, the gateway: a request from
// outside starts a new trace (a traceparent it brings is only linked, so
// clients cannot choose trace ids or join others' traces).
func Edge(h http.Handler) http.Handler {
	return edge{otelhttp.NewHandler(measure(h), "http.server", otelhttp.WithSpanNameFormatter(spanName), otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }))}
}

type edge struct{ http.Handler }

func spanName(_ string, r *http.Request) string { return r.Method + " " + route(r) }

// Transport sends the current trace context with each request (to a
// sidecar, which continues the trace to the app it calls).
func Transport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	}))
}

// GRPCClient sends the current trace context with each call to the
// sidecar's gRPC API (state, pub/sub, invocation, workflows).
func GRPCClient() grpc.DialOption { return grpc.WithStatsHandler(otelgrpc.NewClientHandler()) }

// GRPCServer joins the trace of each call a sidecar makes to a gRPC app.
func GRPCServer() grpc.ServerOption { return grpc.StatsHandler(otelgrpc.NewServerHandler()) }

// route is the start of the path, without ids, so that span names stay
// few: "/orders", "/fragments/product-grid", "/api/catalog".
func route(r *http.Request) string {
	segments := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	switch {
	case len(segments) >= 2 && (segments[0] == "fragments" || segments[0] == "api" || segments[0] == "static"):
		return "/" + segments[0] + "/" + segments[1]
	case len(segments) >= 2 && segments[0] == "pages":
		return "/pages/" + segments[1]
	}
	return "/" + segments[0]
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
