// Command payment is Bazaar's payment service, a gRPC app behind its Dapr
// sidecar (app-protocol grpc). It keeps card numbers to itself: callers get
// a token, and orders are authorized by token. Approval is simulated with the
// well-known test cards: 4000 0000 0000 0002 is declined, other valid cards
// are approved.
package main

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "payment:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := telemetry.NewLogger(os.Stdout, "payment", os.Getenv)
	cfg, err := daprapp.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	flush, err := telemetry.Setup(ctx, "payment", os.Getenv)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = flush(ctx)
	}()
	telemetry.ServeMetrics(ctx, cfg.Listen, cfg.Metrics, log)
	telemetry.ServeProfiling(ctx, cfg.Listen, cfg.Profiling, log)
	telemetry.Summarize(ctx, log, time.Minute)
	client, err := daprapp.NewClient(cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.Listen, strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	server := grpc.NewServer(telemetry.GRPCServer(), grpc.ChainUnaryInterceptor(telemetry.MeasureGRPC, requireAppToken(cfg.AppToken)))
	svc := daprgrpc.NewServiceWithGrpcServer(lis, server)
	p := &payments{store: &cardStore{dapr: client, store: stateStore}, log: log}
	for name, h := range map[string]common.ServiceInvocationHandler{
		contracts.Tokenize:  invocation(log, p.Tokenize),
		contracts.Authorize: invocation(log, p.Authorize),
		contracts.Void:      invocation(log, p.Void),
	} {
		if err := svc.AddServiceInvocationHandler(name, h); err != nil {
			return err
		}
	}
	// The shop's status page asks every service for healthz.
	if err := svc.AddServiceInvocationHandler("healthz", func(context.Context, *common.InvocationEvent) (*common.Content, error) {
		return &common.Content{ContentType: "text/plain", Data: []byte("ok " + daprapp.Version() + "\n")}, nil
	}); err != nil {
		return err
	}
	// The standard gRPC health service, for Kubernetes' grpc probe.
	healthpb.RegisterHealthServer(server, health.NewServer())
	log.DebugContext(ctx, "listening", "addr", lis.Addr().String())
	go func() {
		<-ctx.Done()
		_ = svc.GracefulStop()
	}()
	return svc.Start()
}

// open are the calls the sidecar (or the kubelet's probe) makes without the
// app token; they reveal nothing (health, and the empty lists of
// subscriptions and bindings).
var open = map[string]bool{
	"/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck": true,
	"/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions": true,
	"/dapr.proto.runtime.v1.AppCallback/ListInputBindings":      true,
	"/grpc.health.v1.Health/Check":                              true,
}

// requireAppToken admits only calls that carry the app's token, compared in
// constant time (the SDK's own check is not).
func requireAppToken(token string) grpc.UnaryServerInterceptor {
	want := []byte(token)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if open[info.FullMethod] {
			return next(ctx, req)
		}
		md, _ := metadata.FromIncomingContext(ctx)
		got := md.Get("dapr-api-token")
		if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), want) != 1 {
			return nil, status.Error(codes.Unauthenticated, "only this app's Dapr sidecar may call it")
		}
		return next(ctx, req)
	}
}
