package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// BenchmarkStart measures a warm `make run`: services already built, from
// exec to every app and sidecar healthy, then the system's private memory
// after it has idled for a few seconds.
func BenchmarkStart(b *testing.B) {
	f := loadCompose(b)
	apps := filepath.Join(b.TempDir(), "apps")
	// Build once so that the figure is the warm start users see.
	warm, err := runner.Start(context.Background(), runner.Options{Compose: f, DataDir: b.TempDir(), DaprBin: daprBin(), AppBin: apps})
	require.NoError(b, err)
	warm.Stop()
	b.ResetTimer()
	for range b.N {
		data, err := os.MkdirTemp("", "bazaar-bench-")
		require.NoError(b, err)
		start := time.Now()
		sys, err := runner.Start(context.Background(), runner.Options{Compose: f, DataDir: data, DaprBin: daprBin(), AppBin: apps, NoBuild: true})
		require.NoError(b, err)
		b.ReportMetric(harness.Ms(time.Since(start)), "start-to-healthy-ms")
		time.Sleep(5 * time.Second)
		var appDirty, sidecarDirty, pss int64
		for _, a := range sys.Apps {
			d, p, err := harness.Memory(a.AppPID())
			require.NoError(b, err)
			appDirty, pss = appDirty+d, pss+p
			d, p, err = harness.Memory(a.SidecarPID())
			require.NoError(b, err)
			sidecarDirty, pss = sidecarDirty+d, pss+p
		}
		var controlDirty int64
		for _, name := range []string{"sentry", "placement", "scheduler"} {
			d, _, err := harness.Memory(sys.InfraPIDs()[name])
			require.NoError(b, err, name)
			controlDirty += d
		}
		pairs := float64(len(sys.Apps))
		const mb = 1 << 20
		b.ReportMetric(float64(controlDirty)/mb, "control-plane-private-MB")
		b.ReportMetric(float64(appDirty+sidecarDirty+controlDirty)/pairs/mb, "private-MB/pair-with-control-plane")
		b.ReportMetric(float64(appDirty)/pairs/mb, "app-private-MB/pair")
		b.ReportMetric(float64(sidecarDirty)/pairs/mb, "sidecar-private-MB/pair")
		b.ReportMetric(float64(appDirty+sidecarDirty)/pairs/mb, "private-MB/pair")
		b.ReportMetric(float64(pss)/pairs/mb, "pss-MB/pair")
		b.ReportMetric(pairs, "pairs")
		sys.Stop()
		os.RemoveAll(data)
	}
}
