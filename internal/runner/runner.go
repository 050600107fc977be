// Package runner starts Bazaar on one machine the way `dapr run -f` would: the
// servers a component profile needs, the Dapr control plane (sentry for mTLS,
// placement for actors, scheduler for workflow and actor reminders), and
// every service from compose.yaml
// with its own daprd sidecar, on loopback and on free ports. `make run` and
// the integration test harness both use it, so tests run what users run.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// Options say what to start and where.
type Options struct {
	Compose  *compose.File
	Profile  string   // component profile; empty means the file's default
	Services []string // services to start; empty means all
	DataDir  string   // state, certificates, rendered components
	DaprBin  string   // folder holding daprd, placement, sentry and scheduler
	ToolsBin string   // folder holding the tools built from tools/ (jaeger); empty: DaprBin
	AppBin   string   // where service binaries are built
	NoBuild  bool     // AppBin already holds current binaries
	Env      map[string]string
	LogLevel string    // daprd log level; empty means the file's
	Logs     io.Writer // interleaved process output; nil discards it
	Progress io.Writer // start-up progress and crash reports; nil discards it
	Color    bool
	// Verbose shows every line on Logs; otherwise the known start-up noise
	// goes only to the files in the data folder's logs/.
	Verbose bool
	// ReadyTimeout bounds the wait for every service to become healthy.
	ReadyTimeout time.Duration
	// InfraOnly starts everything but the apps and their sidecars, and
	// writes a run file for the Dapr CLI to start those (cli.go).
	InfraOnly bool
	// Profiling has every app and sidecar serve Go's pprof on a loopback
	// port of its own (App.AppProfileURL, App.SidecarProfileURL).
	Profiling bool
	// ToolsBuilding says the tools (Jaeger, Mailpit) are being built beside
	// this run (make run on a fresh machine): the shop starts without a
	// missing one, which joins once its build ends. Meanwhile spans are
	// dropped and e-mails wait (notification retries until it can send).
	ToolsBuilding bool
}

// System is a running set of services and their infrastructure.
type System struct {
	Profile       string
	DataDir       string
	Apps          []*App
	PlacementAddr string
	SchedulerAddr string
	SentryAddr    string
	NATSURL       string
	NATSToken     string
	RedisAddr     string
	RedisPassword string
	PostgresConn  string
	// TracesURL is Jaeger's query API and page (empty with tracing off);
	// OTLPAddr is where sidecars and apps send their spans (OTLP/HTTP).
	TracesURL string
	OTLPAddr  string
	// MetricsURL is Prometheus' API and page (empty when none runs).
	MetricsURL string
	// MailURL is Mailpit's API (empty when mail goes to another server);
	// SMTPAddr is where the sidecars send e-mail.
	MailURL, SMTPAddr string
	// RunFile is the Dapr CLI's run file (InfraOnly): the CLI, not the
	// runner, starts the apps and their sidecars.
	RunFile string

	opts     Options
	mux      *logMux
	progress io.Writer
	ports    *portPool
	infraMu  sync.Mutex
	infra    []*process    // started in order, stopped in reverse
	stopped  chan struct{} // closed by Stop: tools that join late give up
	nats     *natsserver.Server
	anchors  string
	names    *nameTable // where sidecars find each other
	stopOnce sync.Once
}

// App is one replica of a service with its sidecar.
type App struct {
	Service          string
	AppID            string
	Replica          int
	Protocol         string
	AppPort          int
	HTTPPort         int
	GRPCPort         int
	InternalGRPCPort int
	MetricsPort      int // the sidecar's
	// AppMetricsPort is where the app serves its own metrics (loopback).
	AppMetricsPort int
	// AppProfilePort and ProfilePort serve pprof for the app and its
	// sidecar (loopback), with Options.Profiling only; 0 otherwise.
	AppProfilePort, ProfilePort int
	// AppToken is what the sidecar presents to the app (APP_API_TOKEN);
	// APIToken is what the app presents to the sidecar (DAPR_API_TOKEN).
	AppToken string
	APIToken string

	health string
	app    *process
	dapr   *process
}

// InternalAddr is where other sidecars reach this one (its address in name
// resolution).
func (a *App) InternalAddr() string { return fmt.Sprintf("127.0.0.1:%d", a.InternalGRPCPort) }

// SidecarURL is the base URL of the app's sidecar HTTP API.
func (a *App) SidecarURL() string { return fmt.Sprintf("http://127.0.0.1:%d", a.HTTPPort) }

// AppURL is the base URL of the app itself.
func (a *App) AppURL() string { return fmt.Sprintf("http://127.0.0.1:%d", a.AppPort) }

