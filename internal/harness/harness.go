package harness

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// Options select what a test starts.
type Options struct {
	Profile  string            // "embedded" or "servers"
	Services []string          // from compose.yaml; empty means all
	Extra    []compose.Service // test-only apps (e.g. Probe)
	Env      map[string]string // added to every app's environment
	// Replicas, when above 1, runs that many replicas of every service of
	// compose.yaml but the gateway (test apps stay single).
	Replicas int
	// Tracing starts Jaeger and exports every span to it (System.TracesURL),
	// Metrics starts Prometheus scraping every app and sidecar
	// (System.MetricsURL); both off by default, so that other tests do not
	// pay for them.
	Tracing, Metrics bool
	// DataDir, if set, is the data folder to run on, kept afterwards (a
	// test that starts a second system on the first one's data); by default
	// each system gets a temporary folder, removed when the test ends.
	DataDir string
	// DaprBin, if set, is the folder of the Dapr runtime to run (the
	// upgrade test's older one); by default BAZAAR_DAPR_BIN or bin/.
	DaprBin string
	// AppBin, if set, is a folder of already built apps to run (the
	// upgrade test's older ones); by default BAZAAR_TEST_APP_BIN, or
	// today's, built.
	AppBin string
	// Profiling has every app and sidecar serve pprof (see Profiles); on
	// by itself when BAZAAR_PROFILES names a folder.
	Profiling bool
	// ToolsBin, if set, is the folder Jaeger and Mailpit are found in (by
	// default bin/); with ToolsBuilding, one missing there joins the running
	// system when it appears (runner.Options.ToolsBuilding).
	ToolsBin      string
	ToolsBuilding bool
}

// Probe returns a test app that records the events it receives on topics.
func Probe(name string, topics ...string) compose.Service {
	return compose.Service{Name: name, Project: "internal/harness/probe", Replicas: 1,
		Env: []compose.EnvVar{{Name: "PROBE_TOPICS", Value: strings.Join(topics, ",")}}}
}

// WorkflowProbe returns a test app that stands in for service (whose actor
// state store it uses) and hosts a workflow of no-op activities (see
// internal/harness/probe).
func WorkflowProbe(service string) compose.Service {
	return compose.Service{Name: service, Project: "internal/harness/probe", Replicas: 1,
		Env: []compose.EnvVar{{Name: "PROBE_WORKFLOWS", Value: "1"}}}
}

// SlowFragments returns a test app that stands in for service and answers
// every fragment after delay (and nothing else).
func SlowFragments(service string, delay time.Duration) compose.Service {
	return compose.Service{Name: service, Project: "internal/harness/probe", Replicas: 1,
		Env: []compose.EnvVar{{Name: "PROBE_FRAGMENT_DELAY", Value: delay.String()}}}
}

// Root is the repository's top folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildOnce sync.Once
	appBin    string
	buildErr  error
)

