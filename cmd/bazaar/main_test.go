package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

func daprBin() string {
	if b := os.Getenv("BAZAAR_DAPR_BIN"); b != "" {
		return b
	}
	return filepath.Join(harness.Root(), "bin")
}

// TestRunStopsEverything starts the real command as `make run` does, waits
// for it to report every service healthy, stops it with SIGTERM and checks
// that no process it started survives.
func TestRunStopsEverything(t *testing.T) {
	skipShort(t)
	root := harness.Root()
	exe := filepath.Join(t.TempDir(), "bazaar")
	build := exec.Command("go", "build", "-o", exe, "./cmd/bazaar")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	data := t.TempDir()
	cmd := exec.Command(exe, "run", "-f", filepath.Join(root, "compose.yaml"), "-data", data, "-dapr-bin", daprBin())
	cmd.Dir = root
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()

	// Everything it prints, progress (stderr) and logs (stdout), in order.
	var mu sync.Mutex
	var printed []string
	tableAt := -1 // index of the status table's header
	healthy := make(chan bool, 1)
	for _, pipe := range []io.Reader{stderr, stdout} {
		go func() {
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				mu.Lock()
				printed = append(printed, sc.Text())
				if strings.HasPrefix(sc.Text(), "SERVICE ") && tableAt < 0 {
					tableAt = len(printed) - 1
				}
				mu.Unlock()
				if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
					healthy <- true
				}
			}
		}()
	}
	seen := func(from int) string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(printed[min(from, len(printed)):], "\n")
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-healthy:
	case err := <-exited:
		t.Fatalf("bazaar run ended (%v) before it was healthy:\n%s", err, seen(0))
	case <-time.After(2 * time.Minute):
		t.Fatalf("not healthy within 2 minutes:\n%s", seen(0))
	}
	mu.Lock()
	before, idleFrom := tableAt, len(printed)
	mu.Unlock()
	t.Logf("%d lines from the start to the status table", before)
	assert.Less(t, before, 40, "the start is quiet:\n%s", seen(0))
	assert.Contains(t, seen(0), "Traces: http://127.0.0.1:16686", "it says where the traces are")
	// Idle for a minute: nothing at all is printed (sidecars, Jaeger and
	// Prometheus included).
	time.Sleep(time.Minute)
	assert.Empty(t, seen(idleFrom), "printed while idle")

	st, err := runner.ReadState(data)
	require.NoError(t, err)
	var pids []int
	for _, a := range st.Apps {
		pids = append(pids, a.AppPID, a.SidecarPID)
	}
	pids = append(pids, childrenOf(cmd.Process.Pid)...)
	require.NotEmpty(t, pids)
	for _, pid := range pids {
		require.True(t, alive(pid), "pid %d should run", pid)
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		assert.NoError(t, err, "bazaar run should exit cleanly on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("bazaar run did not stop within 30s of SIGTERM")
	}
	for _, pid := range pids {
		assert.False(t, alive(pid), "pid %d survived the runner", pid)
	}
	_, err = runner.ReadState(data)
	assert.ErrorIs(t, err, runner.ErrNotRunning)
}

// childrenOf lists the direct children of pid (placement, sentry, apps, sidecars).
func childrenOf(pid int) []int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "children"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		var n int
		if _, err := fmt.Sscan(f, &n); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func alive(pid int) bool {
	// A zombie is dead for our purposes: read its state.
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}

// TestCrashedAppIsRestarted kills a service's process and expects the runner
// to report it and bring it back healthy.
func TestCrashedAppIsRestarted(t *testing.T) {
	sys := harness.Start(t, harness.Options{Profile: "embedded", Services: []string{"catalog"}})
	c := sys.App("catalog")
	before := c.AppPID()
	require.NoError(t, c.KillApp())
	require.EventuallyWithT(t, func(collect *assert.CollectT) {
		require.True(collect, c.Restarts() >= 1 && c.AppPID() != before, "not restarted yet")
		resp, err := http.Get(c.AppURL() + "/healthz")
		require.NoError(collect, err)
		resp.Body.Close()
		assert.Equal(collect, http.StatusOK, resp.StatusCode, "restarted but not healthy")
	}, 20*time.Second, harness.Poll)
}