// AppProfileURL and SidecarProfileURL are where the app and its sidecar
// serve pprof (/debug/pprof/...), with Options.Profiling; empty otherwise.
func (a *App) AppProfileURL() string     { return profileURL(a.AppProfilePort) }
func (a *App) SidecarProfileURL() string { return profileURL(a.ProfilePort) }

func profileURL(port int) string {
	if port == 0 {
		return ""
	}
	return fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", port)
}

// Name is the service name, with the replica number when there are several.
func (a *App) Name() string {
	if a.Replica == 0 {
		return a.Service
	}
	return fmt.Sprintf("%s-%d", a.Service, a.Replica)
}

// AppPID and SidecarPID are the current process ids (they change on restart).
func (a *App) AppPID() int     { return a.app.pid() }
func (a *App) SidecarPID() int { return a.dapr.pid() }

// Restarts counts how often the app was restarted after a crash.
func (a *App) Restarts() int { return a.app.restartCount() }

// KillApp ends the app process as a crash would; the runner restarts it.
func (a *App) KillApp() error { return a.app.kill() }

// KillAppFor ends the app process and keeps it down for d, as an outage of
// the service would; then the runner starts it again.
func (a *App) KillAppFor(d time.Duration) error { return a.app.killFor(d) }

// KillSidecar ends the sidecar (daprd) as a crash would; the runner restarts it.
func (a *App) KillSidecar() error { return a.dapr.kill() }

// SidecarRestarts counts how often the sidecar was restarted after a crash.
func (a *App) SidecarRestarts() int { return a.dapr.restartCount() }

// StopApp stops the app process for good (its sidecar keeps running), as
// an outage of the service would.
func (a *App) StopApp() { a.app.stop(5 * time.Second) }

