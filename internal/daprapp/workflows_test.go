package daprapp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sidecarUp(context.Context) error { return nil }

// A worker whose first starts fail (the sidecar restarting) is started
// once the sidecar answers again, not abandoned.
func TestWorkflowWorkerIsStartedAfterFailedTries(t *testing.T) {
	var logs bytes.Buffer
	tries := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		keepWorkflowWorker(t.Context(), sidecarUp, slog.New(slog.NewTextHandler(&logs, nil)), func(context.Context) error {
			tries++
			if tries < 3 {
				return errors.New("connection refused")
			}
			return nil
		}, time.Millisecond, 4*time.Millisecond)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker was never started")
	}
	assert.Equal(t, 3, tries)
	assert.Contains(t, logs.String(), "trying again")
	assert.Contains(t, logs.String(), "workflow worker started")
}

// It stops trying when the app stops.
func TestWorkflowWorkerStopsTryingWithTheApp(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	tries := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		keepWorkflowWorker(ctx, sidecarUp, slog.New(slog.DiscardHandler), func(context.Context) error {
			tries++
			if tries == 2 {
				cancel()
			}
			return errors.New("connection refused")
		}, time.Millisecond, time.Millisecond)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("still trying after the app stopped")
	}
	require.Equal(t, 2, tries)
}
