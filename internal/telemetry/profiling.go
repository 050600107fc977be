package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/pprof"
)

// ServeProfiling serves Go's pprof endpoints (/debug/pprof/) on host:port,
// for profiling the app under load (`bazaar run -profiling`, benchmarks
// with BAZAAR_PROFILES). Off unless a port is given: a profile shows what
// the process is doing to anyone who can reach the port, so it is never on
// by default and, like every listener, binds loopback.
func ServeProfiling(ctx context.Context, host string, port int, log *slog.Logger) {
	if port == 0 {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	serveUntil(ctx, host, port, mux, "profiling", log)
}