// Start brings the system up and returns once every service is healthy. On
// error, everything it had started is stopped again.
func Start(ctx context.Context, opts Options) (*System, error) {
	if opts.Compose == nil {
		return nil, errors.New("runner: no compose file")
	}
	profile, prof, err := opts.Compose.Profile(opts.Profile)
	if err != nil {
		return nil, err
	}
	services, err := selectServices(opts.Compose, opts.Services)
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	if opts.Logs == nil {
		opts.Logs = io.Discard
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.AppBin == "" {
		opts.AppBin = filepath.Join(opts.DataDir, "apps")
	}
	if err := privateDataDir(opts.DataDir); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	for _, dir := range []string{opts.AppBin, filepath.Join(opts.DataDir, "state")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	if err := checkDaprBinaries(opts.DaprBin); err != nil {
		return nil, err
	}
	version, err := daprVersion(opts.DaprBin)
	if err != nil {
		return nil, err
	}
	if err := checkDataVersion(opts.DataDir, version); err != nil {
		return nil, err
	}
	s := &System{
		Profile: profile, DataDir: opts.DataDir, opts: opts,
		mux: newLogMux(opts.Logs, opts.Color, opts.Verbose, filepath.Join(opts.DataDir, "logs")), progress: opts.Progress, ports: newPortPool(),
		stopped: make(chan struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()

	if !opts.NoBuild {
		if err := s.build(ctx, services); err != nil {
			return nil, err
		}
	}
	if err := s.startServers(ctx, prof.Requires); err != nil {
		return nil, err
	}
	if err := s.startTracing(ctx); err != nil {
		return nil, err
	}
	if err := s.reserveMetrics(); err != nil {
		return nil, err
	}
	if err := s.startMail(ctx); err != nil {
		return nil, err
	}
	if err := s.startControlPlane(ctx); err != nil {
		return nil, err
	}
	resources, config, err := s.renderResources(prof)
	if err != nil {
		return nil, err
	}
	// No sidecar of an earlier run is alive: callers must not pick their
	// addresses, which name resolution keeps listed for a while.
	if s.names, err = openNameTable(config); err != nil {
		return nil, err
	}
	if err := s.names.clear(); err != nil {
		return nil, err
	}
	if opts.InfraOnly {
		if err := s.startForCLI(ctx, services, resources, config); err != nil {
			return nil, err
		}
		ok = true
		return s, nil
	}
	for _, svc := range services {
		for r := range svc.Replicas {
			replica := 0
			if svc.Replicas > 1 {
				replica = r + 1
			}
			a, err := s.startApp(svc, replica, resources, config)
			if err != nil {
				return nil, err
			}
			s.Apps = append(s.Apps, a)
			// One sidecar at a time through its start-up: sidecars set up
			// name resolution in one shared SQLite file, and daprd 1.14 only
			// logs a failed set-up (say, the file was locked by a sibling)
			// and then runs on without it, unable to call anyone.
			if err := s.waitComponents(ctx, a); err != nil {
				return nil, err
			}
		}
	}
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	if err := s.startMetrics(ctx); err != nil {
		return nil, err
	}
	if err := s.writeState(); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func selectServices(f *compose.File, names []string) ([]compose.Service, error) {
	if len(names) == 0 {
		return f.Services, nil
	}
	var out []compose.Service
	for _, n := range names {
		svc, ok := f.Service(n)
		if !ok {
			return nil, fmt.Errorf("%s: no service %q", f.Path, n)
		}
		out = append(out, svc)
	}
	return out, nil
}

// DaprBinaries are the Dapr runtime's programs the runner starts.
var DaprBinaries = []string{"daprd", "placement", "sentry", "scheduler"}

func checkDaprBinaries(dir string) error {
	for _, name := range DaprBinaries {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("no Dapr binary at %s: run `make dapr` to build daprd, placement, sentry and scheduler (Dapr 1.16), or set BAZAAR_DAPR_BIN to a folder that holds them", p)
		}
	}
	return nil
}

// build compiles every Go project in one `go build`, which shares the work
// between them and is a no-op link when nothing changed.
func (s *System) build(ctx context.Context, services []compose.Service) error {
	var pkgs []string
	for _, svc := range services {
		if svc.Project != "" {
			pkgs = append(pkgs, "./"+strings.TrimPrefix(filepath.Clean(svc.Project), "./"))
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	start := time.Now()
	fmt.Fprintf(s.progress, "building %d services…\n", len(pkgs))
	// -buildvcs=auto stamps the commit (the status page shows it) even where
	// GOFLAGS turns stamping off.
	args := append([]string{"build", "-buildvcs=auto", "-o", s.opts.AppBin + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = s.opts.Compose.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build services: %v\n%s", err, out)
	}
	fmt.Fprintf(s.progress, "built in %s\n", time.Since(start).Round(10*time.Millisecond))
	return nil
}

func (s *System) startServers(ctx context.Context, requires []string) error {
	for _, r := range requires {
		switch r {
		case "nats":
			port, err := s.ports.free()
			if err != nil {
				return err
			}
			s.NATSToken = s.secret("nats-token")
			srv, err := startNATS(filepath.Join(s.DataDir, "nats"), port, s.NATSToken)
			if err != nil {
				return err
			}
			s.nats, s.NATSURL = srv, srv.ClientURL()
			fmt.Fprintf(s.progress, "nats       ready on %s (JetStream, %d streams)\n", s.NATSURL, len(Streams()))
		case "redis":
			port, err := s.ports.free()
			if err != nil {
				return err
			}
			s.RedisPassword = s.secret("redis-password")
			cmd, err := redisCommand(filepath.Join(s.DataDir, "redis"), port, s.RedisPassword)
			if err != nil {
				return err
			}
			s.RedisAddr = fmt.Sprintf("127.0.0.1:%d", port)
			if err := s.startInfra(ctx, "redis", cmd, func(ctx context.Context) error { return waitTCP(ctx, s.RedisAddr) }); err != nil {
				return err
			}
		case "postgres":
			port, err := s.ports.free()
			if err != nil {
				return err
			}
			password := s.secret("postgres-password")
			cmd, err := postgresCommand(ctx, filepath.Join(PostgresHome(s.DataDir), "data"), port, password)
			if err != nil {
				return err
			}
			s.PostgresConn = fmt.Sprintf("host=127.0.0.1 port=%d user=bazaar password=%s dbname=postgres sslmode=disable", port, password)
			if err := s.startInfra(ctx, "postgres", cmd, func(ctx context.Context) error {
				return waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", port))
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// secret returns a generated secret kept in the data folder, so a data folder
// that outlives a run (make run) keeps working with its own servers.
func (s *System) secret(name string) string {
	p := filepath.Join(s.DataDir, "secrets", name)
	if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b))
	}
	v := randomSecret()
	_ = os.MkdirAll(filepath.Dir(p), 0o700)
	_ = os.WriteFile(p, []byte(v), 0o600)
	return v
}

func (s *System) startInfra(ctx context.Context, name string, command func() *exec.Cmd, ready func(context.Context) error) error {
	p := &process{name: name, command: command, out: s.mux.writer(name), events: s.progress, restart: true}
	s.infraMu.Lock()
	if s.stopped != nil && isClosed(s.stopped) {
		s.infraMu.Unlock()
		return errors.New("the system is stopping")
	}
	err := p.start()
	if err == nil {
		s.infra = append(s.infra, p)
	}
	s.infraMu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := ready(ctx); err != nil {
		return fmt.Errorf("%s did not become ready: %w", name, err)
	}
	fmt.Fprintf(s.progress, "%-10s ready\n", name)
	return nil
}

// infraProcesses are the control plane, servers and tools started so far.
func (s *System) infraProcesses() []*process {
	s.infraMu.Lock()
	defer s.infraMu.Unlock()
	return slices.Clone(s.infra)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// joinWhenBuilt starts a tool with start once its binary at bin exists and
// has stopped growing (its build has ended), unless the system stops first.
func (s *System) joinWhenBuilt(name, bin string, start func(context.Context) error) {
	fmt.Fprintf(s.progress, "%-10s joins when its build ends (make run builds it in the background)\n", name)
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		last := int64(-1)
		for {
			select {
			case <-s.stopped:
				return
			case <-tick.C:
			}
			st, err := os.Stat(bin)
			if err != nil || st.Mode()&0o111 == 0 {
				continue
			}
			if st.Size() != last {
				last = st.Size()
				continue
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-s.stopped:
				case <-ctx.Done():
				}
				cancel()
			}()
			if err := start(ctx); err != nil {
				fmt.Fprintf(s.progress, "%-10s could not join: %v\n", name, err)
			}
			cancel()
			return
		}
	}()
}

// AdminEmail is the first admin's account; its password is generated on
// first run into the secrets file and never printed.
const AdminEmail = "admin@bazaar.local"

// secretsFile keeps, per data folder, the file behind one of the local
// secret store components with the secrets named in want, generating those
// it does not hold yet (a data folder from an older version gains the new
// ones and keeps the rest).
func (s *System) secretsFile(name string, want map[string]func() string) (string, error) {
	p := filepath.Join(s.DataDir, "secrets", name)
	held := map[string]string{}
	if b, err := os.ReadFile(p); err == nil {
		if err := json.Unmarshal(b, &held); err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	added := false
	for k, gen := range want {
		if held[k] == "" {
			held[k], added = gen(), true
		}
	}
	if !added {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(held, "", "  ")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", err
	}
	return p, nil
}

// stateKey is a state store's encryption key: 128-bit AES, hex, as Dapr's
// state encryption (primaryEncryptionKey) wants it.
func stateKey() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// secretFiles writes the files of the two local secret stores: identity's
// (the first admin's credentials, its store's encryption key) and
// payment's (its store's encryption key). Each store is scoped to its app,
// so neither can read the other's.
func (s *System) secretFiles() (identity, payment string, err error) {
	_, statErr := os.Stat(filepath.Join(s.DataDir, "secrets", "bazaar.json"))
	identity, err = s.secretsFile("bazaar.json", map[string]func() string{
		"admin-email":        func() string { return AdminEmail },
		"admin-password":     randomSecret,
		"identity-store-key": stateKey,
	})
	if err != nil {
		return "", "", err
	}
	if statErr != nil {
		fmt.Fprintf(s.progress, "created the first admin's credentials: %s (password in %s)\n", AdminEmail, identity)
	}
	payment, err = s.secretsFile("payment.json", map[string]func() string{"payment-store-key": stateKey})
	return identity, payment, err
}

// startControlPlane runs sentry (mTLS between sidecars; it creates its CA on
// first run) and placement (actors, hence workflows) over mTLS.
func (s *System) startControlPlane(ctx context.Context) error {
	ext := s.opts.Compose.Dapr()
	bin := s.opts.DaprBin
	logLevel := s.logLevel()
	if compose.On(ext.Sentry, true) {
		pki := filepath.Join(s.DataDir, "pki")
		if err := os.MkdirAll(pki, 0o700); err != nil {
			return err
		}
		cfg := filepath.Join(s.DataDir, "sentry.yaml")
		if err := os.WriteFile(cfg, []byte(sentryConfig), 0o600); err != nil {
			return err
		}
		port, health, err := s.twoPorts()
		if err != nil {
			return err
		}
		s.SentryAddr = fmt.Sprintf("127.0.0.1:%d", port)
		cmd := func() *exec.Cmd {
			return exec.Command(filepath.Join(bin, "sentry"), "--config", cfg, "--issuer-credentials", pki,
				"--trust-domain", "localhost", "--port", strconv.Itoa(port), "--listen-address", "127.0.0.1",
				"--healthz-port", strconv.Itoa(health), "--healthz-listen-address", "127.0.0.1",
				"--enable-metrics=false", "--log-level", logLevel)
		}
		if err := bootstrapCA(ctx, pki, cmd); err != nil {
			return err
		}
		if err := s.startInfra(ctx, "sentry", cmd, httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", health), 200)); err != nil {
			return err
		}
		ca, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
		if err != nil {
			return fmt.Errorf("sentry wrote no CA certificate: %w", err)
		}
		s.anchors = string(ca)
	}
	if compose.On(ext.Placement, true) {
		port, health, err := s.twoPorts()
		if err != nil {
			return err
		}
		raft, err := s.ports.free()
		if err != nil {
			return err
		}
		s.PlacementAddr = fmt.Sprintf("127.0.0.1:%d", port)
		// The raft port defaults to 8201: give each run its own, or two runs
		// on one machine (parallel tests) fight over it.
		args := []string{"--port", strconv.Itoa(port), "--listen-address", "127.0.0.1",
			"--initial-cluster", fmt.Sprintf("dapr-placement-0=127.0.0.1:%d", raft),
			"--healthz-port", strconv.Itoa(health), "--healthz-listen-address", "127.0.0.1",
			"--enable-metrics=false", "--log-level", logLevel}
		if s.anchors != "" {
			args = append(args, "--tls-enabled", "--trust-domain", "localhost", "--sentry-address", s.SentryAddr,
				"--trust-anchors-file", filepath.Join(s.DataDir, "pki", "ca.crt"))
		}
		cmd := func() *exec.Cmd {
			c := exec.Command(filepath.Join(bin, "placement"), args...)
			c.Env = append(os.Environ(), "NAMESPACE=default")
			return c
		}
		if err := s.startInfra(ctx, "placement", cmd, httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", health), 200)); err != nil {
			return err
		}
		if err := s.startScheduler(ctx); err != nil {
			return err
		}
	}
	return nil
}

// startScheduler runs Dapr's scheduler, which from 1.15 on keeps workflow and
// actor reminders (as jobs in its embedded etcd) and triggers them on the
// sidecars. It comes with placement: workflows need both.
func (s *System) startScheduler(ctx context.Context) error {
	var ports [4]int // gRPC, health, etcd client, etcd peer
	for i := range ports {
		p, err := s.ports.free()
		if err != nil {
			return err
		}
		ports[i] = p
	}
	dir := filepath.Join(s.DataDir, "scheduler")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s.SchedulerAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	// Every port is our own: the health port defaults to 8080 (the
	// gateway's) and etcd's to 2379/2380, which two runs would share.
	args := []string{"--port", strconv.Itoa(ports[0]), "--listen-address", "127.0.0.1",
		"--healthz-port", strconv.Itoa(ports[1]), "--healthz-listen-address", "127.0.0.1",
		"--etcd-client-port", strconv.Itoa(ports[2]),
		"--etcd-initial-cluster", fmt.Sprintf("dapr-scheduler-server-0=http://127.0.0.1:%d", ports[3]),
		"--etcd-data-dir", filepath.Join(dir, "etcd"),
		"--identity-directory-write", filepath.Join(dir, "identity"),
		"--enable-metrics=false", "--log-level", s.logLevel()}
	if s.anchors != "" {
		args = append(args, "--tls-enabled", "--trust-domain", "localhost", "--sentry-address", s.SentryAddr,
			"--trust-anchors-file", filepath.Join(s.DataDir, "pki", "ca.crt"))
	}
	cmd := func() *exec.Cmd {
		c := exec.Command(filepath.Join(s.opts.DaprBin, "scheduler"), args...)
		c.Env = append(os.Environ(), "NAMESPACE=default")
		return c
	}
	return s.startInfra(ctx, "scheduler", cmd, httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[1]), 200))
}

// bootstrapCA has sentry create the CA on a first run, then stops it. A
// Dapr 1.16.0 sentry that wrote its own issuer files sees them change and
// reloads every 2 s for as long as it runs ("Issuer credentials changed"),
// each time restarting the server sidecars get certificates from; started
// on files that exist, it does not.
func bootstrapCA(ctx context.Context, pki string, command func() *exec.Cmd) error {
	files := []string{"ca.crt", "issuer.crt", "issuer.key"}
	have := func() bool {
		for _, f := range files {
			if info, err := os.Stat(filepath.Join(pki, f)); err != nil || info.Size() == 0 {
				return false
			}
		}
		return true
	}
	if have() {
		return nil
	}
	cmd := command()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sentry to create the CA: %w", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	for deadline := time.Now().Add(30 * time.Second); !have(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("sentry created no CA in %s", pki)
		}
	}
	// Let it finish writing (the key is written last).
	time.Sleep(200 * time.Millisecond)
	return nil
}

const sentryConfig = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprsystem
spec:
  mtls:
    enabled: true
    workloadCertTTL: 24h
    allowedClockSkew: 15m
`

func (s *System) twoPorts() (int, int, error) {
	a, err := s.ports.free()
	if err != nil {
		return 0, 0, err
	}
	b, err := s.ports.free()
	return a, b, err
}

func (s *System) logLevel() string {
	if s.opts.LogLevel != "" {
		return s.opts.LogLevel
	}
	if l := s.opts.Compose.Dapr().LogLevel; l != "" {
		return l
	}
	return "info"
}

// renderResources writes this run's component and configuration files, with
// the data folder and server addresses filled in.
func (s *System) renderResources(prof compose.Profile) ([]string, string, error) {
	secrets, paymentSecrets, err := s.secretFiles()
	if err != nil {
		return nil, "", err
	}
	host, port, _ := strings.Cut(s.SMTPAddr, ":")
	return Render(s.opts.Compose, prof, filepath.Join(s.DataDir, "resources"), map[string]string{
		"DATA_DIR":                 s.DataDir,
		"SECRETS_FILE":             secrets,
		"PAYMENT_SECRETS_FILE":     paymentSecrets,
		"NATS_URL":                 s.NATSURL,
		"NATS_TOKEN":               s.NATSToken,
		"REDIS_ADDR":               s.RedisAddr,
		"REDIS_PASSWORD":           s.RedisPassword,
		"POSTGRES_CONN":            s.PostgresConn,
		"OTLP_ENDPOINT":            s.OTLPAddr,
		"TRACE_SAMPLING_RATE":      samplingRate(s.OTLPAddr),
		"WORKFLOW_HISTORY_SIGNING": historySigning(s.DataDir),
		"SMTP_HOST":                host,
		"SMTP_PORT":                port,
	})
}

// samplingRate is the sidecars' share of requests traced: all of them
// when spans go somewhere (to otlp), none otherwise.
func samplingRate(otlp string) string {
	if otlp == "" {
		return "0"
	}
	return "1"
}

// Render writes the common and profile components and the sidecar
// configuration into dst with vars expanded, and returns the resource folders
// and the configuration file to hand to daprd.
func Render(f *compose.File, prof compose.Profile, dst string, vars map[string]string) ([]string, string, error) {
	ext := f.Dapr()
	_ = os.RemoveAll(dst)
	var paths []string
	for i, src := range []string{ext.ComponentsPath, prof.ComponentsPath} {
		if src == "" {
			continue
		}
		dir := filepath.Join(dst, strconv.Itoa(i))
		if err := render(f.Abs(src), dir, vars); err != nil {
			return nil, "", err
		}
		paths = append(paths, dir)
	}
	config := ""
	if ext.Config != "" {
		config = filepath.Join(dst, "config.yaml")
		if err := renderFile(f.Abs(ext.Config), config, vars); err != nil {
			return nil, "", err
		}
	}
	return paths, config, nil
}

func (s *System) startApp(svc compose.Service, replica int, resources []string, config string) (*App, error) {
	a := &App{Service: svc.Name, AppID: svc.AppID(), Replica: replica, Protocol: svc.AppProtocol(), health: svc.HealthPath()}
	var err error
	what := fmt.Sprintf("service %s (%s:%d)", svc.Name, s.opts.Compose.Path, svc.Line)
	if a.AppPort, err = s.ports.pick(svc.Port(), what); err != nil {
		return nil, err
	}
	env := []string{
		"APP_ID=" + a.AppID,
		"APP_PORT=" + strconv.Itoa(a.AppPort),
		"BAZAAR_PROFILE=" + s.Profile,
	}
	if s.names != nil && s.names.path != "" {
		// The shell's status page lists what runs from it.
		env = append(env, "BAZAAR_NAME_RESOLUTION="+s.names.path)
	}
	if svc.DaprEnabled() {
		if a.HTTPPort, err = s.ports.pick(svc.Dapr.HTTPPort, what+" dapr http-port"); err != nil {
			return nil, err
		}
		if a.GRPCPort, err = s.ports.pick(svc.Dapr.GRPCPort, what+" dapr grpc-port"); err != nil {
			return nil, err
		}
		if a.InternalGRPCPort, err = s.ports.free(); err != nil {
			return nil, err
		}
		if a.MetricsPort, err = s.ports.pick(svc.Dapr.MetricsPort, what+" dapr metrics-port"); err != nil {
			return nil, err
		}
		a.AppToken, a.APIToken = randomSecret(), randomSecret()
		env = append(env,
			"DAPR_HTTP_PORT="+strconv.Itoa(a.HTTPPort),
			"DAPR_GRPC_PORT="+strconv.Itoa(a.GRPCPort),
			"APP_API_TOKEN="+a.AppToken,
			"DAPR_API_TOKEN="+a.APIToken,
		)
	}
	if s.OTLPAddr != "" {
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+s.OTLPAddr, "BAZAAR_TRACES_URL="+s.TracesURL)
	}
	if s.MetricsURL != "" {
		env = append(env, "BAZAAR_METRICS_URL="+s.MetricsURL)
	}
	if s.MailURL != "" {
		env = append(env, "BAZAAR_MAIL_URL="+s.MailURL)
	}
	if s.MetricsURL != "" {
		if a.AppMetricsPort, err = s.ports.free(); err != nil {
			return nil, err
		}
		env = append(env, "METRICS_PORT="+strconv.Itoa(a.AppMetricsPort))
	}
	if s.opts.Profiling {
		if a.AppProfilePort, err = s.ports.free(); err != nil {
			return nil, err
		}
		env = append(env, "PPROF_PORT="+strconv.Itoa(a.AppProfilePort))
	}
	for _, e := range svc.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	for k, v := range s.opts.Env {
		env = append(env, k+"="+v)
	}
	exe := svc.Executable
	if svc.Project != "" {
		exe = filepath.Join(s.opts.AppBin, filepath.Base(filepath.Clean(svc.Project)))
	} else {
		exe = s.opts.Compose.Abs(exe)
	}
	appEnv := append(os.Environ(), env...)
	// An app that crashed comes back alone, as a container does in its pod:
	// its sidecar keeps running (docs/dapr.md, "Recovery").
	a.app = &process{name: a.Name(), out: s.mux.writer(a.Name()), events: s.progress, restart: true,
		command: func() *exec.Cmd {
			c := exec.Command(exe, svc.Args...)
			c.Env = appEnv
			c.Dir = s.opts.Compose.Dir
			return c
		}}
	if !svc.DaprEnabled() {
		a.dapr = &process{name: a.Name() + "-dapr", exited: closedChan()}
		if err := a.app.start(); err != nil {
			return nil, err
		}
		return a, nil
	}
	args := []string{
		"--app-id", a.AppID, "--app-port", strconv.Itoa(a.AppPort), "--app-protocol", a.Protocol,
		"--dapr-http-port", strconv.Itoa(a.HTTPPort), "--dapr-grpc-port", strconv.Itoa(a.GRPCPort),
		"--dapr-internal-grpc-port", strconv.Itoa(a.InternalGRPCPort),
		"--dapr-listen-addresses", "127.0.0.1", "--dapr-internal-grpc-listen-address", "127.0.0.1",
		"--app-channel-address", "127.0.0.1", "--log-level", s.logLevel(),
	}
	// Metrics (Prometheus) on loopback, like every other listener.
	args = append(args, "--metrics-port", strconv.Itoa(a.MetricsPort), "--metrics-listen-address", "127.0.0.1")
	if s.opts.Profiling {
		// daprd serves pprof on its API listen address (loopback).
		if a.ProfilePort, err = s.ports.free(); err != nil {
			return nil, err
		}
		args = append(args, "--enable-profiling", "--profile-port", strconv.Itoa(a.ProfilePort))
	}
	for _, r := range resources {
		args = append(args, "--resources-path", r)
	}
	if config != "" {
		args = append(args, "--config", config)
	}
	if s.PlacementAddr != "" {
		args = append(args, "--placement-host-address", s.PlacementAddr)
	}
	if s.SchedulerAddr != "" {
		args = append(args, "--scheduler-host-address", s.SchedulerAddr)
	}
	daprEnv := append(os.Environ(), "APP_API_TOKEN="+a.AppToken, "DAPR_API_TOKEN="+a.APIToken)
	if s.anchors != "" {
		args = append(args, "--enable-mtls", "--sentry-address", s.SentryAddr)
		daprEnv = append(daprEnv, "DAPR_TRUST_ANCHORS="+s.anchors)
	}
	if a.Protocol == "http" && compose.On(svc.Dapr.AppHealthCheck, false) {
		args = append(args, "--enable-app-health-check", "--app-health-check-path", a.health, "--app-health-probe-interval", "3")
	}
	a.dapr = &process{name: a.Name() + "-dapr", out: s.mux.writer(a.Name() + "-dapr"), events: s.progress, restart: true,
		exitedHook: func() { s.names.forget(a.InternalAddr()) },
		command: func() *exec.Cmd {
			c := exec.Command(filepath.Join(s.opts.DaprBin, "daprd"), args...)
			c.Env = daprEnv
			return c
		}}
	if err := a.app.start(); err != nil {
		return nil, err
	}
	if err := a.dapr.start(); err != nil {
		return nil, err
	}
	return a, nil
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// waitComponents waits until a's sidecar has loaded its components.
func (s *System) waitComponents(ctx context.Context, a *App) error {
	if a.HTTPPort == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	if err := httpReady(a.SidecarURL()+"/v1.0/healthz/outbound", 204)(ctx); err != nil {
		return fmt.Errorf("the sidecar of %s did not load its components: %w", a.Name(), err)
	}
	return nil
}

// waitReady waits for every app's health endpoint and every sidecar's
// /v1.0/healthz, reporting each as it comes up.
func (s *System) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	errs := make(chan error, len(s.Apps))
	for _, a := range s.Apps {
		go func() {
			start := time.Now()
			var err error
			if a.Protocol == "http" {
				err = httpReady(a.AppURL()+a.health, 200)(ctx)
			} else {
				err = waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", a.AppPort))
			}
			if err == nil && a.HTTPPort != 0 {
				err = httpReady(a.SidecarURL()+"/v1.0/healthz", 204)(ctx)
			}
			if err != nil {
				state := "its process exited"
				if a.app.running() {
					state = "it is still running"
				}
				errs <- fmt.Errorf("%s did not become healthy within %s (%s; see its log lines above): %w", a.Name(), s.opts.ReadyTimeout, state, err)
				return
			}
			fmt.Fprintf(s.progress, "%-10s healthy in %s\n", a.Name(), time.Since(start).Round(time.Millisecond))
			errs <- nil
		}()
	}
	var all []error
	for range s.Apps {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// httpReady polls url until it answers want.
func httpReady(url string, want int) func(context.Context) error {
	return func(ctx context.Context) error {
		client := &http.Client{Timeout: time.Second}
		var last string
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == want {
					return nil
				}
				last = fmt.Sprintf("%s answered %d", url, resp.StatusCode)
			} else {
				last = err.Error()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %w", last, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// App returns the first replica of the named service.
func (s *System) App(service string) *App {
	for _, a := range s.Apps {
		if a.Service == service {
			return a
		}
	}
	return nil
}

// Replicas returns every replica of the named service.
func (s *System) Replicas(service string) []*App {
	var out []*App
	for _, a := range s.Apps {
		if a.Service == service {
			out = append(out, a)
		}
	}
	return out
}

// InfraPIDs returns the process id of each control-plane process and server
// the runner started ("sentry", "placement", "scheduler", "redis", …).
func (s *System) InfraPIDs() map[string]int {
	out := map[string]int{}
	for _, p := range s.infraProcesses() {
		out[p.name] = p.pid()
	}
	return out
}

// KillInfra ends a control-plane process or server ("scheduler",
// "placement", "sentry", "redis", "postgres") as a crash would; the runner
// restarts it.
func (s *System) KillInfra(name string) error {
	for _, p := range s.infraProcesses() {
		if p.name == name {
			return p.kill()
		}
	}
	return fmt.Errorf("no %s in this system", name)
}

// Crashes counts the restarts of every process the runner supervises: apps,
// sidecars, the control plane and the servers.
func (s *System) Crashes() map[string]int {
	out := map[string]int{}
	for _, p := range s.infraProcesses() {
		if n := p.restartCount(); n > 0 {
			out[p.name] = n
		}
	}
	for _, a := range s.Apps {
		for _, p := range []*process{a.app, a.dapr} {
			if n := p.restartCount(); n > 0 {
				out[p.name] = n
			}
		}
	}
	return out
}

// Stop ends everything in order: sidecars and apps first, then placement and
// sentry, then the servers. It is safe to call more than once.
func (s *System) Stop() {
	s.stopOnce.Do(func() {
		var wg sync.WaitGroup
		for _, a := range s.Apps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.dapr.stop(5 * time.Second)
				a.app.stop(5 * time.Second)
			}()
		}
		wg.Wait()
		s.infraMu.Lock()
		if s.stopped != nil {
			close(s.stopped)
		}
		infra := s.infra
		s.infraMu.Unlock()
		for i := len(infra) - 1; i >= 0; i-- {
			infra[i].stop(5 * time.Second)
		}
		if s.nats != nil {
			s.nats.Shutdown()
			s.nats.WaitForShutdown()
		}
		s.names.close()
		_ = os.Remove(statePath(s.DataDir))
	})
}