func TestStartErrors(t *testing.T) {
	f := loadCompose(t)

	t.Run("missing dapr binaries", func(t *testing.T) {
		_, err := runner.Start(context.Background(), runner.Options{Compose: f, DataDir: t.TempDir(), DaprBin: t.TempDir()})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no Dapr binary at")
		assert.Contains(t, err.Error(), "make dapr")
	})
	t.Run("port in use", func(t *testing.T) {
		skipShort(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		g := loadCompose(t)
		g.Services[0].Bindings = []compose.Binding{{Port: l.Addr().(*net.TCPAddr).Port}}
		_, err = runner.Start(context.Background(), runner.Options{Compose: g, Services: []string{"catalog"},
			DataDir: t.TempDir(), DaprBin: daprBin()})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is already in use")
		assert.Contains(t, err.Error(), "service catalog (")
	})
	t.Run("never healthy", func(t *testing.T) {
		skipShort(t)
		g := loadCompose(t)
		g.Services[0].Health = "/no-such-health-path"
		_, err := runner.Start(context.Background(), runner.Options{Compose: g, Services: []string{"catalog"},
			DataDir: t.TempDir(), DaprBin: daprBin(), ReadyTimeout: 3 * time.Second})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "catalog did not become healthy within 3s")
	})
}

// skipShort skips a test that runs the Dapr binaries: `go test -short`
// promises to need none (harness.Start skips the same way).
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the Dapr binaries: run without -short")
	}
}

// loadCompose is the repository's compose.yaml without Jaeger and
// Prometheus (TestRunStopsEverything runs them).
func loadCompose(t testing.TB) *compose.File {
	f, err := compose.Load(filepath.Join(harness.Root(), "compose.yaml"))
	require.NoError(t, err)
	off := false
	for i := range f.Extensions {
		f.Extensions[i].Tracing.Enabled, f.Extensions[i].Metrics.Enabled = &off, &off
		f.Extensions[i].Mail.SMTPPort, f.Extensions[i].Mail.WebPort = 0, 0
	}
	return f
}

func TestStatusWithoutRunner(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"status", "-data", t.TempDir()}, func(string) string { return "" }, &out, &out)
	assert.ErrorIs(t, err, runner.ErrNotRunning)
}

// TestExport checks the run file `bazaar export` writes: private, with the
// apps' binaries as commands and the infrastructure's usual addresses
// (TestDaprCLIRun runs the one `bazaar run -infra-only` writes).
func TestExport(t *testing.T) {
	root := harness.Root()
	data := t.TempDir()
	dst := filepath.Join(data, "dapr.yaml")
	var out strings.Builder
	err := run(context.Background(), []string{"export", "-f", filepath.Join(root, "compose.yaml"), "-data", data, "-o", dst, "-profile", "servers"},
		func(string) string { return "" }, &out, &out)
	require.NoError(t, err, out.String())
	info, err := os.Stat(dst)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "it holds the apps' tokens")
	b, err := os.ReadFile(dst)
	require.NoError(t, err)
	var doc struct {
		Version int `yaml:"version"`
		Common  struct {
			RuntimePath string `yaml:"runtimePath"`
			Placement   string `yaml:"placementHostAddress"`
		} `yaml:"common"`
		Apps []struct {
			AppID   string            `yaml:"appID"`
			AppPort int               `yaml:"appPort"`
			Command []string          `yaml:"command"`
			Env     map[string]string `yaml:"env"`
		} `yaml:"apps"`
	}
	require.NoError(t, yaml.Unmarshal(b, &doc), "%s", b)
	assert.Equal(t, 1, doc.Version)
	assert.Equal(t, "127.0.0.1:50005", doc.Common.Placement)
	assert.FileExists(t, filepath.Join(doc.Common.RuntimePath, ".dapr", "bin", "daprd"), "the sidecars' launcher")
	require.Len(t, doc.Apps, 8)
	assert.Equal(t, "catalog", doc.Apps[0].AppID)
	assert.Equal(t, []string{filepath.Join(data, "apps", "catalog")}, doc.Apps[0].Command)
	assert.FileExists(t, doc.Apps[0].Command[0])
	assert.NotEmpty(t, doc.Apps[0].Env["APP_API_TOKEN"])
	assert.NotContains(t, out.String(), doc.Apps[0].Env["APP_API_TOKEN"])
	assert.Equal(t, 8080, doc.Apps[7].AppPort, "the gateway keeps its port")
}
