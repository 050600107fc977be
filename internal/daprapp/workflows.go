package daprapp

import (
	"context"
	"log/slog"
	"time"
)

// KeepWorkflowWorker starts an app's workflow worker once its sidecar is up,
// and keeps trying until it has started. durabletask's worker reconnects by
// itself once its first connection is made, but gives up for good if that
// first one fails: the sidecar restarting just then (killed, redeployed, or
// still refusing while its gRPC connection backs off) left the app running
// with no worker, and every saga it owned stalled, with nothing in the logs
// but one line at start. So a failed start is retried, from 250 ms up to 5 s
// apart, until ctx ends. It blocks: run it in its own goroutine.
func KeepWorkflowWorker(ctx context.Context, c Config, log *slog.Logger, start func(context.Context) error) {
	keepWorkflowWorker(ctx, func(ctx context.Context) error { return WaitForSidecar(ctx, c) }, log, start,
		250*time.Millisecond, 5*time.Second)
}

func keepWorkflowWorker(ctx context.Context, waitForSidecar func(context.Context) error, log *slog.Logger,
	start func(context.Context) error, first, most time.Duration) {
	for wait := first; ; wait = min(2*wait, most) {
		if err := waitForSidecar(ctx); err != nil {
			return // ctx ended
		}
		err := start(ctx)
		if err == nil {
			log.InfoContext(ctx, "workflow worker started")
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.WarnContext(ctx, "workflow worker did not start; trying again", "in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
