// Package daprapp is what every Bazaar service needs to live behind a Dapr
// sidecar: its configuration from the environment the runner (or Kubernetes)
// gives it, a client for its sidecar, a guard that lets only its own sidecar
// call it, and an HTTP server with timeouts and graceful shutdown.
package daprapp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

// Config is the environment contract between a service and its sidecar.
type Config struct {
	AppID    string // APP_ID
	Port     int    // APP_PORT: where the app listens (loopback)
	DaprGRPC int    // DAPR_GRPC_PORT
	DaprHTTP int    // DAPR_HTTP_PORT
	AppToken string // APP_API_TOKEN: what the sidecar presents to the app
	APIToken string // DAPR_API_TOKEN: what the app presents to the sidecar
	Listen   string // BAZAAR_LISTEN_ADDR, default 127.0.0.1
	// Metrics is where Prometheus scrapes the app (METRICS_PORT, on the
	// listen address); 0 when none runs.
	Metrics int
	// Profiling is where the app serves Go's pprof (PPROF_PORT, on the
	// listen address); 0, the default, serves none.
	Profiling int
}

// ConfigFromEnv reads Config; a missing required variable is an error naming it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		AppID:    getenv("APP_ID"),
		AppToken: getenv("APP_API_TOKEN"),
		APIToken: getenv("DAPR_API_TOKEN"),
		Listen:   getenv("BAZAAR_LISTEN_ADDR"),
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1"
	}
	var errs []error
	for name, dst := range map[string]*int{"APP_PORT": &c.Port, "DAPR_GRPC_PORT": &c.DaprGRPC, "DAPR_HTTP_PORT": &c.DaprHTTP} {
		v := getenv(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("%s=%q is not a port", name, v))
		}
		*dst = n
	}
	for name, dst := range map[string]*int{"METRICS_PORT": &c.Metrics, "PPROF_PORT": &c.Profiling} {
		v := getenv(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("%s=%q is not a port", name, v))
		}
		*dst = n
	}
	if c.AppID == "" {
		errs = append(errs, errors.New("APP_ID is required"))
	}
	if c.AppToken == "" {
		errs = append(errs, errors.New("APP_API_TOKEN is required: without it anything on the machine could call the app"))
	}
	return c, errors.Join(errs...)
}

// NewClient returns a client for the sidecar's gRPC API. It connects lazily,
// so the app can start listening before its sidecar is up (daprd waits for the
// app's port before it opens its own).
func NewClient(c Config) (dapr.Client, error) {
	token := c.APIToken
	conn, err := grpc.NewClient(net.JoinHostPort("127.0.0.1", strconv.Itoa(c.DaprGRPC)),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		telemetry.GRPCClient(),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if token != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "dapr-api-token", token)
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			if token != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "dapr-api-token", token)
			}
			return streamer(ctx, desc, cc, method, opts...)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("dapr client: %w", err)
	}
	return dapr.NewClientWithConnection(conn), nil
}

// RequireAppToken lets a request through only if it carries the app's token
// (header dapr-api-token), compared in constant time. The sidecar adds it to
// invocations, pub/sub deliveries and /dapr/subscribe; health probes do not
// carry it, so the paths in open stay reachable without it.
func RequireAppToken(token string, open ...string) func(http.Handler) http.Handler {
	want := []byte(token)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, p := range open {
				if r.URL.Path == p {
					next.ServeHTTP(w, r)
					return
				}
			}
			got := []byte(r.Header.Get("dapr-api-token"))
			if subtle.ConstantTimeCompare(got, want) != 1 {
				httpapi.Fail(w, r, nil, httpapi.Errorf(http.StatusUnauthorized, "app_token_required", "only this app's Dapr sidecar may call it"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Serve runs h on the configured port until ctx ends, then shuts down
// gracefully.
func Serve(ctx context.Context, c Config, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           telemetry.Handler(h),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	l, err := net.Listen("tcp", net.JoinHostPort(c.Listen, strconv.Itoa(c.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.DebugContext(ctx, "listening", "addr", l.Addr().String(), "app_id", c.AppID)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// WaitForSidecar blocks until the sidecar has loaded its components, so that
// start-up work (seeding, subscriptions) does not race it.
func WaitForSidecar(ctx context.Context, c Config) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz/outbound", c.DaprHTTP)
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Invoker calls other apps through this app's sidecar (Dapr service
// invocation over HTTP), so the callee's status code reaches the caller as it
// is and the sidecars add mTLS, name resolution and resiliency.
type Invoker struct {
	base   string
	token  string
	client *http.Client
}

// NewInvoker returns an Invoker for the sidecar in c.
func NewInvoker(c Config) *Invoker {
	return &Invoker{base: fmt.Sprintf("http://127.0.0.1:%d/v1.0/invoke/", c.DaprHTTP), token: c.APIToken,
		client: &http.Client{Timeout: 10 * time.Second, Transport: telemetry.Transport(&http.Transport{MaxIdleConnsPerHost: 64}),
			// A redirect is the callee's answer for the caller to pass on
			// (post-redirect-get), never something to follow here.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Do sends req (whose URL holds only the method path, e.g. "/products/x") to appID.
func (i *Invoker) Do(ctx context.Context, appID string, req *http.Request) (*http.Response, error) {
	u, err := url.Parse(i.base + appID + "/method/" + strings.TrimPrefix(req.URL.RequestURI(), "/"))
	if err != nil {
		return nil, err
	}
	req = req.Clone(ctx)
	req.URL, req.Host, req.RequestURI = u, u.Host, ""
	if i.token != "" {
		req.Header.Set("dapr-api-token", i.token)
	}
	return i.client.Do(req)
}
