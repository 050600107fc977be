package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// TestDaprCLIRun runs the shop the way a Dapr user would, in two terminals:
// `bazaar run -infra-only`, then the real Dapr CLI's `dapr run -f` on the
// run file it wrote. A checkout through the gateway is paid, `dapr list`
// shows every app, and once the CLI and the runner are stopped no process
// and no port of theirs is left. Every port is picked free, so it runs
// beside `make run`.
func TestDaprCLIRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole system with the Dapr CLI: run without -short")
	}
	root := harness.Root()
	cli := daprCLI(t)
	exe := buildBazaar(t)
	data := t.TempDir()

	// Terminal 1: the infrastructure.
	var infraOut syncBuffer
	infra := exec.Command(exe, "run", "-infra-only", "-free-ports", "-f", filepath.Join(root, "compose.yaml"),
		"-data", data, "-dapr-bin", daprBin(), "-tools-bin", filepath.Join(root, "bin"))
	infra.Dir = root
	infra.Stdout, infra.Stderr = &infraOut, &infraOut
	require.NoError(t, infra.Start())
	infraDone := waiter(infra)
	defer func() { _ = infra.Process.Kill() }()
	waitPrinted(t, &infraOut, infraDone, "Start them in another terminal", 3*time.Minute)
	runFile := runner.RunFilePath(data)
	assert.Contains(t, infraOut.String(), "run -f "+runFile, "it prints the command that starts the apps")
	info, err := os.Stat(runFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the run file holds tokens")
	plan := readRunFile(t, runFile)
	for _, a := range plan.Apps {
		for _, k := range []string{"APP_API_TOKEN", "DAPR_API_TOKEN"} {
			require.NotEmpty(t, a.Env[k], "%s of %s", k, a.AppID)
			assert.NotContains(t, infraOut.String(), a.Env[k], "%s of %s was printed", k, a.AppID)
		}
	}
	infraPIDs := childProcesses(infra.Process.Pid)
	require.NotEmpty(t, infraPIDs)

	// Terminal 2: the apps and their sidecars, by the Dapr CLI.
	var appsOut syncBuffer
	apps := exec.Command(cli, "run", "-f", runFile)
	apps.Dir = root
	apps.Stdout, apps.Stderr = &appsOut, &appsOut
	// A shell with job control runs it in a process group of its own.
	apps.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, apps.Start())
	appsDone := waiter(apps)
	defer func() { _ = syscall.Kill(-apps.Process.Pid, syscall.SIGKILL) }()
	defer func() {
		if t.Failed() {
			t.Logf("bazaar run -infra-only:\n%s\ndapr run -f:\n%s", tail(infraOut.String(), 60), tail(appsOut.String(), 120))
		}
	}()
	st, err := runner.ReadState(data)
	require.NoError(t, err)
	require.Len(t, st.Apps, len(plan.Apps))
	gateway := ""
	for _, a := range st.Apps {
		if a.AppID == "gateway" {
			gateway = fmt.Sprintf("http://127.0.0.1:%d", a.AppPort)
		}
	}
	require.NotEmpty(t, gateway)
	require.NotEqual(t, "http://127.0.0.1:8080", gateway, "-free-ports keeps 8080 for `make run`")
	deadline := time.Now().Add(3 * time.Minute)
	for _, a := range st.Apps {
		probe := fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", a.HTTPPort)
		for !answers(probe, http.StatusNoContent) {
			select {
			case <-appsDone:
				t.Fatalf("dapr run -f exited before %s's sidecar was healthy", a.AppID)
			default:
			}
			require.True(t, time.Now().Before(deadline), "%s's sidecar not healthy within 3 minutes", a.AppID)
			time.Sleep(200 * time.Millisecond)
		}
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.True(c, answers(gateway+"/healthz", http.StatusOK), "the gateway does not answer at %s", gateway)
	}, time.Minute, harness.Poll)

	// `dapr list` shows every app of compose.yaml.
	f, err := compose.Load(filepath.Join(root, "compose.yaml"))
	require.NoError(t, err)
	var want []string
	for _, s := range f.Services {
		want = append(want, s.AppID())
	}
	out, err := exec.Command(cli, "list", "-o", "json").Output()
	require.NoError(t, err)
	var listed []struct {
		AppID    string `json:"appId"`
		HTTPPort int    `json:"httpPort"`
	}
	require.NoError(t, json.Unmarshal(out, &listed), "%s", out)
	var got []string
	for _, l := range listed {
		for _, a := range st.Apps {
			if a.HTTPPort == l.HTTPPort { // not another shop's
				got = append(got, l.AppID)
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	assert.Equal(t, want, got, "dapr list:\n%s", out)

	checkoutThroughGateway(t, gateway)

	// Stop the apps as their terminal's Ctrl-C does, then the runner.
	pids := childProcesses(apps.Process.Pid)
	require.Len(t, pids, 2*len(plan.Apps), "a daprd and an app per entry of the run file")
	require.NoError(t, syscall.Kill(-apps.Process.Pid, syscall.SIGINT))
	select {
	case <-appsDone:
	case <-time.After(30 * time.Second):
		t.Fatal("dapr run -f did not stop within 30 s of SIGINT")
	}
	require.NoError(t, infra.Process.Signal(syscall.SIGINT))
	select {
	case err := <-infraDone:
		assert.NoError(t, err, "bazaar run -infra-only should exit cleanly on SIGINT")
	case <-time.After(30 * time.Second):
		t.Fatal("bazaar run -infra-only did not stop within 30 s of SIGINT")
	}
	for _, pid := range append(pids, infraPIDs...) {
		assert.False(t, alive(pid), "pid %d survived", pid)
	}
	var ports []int
	for _, a := range plan.Apps {
		ports = append(ports, a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.DaprInternalGRPCPort, a.MetricsPort)
	}
	for _, p := range ports {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			require.NoError(c, err)
			assert.NoError(c, l.Close())
		}, 5*time.Second, harness.Poll)
	}
	_, err = runner.ReadState(data)
	assert.ErrorIs(t, err, runner.ErrNotRunning)
}

