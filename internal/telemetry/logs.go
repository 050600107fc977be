package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// NewLogger is every app's logger: JSON on out, at LOG_LEVEL (debug, info,
// warn or error; info by default), each line inside a span carrying its
// trace id. It becomes slog's default, which the request log uses.
func NewLogger(out io.Writer, service string, getenv func(string) string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(getenv("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(Logs(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level}))).With("service", service)
	slog.SetDefault(log)
	return log
}

// The request log: one line per request at debug, and at info one summary
// a minute of the minute's requests (none when there were none, so an idle
// shop is silent).
var window struct {
	sync.Mutex
	durations []time.Duration // a sample of at most maxSample
	requests  int
	failures  int // 5xx
}

const maxSample = 10_000

func logRequest(r *http.Request, status int, took time.Duration) {
	slog.DebugContext(r.Context(), "request", "method", r.Method, "route", route(r), "status", status, "ms", float64(took.Microseconds())/1000)
	count(took, status >= 500)
}

// count adds a request to the minute's summary.
func count(took time.Duration, failed bool) {
	window.Lock()
	defer window.Unlock()
	window.requests++
	if failed {
		window.failures++
	}
	if len(window.durations) < maxSample {
		window.durations = append(window.durations, took)
	}
}

// Summarize logs, every period until ctx ends, how many requests the app
// answered, how many failed and how long the slowest 1% took.
func Summarize(ctx context.Context, log *slog.Logger, period time.Duration) {
	go func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			window.Lock()
			n, failed, d := window.requests, window.failures, window.durations
			window.requests, window.failures, window.durations = 0, 0, nil
			window.Unlock()
			if n == 0 {
				continue
			}
			slices.Sort(d)
			p99 := d[min(len(d)-1, len(d)*99/100)]
			log.InfoContext(ctx, "requests", "last", period.String(), "count", n, "failed", failed, "p99_ms", float64(p99.Microseconds())/1000)
		}
	}()
}

// quiet are the requests that are not the shop's work: health probes, and
// the sidecar asking for subscriptions and configuration.
func quiet(r *http.Request) bool {
	return r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/dapr/")
}
