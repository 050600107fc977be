package daprapp

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/telemetry"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Deps is what every service gets at start.
type Deps struct {
	Config Config
	Client dapr.Client
	Log    *slog.Logger
}

// Run is the whole life of a service: read the configuration, connect to
// the sidecar, build the handler and serve it until SIGINT or SIGTERM.
func Run(ctx context.Context, service string, getenv func(string) string, stdout io.Writer,
	build func(ctx context.Context, d Deps) (http.Handler, error)) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := telemetry.NewLogger(stdout, service, getenv)
	telemetry.Summarize(ctx, log, time.Minute)
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	flush, err := telemetry.Setup(ctx, service, getenv)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = flush(ctx)
	}()
	client, err := NewClient(cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	telemetry.ServeMetrics(ctx, cfg.Listen, cfg.Metrics, log)
	telemetry.ServeProfiling(ctx, cfg.Listen, cfg.Profiling, log)
	h, err := build(ctx, Deps{Config: cfg, Client: client, Log: log})
	if err != nil {
		return err
	}
	return Serve(ctx, cfg, h, log)
}

// Healthz answers the runner's and the sidecar's health probes.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok " + Version() + "\n"))
	})
}

// IsETagMismatch recognises the sidecar's answer to a stale ETag.
func IsETagMismatch(err error) bool {
	st, ok := status.FromError(err)
	return err != nil && ok && (st.Code() == codes.Aborted || st.Code() == codes.FailedPrecondition)
}

// Version is the build's version: the commit it was built from (with
// "+dirty" for uncommitted changes), or "dev".
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}