// checkoutThroughGateway registers a customer, puts a headlamp in the
// basket and checks out with a card that approves, all through the
// gateway's public API, and waits for the order to be paid.
func checkoutThroughGateway(t *testing.T, gateway string) {
	origin := http.Header{"Origin": {gateway}}
	email, password := "cli@example.test", "a long password 123"
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := harness.Call(t, http.MethodPost, gateway+"/api/identity/register", origin,
			fmt.Sprintf(`{"email":%q,"password":%q,"name":"Cli"}`, email, password))
		assert.Contains(c, []int{http.StatusCreated, http.StatusConflict}, status, "register: %s", body)
	}, 30*time.Second, harness.Poll)
	var token string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := harness.Call(t, http.MethodPost, gateway+"/api/identity/login", origin,
			fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
		require.Equal(c, http.StatusOK, status, "login: %s", body)
		var out struct{ Token string }
		require.NoError(c, json.Unmarshal(body, &out))
		token = out.Token
	}, 30*time.Second, harness.Poll)
	auth := http.Header{"Origin": {gateway}, "Authorization": {"Bearer " + token}}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := harness.Call(t, http.MethodPut, gateway+"/api/basket/items/headlamp", auth, `{"quantity":1}`)
		assert.Equal(c, http.StatusOK, status, "add to basket: %s", body)
	}, 30*time.Second, harness.Poll)
	checkout := http.Header{"Idempotency-Key": {"cli-order-1"}}
	for k, v := range auth {
		checkout[k] = v
	}
	status, _, body := harness.Call(t, http.MethodPost, gateway+"/api/basket/checkout", checkout,
		`{"shippingAddress":{"name":"Cli","street":"1 Main St","city":"Lyon","postalCode":"69001","country":"FR"},"card":{"number":"4242424242424242","expiry":"12/30","cvc":"123"}}`)
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	var placed struct{ OrderID string }
	require.NoError(t, json.Unmarshal(body, &placed))
	// compose.yaml's grace period (10 s) comes first.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, _, body := harness.Call(t, http.MethodGet, gateway+"/api/ordering/orders/"+placed.OrderID, auth, "")
		assert.Contains(c, string(body), `"status":"paid"`)
	}, time.Minute, harness.Poll)
}

// cliRunFile is what the test reads of the run file.
type cliRunFile struct {
	Apps []struct {
		AppID                string            `yaml:"appID"`
		AppPort              int               `yaml:"appPort"`
		DaprHTTPPort         int               `yaml:"daprHTTPPort"`
		DaprGRPCPort         int               `yaml:"daprGRPCPort"`
		DaprInternalGRPCPort int               `yaml:"daprInternalGRPCPort"`
		MetricsPort          int               `yaml:"metricsPort"`
		Command              []string          `yaml:"command"`
		Env                  map[string]string `yaml:"env"`
	} `yaml:"apps"`
}

func readRunFile(t *testing.T, path string) cliRunFile {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var f cliRunFile
	require.NoError(t, yaml.Unmarshal(b, &f))
	require.NotEmpty(t, f.Apps)
	return f
}

// daprCLI is bin/dapr, built from tools/daprcli when it is missing (as
// `make tools` builds it).
func daprCLI(t *testing.T) string {
	bin := filepath.Join(harness.Root(), "bin", "dapr")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "build", "-o", bin, "github.com/dapr/cli")
	cmd.Dir = filepath.Join(harness.Root(), "tools", "daprcli")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build the Dapr CLI: %s", out)
	return bin
}

func buildBazaar(t *testing.T) string {
	exe := filepath.Join(t.TempDir(), "bazaar")
	build := exec.Command("go", "build", "-o", exe, "./cmd/bazaar")
	build.Dir = harness.Root()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return exe
}

// waiter reports cmd's exit.
func waiter(cmd *exec.Cmd) <-chan error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done
}

// waitPrinted waits until out holds text, failing if the process ends first.
func waitPrinted(t *testing.T, out *syncBuffer, done <-chan error, text string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for !strings.Contains(out.String(), text) {
		select {
		case err := <-done:
			t.Fatalf("exited (%v) before printing %q:\n%s", err, text, out.String())
		case <-deadline:
			t.Fatalf("did not print %q within %s:\n%s", text, within, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// childProcesses lists the children of pid, whichever of its threads
// started them (/proc's task/<tid>/children lists one thread's only).
func childProcesses(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(strings.SplitN(string(b), " ", 2)[0])
			out = append(out, n)
		}
	}
	return out
}

func answers(url string, status int) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == status
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
