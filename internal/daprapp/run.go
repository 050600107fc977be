package daprapp

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	dapr "github.com/dapr/go-sdk/client"
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
	log := slog.New(slog.NewJSONHandler(stdout, nil)).With("service", service)
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	client, err := NewClient(cfg)
	if err != nil {
		return err
	}
	defer client.Close()
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
		_, _ = w.Write([]byte("ok\n"))
	})
}

// IsETagMismatch recognises the sidecar's answer to a stale ETag.
func IsETagMismatch(err error) bool {
	st, ok := status.FromError(err)
	return err != nil && ok && (st.Code() == codes.Aborted || st.Code() == codes.FailedPrecondition)
}