// buildApps compiles every service in compose.yaml and the probe once per
// test binary, into the repository's bin/test-apps: one folder that every
// test binary shares and overwrites (go build replaces each file by a
// rename, so a system still running keeps its binaries), instead of a new
// temporary folder per test binary that nothing would remove.
func buildApps(f *compose.File) (string, error) {
	buildOnce.Do(func() {
		dir := filepath.Join(Root(), "bin", "test-apps")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		appBin = dir
		seen := map[string]bool{}
		args := []string{"build", "-buildvcs=auto", "-o", dir + "/"}
		for _, s := range append(append([]compose.Service{}, f.Services...), Probe("probe")) {
			if s.Project != "" && !seen[s.Project] {
				seen[s.Project] = true
				args = append(args, "./"+s.Project)
			}
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = f.Dir
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	return appBin, buildErr
}

// Start brings the system up for t and stops it when t ends. On failure it
// prints the tail of every process's log.
func Start(t testing.TB, opts Options) *runner.System {
	t.Helper()
	if testing.Short() {
		// `go test -short ./...` is the unit tests alone, for a machine
		// without the Dapr binaries; `make test` runs everything.
		t.Skip("integration test with real sidecars: run without -short")
	}
	root := Root()
	f, err := compose.Load(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// BAZAAR_TEST_APP_BIN runs a folder of built apps instead (the
	// benchmarks of the previous runtime run the apps as they were on it).
	bin, err := cmp.Or(opts.AppBin, os.Getenv("BAZAAR_TEST_APP_BIN")), error(nil)
	if bin == "" {
		bin, err = buildApps(f)
	}
	if err != nil {
		t.Fatal(err)
	}
	names := opts.Services
	if len(names) == 0 {
		for _, s := range f.Services {
			names = append(names, s.Name)
		}
	}
	for _, e := range opts.Extra {
		// An extra app replaces a service of the same name (a probe
		// standing in for the gateway, say).
		f.Services = slices.DeleteFunc(f.Services, func(s compose.Service) bool { return s.Name == e.Name })
		names = slices.DeleteFunc(names, func(n string) bool { return n == e.Name })
		f.Services = append(f.Services, e)
		names = append(names, e.Name)
	}
	// Tests run side by side: every port is picked free, 8080 included.
	for i := range f.Extensions {
		if f.Extensions[i].Name == "dapr" {
			f.Extensions[i].Tracing = compose.Tracing{Enabled: &opts.Tracing}
			f.Extensions[i].Metrics = compose.Metrics{Enabled: &opts.Metrics}
			f.Extensions[i].Mail.SMTPPort, f.Extensions[i].Mail.WebPort = 0, 0
		}
	}
	for i := range f.Services {
		f.Services[i].Bindings = nil
		if opts.Replicas > 1 && f.Services[i].Name != "gateway" && !slices.ContainsFunc(opts.Extra, func(e compose.Service) bool { return e.Name == f.Services[i].Name }) {
			f.Services[i].Replicas = opts.Replicas
		}
	}
	data, keepData := opts.DataDir, opts.DataDir != ""
	if !keepData {
		if data, err = os.MkdirTemp("", "bazaar-test-"); err != nil {
			t.Fatal(err)
		}
	}
	var logs lockedBuffer
	daprBin := cmp.Or(opts.DaprBin, os.Getenv("BAZAAR_DAPR_BIN"), filepath.Join(root, "bin"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := runner.Start(ctx, runner.Options{
		Compose: f, Profile: opts.Profile, Services: names, DataDir: data, DaprBin: daprBin, ToolsBin: cmp.Or(opts.ToolsBin, filepath.Join(root, "bin")), ToolsBuilding: opts.ToolsBuilding,
		AppBin: bin, NoBuild: true, Env: opts.Env, LogLevel: logLevel(), Logs: &logs, Progress: &logs,
		Profiling: opts.Profiling || os.Getenv("BAZAAR_PROFILES") != "",
	})
	cleanup := func() {
		if sys != nil {
			sys.Stop()
		}
		if t.Failed() {
			t.Logf("process output:\n%s", logs.tail(200))
		}
		// BAZAAR_TEST_LOGS=dir keeps every test system's whole output.
		if dir := os.Getenv("BAZAAR_TEST_LOGS"); dir != "" {
			_ = os.MkdirAll(dir, 0o755)
			name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".log"
			// Appended: a test that starts two systems keeps both.
			if f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
				_, _ = f.WriteString(logs.all())
				f.Close()
			}
		}
		if !keepData {
			os.RemoveAll(data)
			os.RemoveAll(runner.PostgresHome(data))
		}
	}
	if err != nil {
		cleanup()
		t.Fatalf("start %v (%s profile): %v\nprocess output:\n%s", names, opts.Profile, err, logs.tail(60))
	}
	t.Cleanup(cleanup)
	outputs.Store(sys, &logs)
	return sys
}

// outputs holds each started system's process output.
var outputs sync.Map

// Output returns everything sys's processes have printed so far.
func Output(sys *runner.System) string {
	if b, ok := outputs.Load(sys); ok {
		return b.(*lockedBuffer).all()
	}
	return ""
}

// Call sends an HTTP request and returns the status, headers and body.
func Call(t testing.TB, method, url string, header http.Header, body string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// Invoke calls method on appID through from's sidecar, as from would.
func Invoke(t testing.TB, from *runner.App, appID, httpMethod, path string, header http.Header, body string) (int, http.Header, []byte) {
	t.Helper()
	h := http.Header{"Dapr-Api-Token": {from.APIToken}}
	for k, v := range header {
		h[k] = v
	}
	return Call(t, httpMethod, fmt.Sprintf("%s/v1.0/invoke/%s/method/%s", from.SidecarURL(), appID, strings.TrimPrefix(path, "/")), h, body)
}

// Poll is how often a test asks again while it waits for something to
// happen: the tick of testify's require.EventuallyWithT at every call site.
const Poll = 50 * time.Millisecond

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) all() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(b.buf.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logLevel is the sidecars' log level in tests: warn, or BAZAAR_TEST_DAPR_LOG_LEVEL.
func logLevel() string {
	if l := os.Getenv("BAZAAR_TEST_DAPR_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}
