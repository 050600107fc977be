package telemetry

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
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
// shop is silent). Every request counts itself in window without a lock (it
// is on every request's path, on every core): atomic counters and a
// histogram of durations whose buckets grow by 2^(1/8), about 9 %, which is
// how close the summary's p99 is.
var window struct {
	requests, failures atomic.Int64 // failures: 5xx
	buckets            [durationBuckets]atomic.Int64
}

// durationBuckets cover 1 µs to about 2^27 µs (2 min); longer lands in the last.
const durationBuckets = 27 * 8

// bucketOf is the histogram bucket of d: the smallest i with d ≤ bound(i).
func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return min(durationBuckets-1, int(math.Ceil(8*math.Log2(us))))
}

// bound is the longest duration bucket i holds.
func bound(i int) time.Duration {
	return time.Duration(math.Exp2(float64(i)/8) * float64(time.Microsecond))
}

func logRequest(r *http.Request, status int, took time.Duration) {
	slog.DebugContext(r.Context(), "request", "method", r.Method, "route", route(r), "status", status, "ms", float64(took.Microseconds())/1000)
	count(took, status >= 500)
}

// count adds a request to the minute's summary.
func count(took time.Duration, failed bool) {
	window.requests.Add(1)
	if failed {
		window.failures.Add(1)
	}
	window.buckets[bucketOf(took)].Add(1)
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
			// Taken bucket by bucket while requests go on: a request may land
			// in this summary's count and the next one's histogram; no request
			// is lost or counted twice.
			n, failed := window.requests.Swap(0), window.failures.Swap(0)
			var histogram [durationBuckets]int64
			total := int64(0)
			for i := range window.buckets {
				histogram[i] = window.buckets[i].Swap(0)
				total += histogram[i]
			}
			if n == 0 {
				continue
			}
			log.InfoContext(ctx, "requests", "last", period.String(), "count", n, "failed", failed, "p99_ms", float64(p99(histogram[:], total).Microseconds())/1000)
		}
	}()
}

// p99 is the bound of the bucket that holds the 99th percentile of total
// durations counted in histogram.
func p99(histogram []int64, total int64) time.Duration {
	rank, seen := total-total/100, int64(0) // the ceil(0.99·total)-th
	for i, n := range histogram {
		if seen += n; seen >= rank && n > 0 {
			return bound(i)
		}
	}
	return 0
}

// quiet are the requests that are not the shop's work: health probes, and
// the sidecar asking for subscriptions and configuration.
func quiet(r *http.Request) bool {
	return r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/dapr/")
}
