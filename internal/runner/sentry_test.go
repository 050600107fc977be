package runner

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSentryDoesNotReloadForever starts the real sentry on a first run, as
// the runner does: once the CA exists it must stop reloading it.
func TestSentryDoesNotReloadForever(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Dapr's sentry: run without -short")
	}
	_, file, _, _ := runtime.Caller(0)
	bin := os.Getenv("BAZAAR_DAPR_BIN")
	if bin == "" {
		bin = filepath.Join(filepath.Dir(file), "..", "..", "bin")
	}
	dir := t.TempDir()
	pki, cfg := filepath.Join(dir, "pki"), filepath.Join(dir, "sentry.yaml")
	require.NoError(t, os.MkdirAll(pki, 0o700))
	require.NoError(t, os.WriteFile(cfg, []byte(sentryConfig), 0o600))
	ports := newPortPool()
	port, err := ports.free()
	require.NoError(t, err)
	health, err := ports.free()
	require.NoError(t, err)
	var out bytes.Buffer
	command := func() *exec.Cmd {
		c := exec.Command(filepath.Join(bin, "sentry"), "--config", cfg, "--issuer-credentials", pki,
			"--trust-domain", "localhost", "--port", strconv.Itoa(port), "--listen-address", "127.0.0.1",
			"--healthz-port", strconv.Itoa(health), "--enable-metrics=false", "--log-level", "info")
		c.Stdout, c.Stderr = &out, &out
		return c
	}
	require.NoError(t, bootstrapCA(context.Background(), pki, command))
	out.Reset()
	cmd := command()
	require.NoError(t, cmd.Start())
	time.Sleep(7 * time.Second)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	assert.Contains(t, out.String(), "Root and issuer certs found", "sentry ran on the CA made first")
	assert.Zero(t, strings.Count(out.String(), "Issuer credentials changed"), "sentry keeps reloading:\n%s", out.String())
}
