package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// Export writes the run file (and the sidecars' launcher) that Start with
// InfraOnly writes, without starting anything, for infrastructure that runs
// elsewhere at the usual addresses: the servers at their default ports
// (NATS 4222 without a token, Redis 6379 without a password, PostgreSQL
// 5432), sentry, placement and the scheduler where the Dapr CLI expects
// them (127.0.0.1:50001, 50005, 50006; sentry's CA in the data folder's
// pki/ca.crt, as `bazaar run` makes it), Jaeger and Mailpit at the ports
// compose.yaml names. It builds the apps and renders the components into
// the data folder's export/ (secrets stay in its secrets/, as with `bazaar
// run`), and returns the run file's path.
func Export(ctx context.Context, opts Options, file string) (string, error) {
	if opts.Compose == nil {
		return "", errors.New("runner: no compose file")
	}
	_, prof, err := opts.Compose.Profile(opts.Profile)
	if err != nil {
		return "", err
	}
	services, err := selectServices(opts.Compose, opts.Services)
	if err != nil {
		return "", err
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.AppBin == "" {
		opts.AppBin = filepath.Join(opts.DataDir, "apps")
	}
	if err := privateDataDir(opts.DataDir); err != nil {
		return "", fmt.Errorf("data folder: %w", err)
	}
	if err := os.MkdirAll(opts.AppBin, 0o700); err != nil {
		return "", err
	}
	s := &System{DataDir: opts.DataDir, opts: opts, progress: opts.Progress, ports: newPortPool()}
	s.Profile, _, _ = opts.Compose.Profile(opts.Profile)
	if !opts.NoBuild {
		if err := s.build(ctx, services); err != nil {
			return "", err
		}
	}
	for _, r := range prof.Requires {
		switch r {
		case "nats":
			s.NATSURL = "nats://127.0.0.1:4222"
		case "redis":
			s.RedisAddr = "127.0.0.1:6379"
		case "postgres":
			s.PostgresConn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable"
		}
	}
	ext := opts.Compose.Dapr()
	if compose.On(ext.Tracing.Enabled, true) {
		s.OTLPAddr = "127.0.0.1:" + strconv.Itoa(orPort(ext.Tracing.OTLPHTTPPort, 4318))
		s.TracesURL = "http://127.0.0.1:" + strconv.Itoa(orPort(ext.Tracing.QueryPort, 16686))
	}
	if compose.On(ext.Mail.Enabled, true) {
		s.SMTPAddr = "127.0.0.1:" + strconv.Itoa(orPort(ext.Mail.SMTPPort, 1025))
		s.MailURL = "http://127.0.0.1:" + strconv.Itoa(orPort(ext.Mail.WebPort, 8025))
	} else {
		s.SMTPAddr = fmt.Sprintf("%s:%d", ext.Mail.Host, ext.Mail.Port)
	}
	if compose.On(ext.Placement, true) {
		s.PlacementAddr, s.SchedulerAddr = "127.0.0.1:50005", "127.0.0.1:50006"
	}
	if compose.On(ext.Sentry, true) {
		s.SentryAddr = "127.0.0.1:50001"
	}
	secrets, paymentSecrets, err := s.secretFiles()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(opts.DataDir, "export")
	host, port, _ := strings.Cut(s.SMTPAddr, ":")
	resources, config, err := Render(opts.Compose, prof, filepath.Join(dir, "resources"), map[string]string{
		"DATA_DIR": opts.DataDir, "SECRETS_FILE": secrets, "PAYMENT_SECRETS_FILE": paymentSecrets,
		"NATS_URL": s.NATSURL, "NATS_TOKEN": "", "REDIS_ADDR": s.RedisAddr, "REDIS_PASSWORD": "", "POSTGRES_CONN": s.PostgresConn,
		"OTLP_ENDPOINT": s.OTLPAddr, "TRACE_SAMPLING_RATE": samplingRate(s.OTLPAddr), "WORKFLOW_HISTORY_SIGNING": historySigning(s.DataDir), "SMTP_HOST": host, "SMTP_PORT": port,
	})
	if err != nil {
		return "", err
	}
	if err := s.planApps(services); err != nil {
		return "", err
	}
	return s.writeRunFile(dir, file, resources, config)
}

func orPort(port, def int) int {
	if port == 0 {
		return def
	}
	return port
}

// runFile is the CLI's multi-app run file (dapr/cli pkg/runfileconfig);
// every key is one the CLI v1.16.5 reads.
type runFile struct {
	Version int       `yaml:"version"`
	Common  runCommon `yaml:"common"`
	Apps    []runApp  `yaml:"apps"`
}

type runCommon struct {
	RuntimePath        string   `yaml:"runtimePath"`
	ResourcesPaths     []string `yaml:"resourcesPaths,omitempty"`
	ConfigFilePath     string   `yaml:"configFilePath,omitempty"`
	LogLevel           string   `yaml:"logLevel,omitempty"`
	APIListenAddresses string   `yaml:"apiListenAddresses"`
	// Present and empty turns placement (or the scheduler) off; absent,
	// the CLI would pick localhost:50005 (50006).
	PlacementHostAddress *string `yaml:"placementHostAddress"`
	SchedulerHostAddress *string `yaml:"schedulerHostAddress"`
	DaprdLogDestination  string  `yaml:"daprdLogDestination"`
	AppLogDestination    string  `yaml:"appLogDestination"`
}

type runApp struct {
	AppID                  string            `yaml:"appID"`
	AppDirPath             string            `yaml:"appDirPath"`
	Command                []string          `yaml:"command"`
	AppPort                int               `yaml:"appPort"`
	AppProtocol            string            `yaml:"appProtocol"`
	DaprHTTPPort           int               `yaml:"daprHTTPPort"`
	DaprGRPCPort           int               `yaml:"daprGRPCPort"`
	DaprInternalGRPCPort   int               `yaml:"daprInternalGRPCPort"`
	MetricsPort            int               `yaml:"metricsPort"`
	EnableAppHealthCheck   bool              `yaml:"enableAppHealthCheck,omitempty"`
	AppHealthCheckPath     string            `yaml:"appHealthCheckPath,omitempty"`
	AppHealthProbeInterval int               `yaml:"appHealthProbeInterval,omitempty"`
	Env                    map[string]string `yaml:"env"`
}

// writeRunFile writes the sidecars' launcher under dir (the CLI's runtime
// path) and the run file at file, both private: they hold every app's
// tokens. Paths in it are absolute, so the file works from any folder.
func (s *System) writeRunFile(dir, file string, resources []string, config string) (string, error) {
	for _, d := range []string{filepath.Join(dir, ".dapr", "bin"), filepath.Dir(file)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
	}
	placement, scheduler := s.PlacementAddr, s.SchedulerAddr
	out := runFile{Version: 1, Common: runCommon{
		RuntimePath: dir, ResourcesPaths: resources, ConfigFilePath: config, LogLevel: s.logLevel(),
		APIListenAddresses: "127.0.0.1", PlacementHostAddress: &placement, SchedulerHostAddress: &scheduler,
		// Sidecars' lines go to their log files (as in `bazaar run`, where
		// only warnings reach the terminal), the apps' to both.
		DaprdLogDestination: "file", AppLogDestination: "fileAndConsole",
	}}
	for _, a := range s.Apps {
		svc, _ := s.opts.Compose.Service(a.Service)
		appDir := filepath.Join(dir, "apps", a.Name())
		if err := os.MkdirAll(appDir, 0o700); err != nil {
			return "", err
		}
		cmd := append([]string{s.opts.Compose.Abs(svc.Executable)}, svc.Args...)
		if svc.Project != "" {
			cmd = append([]string{filepath.Join(s.opts.AppBin, filepath.Base(filepath.Clean(svc.Project)))}, svc.Args...)
		}
		app := runApp{AppID: a.AppID, AppDirPath: appDir, Command: cmd, AppPort: a.AppPort, AppProtocol: a.Protocol,
			DaprHTTPPort: a.HTTPPort, DaprGRPCPort: a.GRPCPort, DaprInternalGRPCPort: a.InternalGRPCPort, MetricsPort: a.MetricsPort,
			Env: s.appEnv(svc, a)}
		if a.Protocol == "http" && compose.On(svc.Dapr.AppHealthCheck, false) {
			app.EnableAppHealthCheck, app.AppHealthCheckPath, app.AppHealthProbeInterval = true, a.health, 3
		}
		out.Apps = append(out.Apps, app)
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		return "", err
	}
	header := "# Written by bazaar for `dapr run -f` (Dapr CLI 1.16.5). It holds every app's API\n" +
		"# tokens: keep it private. The sidecars' launcher is " + filepath.Join(dir, ".dapr", "bin", "daprd") + ".\n"
	if err := writePrivate(filepath.Join(dir, ".dapr", "bin", "daprd"), []byte(s.launcher()), 0o700); err != nil {
		return "", err
	}
	if err := writePrivate(file, append([]byte(header), b...), 0o600); err != nil {
		return "", err
	}
	return file, nil
}

// launcher is the shell script the CLI runs as daprd: see the top of this
// file.
func (s *System) launcher() string {
	daprd := shellQuote(filepath.Join(s.opts.DaprBin, "daprd"))
	var b strings.Builder
	b.WriteString(`#!/bin/sh
# daprd for ` + "`dapr run -f`" + `, written by bazaar. The Dapr CLI passes each sidecar
# flags from the run file but no environment of its own: this adds the app's
# API tokens, sentry's address and trust anchors and loopback-only listeners,
# then becomes the real daprd. It holds the tokens: keep it private.
app=
prev=
for arg in "$@"; do
	[ "$prev" = --app-id ] && app=$arg
	prev=$arg
done
case $app in
'') exec ` + daprd + ` "$@" ;;
`)
	seen := map[string]bool{}
	for _, a := range s.Apps {
		if seen[a.AppID] {
			continue
		}
		seen[a.AppID] = true
		fmt.Fprintf(&b, "%s) APP_API_TOKEN=%s DAPR_API_TOKEN=%s ;;\n", shellQuote(a.AppID), shellQuote(a.AppToken), shellQuote(a.APIToken))
	}
	b.WriteString(`*) echo "daprd: no app $app in this run" >&2; exit 1 ;;
esac
export APP_API_TOKEN DAPR_API_TOKEN
`)
	flags := "--metrics-listen-address 127.0.0.1 --dapr-internal-grpc-listen-address 127.0.0.1"
	if s.SentryAddr != "" {
		// Read at every start: a CA made again is picked up.
		fmt.Fprintf(&b, "DAPR_TRUST_ANCHORS=$(cat %s) || exit 1\nexport DAPR_TRUST_ANCHORS\n", shellQuote(filepath.Join(s.DataDir, "pki", "ca.crt")))
		// The last --sentry-address wins over the CLI's localhost:50001.
		flags += " --enable-mtls --sentry-address " + s.SentryAddr
	} else {
		// The CLI turns mTLS on when the configuration does.
		flags += " --enable-mtls=false"
	}
	fmt.Fprintf(&b, "exec %s \"$@\" %s\n", daprd, flags)
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// writePrivate writes a file only its owner may read, whatever mode an
// earlier file of that name had.
func writePrivate(name string, b []byte, mode os.FileMode) error {
	if err := os.WriteFile(name, b, mode); err != nil {
		return err
	}
	return os.Chmod(name, mode)
}
