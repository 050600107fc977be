package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Metrics: every app counts its requests per route (rate, errors and
// duration: RED), and the services add their own (the saga's steps, orders
// by status). Prometheus scrapes them from a loopback port of their own
// (METRICS_PORT), never from the app's port, which for the gateway is the
// public one.

var requestDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "bazaar_http_request_duration_seconds",
	Help:    "Time to answer an HTTP request, by route, method and status code.",
	Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
}, []string{"route", "method", "code"})

// measure records each request's duration under its route and status.
func measure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		took := time.Since(start)
		requestDuration.WithLabelValues(route(r), r.Method, statusCode(rec.status)).Observe(took.Seconds())
		if !quiet(r) {
			logRequest(r, rec.status, took)
		}
	})
}

// statusCodes are the status codes as label values, made once: every
// request is counted under its code (strconv.Itoa allocates above 99).
var statusCodes = func() (out [500]string) {
	for i := range out {
		out[i] = strconv.Itoa(100 + i)
	}
	return out
}()

func statusCode(code int) string {
	if code >= 100 && code < 600 {
		return statusCodes[code-100]
	}
	return strconv.Itoa(code)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ServeMetrics serves /metrics on host:port (the app's listen address:
// loopback locally, the pod's address on Kubernetes) until ctx ends; a port
// of 0 serves nothing (no Prometheus runs).
func ServeMetrics(ctx context.Context, host string, port int, log *slog.Logger) {
	if port == 0 {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	serveUntil(ctx, host, port, mux, "metrics", log)
}

// serveUntil serves h on host:port until ctx ends, in the background: the
// side listeners (metrics, profiling) that are not the app's own port.
func serveUntil(ctx context.Context, host string, port int, h http.Handler, what string, log *slog.Logger) {
	srv := &http.Server{Addr: net.JoinHostPort(host, strconv.Itoa(port)), Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.ErrorContext(ctx, what, "err", err)
		}
	}()
}

// MeasureGRPC records each call a gRPC app answers, like measure does for
// HTTP: the method as route, the gRPC status as code; and counts it in the
// minute's summary (Summarize) unless it is a health check or the sidecar
// asking for subscriptions and bindings.
func MeasureGRPC(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	took, code := time.Since(start), status.Code(err)
	requestDuration.WithLabelValues(info.FullMethod, "grpc", code.String()).Observe(took.Seconds())
	if !quietGRPC(info.FullMethod) {
		slog.DebugContext(ctx, "request", "method", info.FullMethod, "code", code.String(), "ms", float64(took.Microseconds())/1000)
		count(took, serverFault(code))
	}
	return resp, err
}

// quietGRPC are the calls that are not the app's work.
func quietGRPC(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasSuffix(method, "/HealthCheck") ||
		strings.HasSuffix(method, "/ListTopicSubscriptions") || strings.HasSuffix(method, "/ListInputBindings")
}

// serverFault tells the gRPC codes that mean the app failed (a 5xx) from
// answers about the request.
func serverFault(c codes.Code) bool {
	switch c {
	case codes.Internal, codes.Unknown, codes.Unavailable, codes.DataLoss, codes.DeadlineExceeded:
		return true
	}
	return false
}
