package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// The Dapr CLI (`dapr run -f`) can start the apps and their sidecars in the
// runner's place. With Options.InfraOnly, Start starts everything else, as
// `bazaar run` does (the servers, sentry, placement, scheduler, Jaeger,
// Prometheus, Mailpit), builds the apps, and writes a run file that the CLI
// starts as it is.
//
// The CLI gives every daprd it starts its own environment, and from the
// run file only flags: it has no place for an app's API tokens (daprd reads
// them from its environment only), for sentry's trust anchors (likewise) or
// address (the CLI passes localhost:50001 whenever the configuration turns
// mTLS on), nor for the loopback addresses of the metrics and internal gRPC
// listeners (daprd binds every interface without them). The CLI runs the
// daprd it finds at <runtimePath>/.dapr/bin/daprd; the run file's
// runtimePath holds a short script there that adds those to each sidecar
// and then execs the real daprd, which is what `dapr list` then finds.

// cliFolder is where a run's run file, the CLI's runtime path and the apps'
// folders (where the CLI writes their logs) live.
func cliFolder(dataDir string) string { return filepath.Join(dataDir, "cli") }

// RunFilePath is the run file `bazaar run -infra-only` writes for a data
// folder.
func RunFilePath(dataDir string) string { return filepath.Join(cliFolder(dataDir), "dapr.yaml") }

// startForCLI is Start's end with InfraOnly: the apps get their ports and
// tokens, the run file and the sidecars' launcher are written, and
// Prometheus is told where the apps and sidecars will be.
func (s *System) startForCLI(ctx context.Context, services []compose.Service, resources []string, config string) error {
	if err := s.planApps(services); err != nil {
		return err
	}
	file, err := s.writeRunFile(cliFolder(s.DataDir), RunFilePath(s.DataDir), resources, config)
	if err != nil {
		return err
	}
	s.RunFile = file
	if err := s.startMetrics(ctx); err != nil {
		return err
	}
	return s.writeState()
}

// planApps gives each replica what startApp would, without starting it:
// ports, tokens, and an app and a sidecar process that the runner never
// runs (the CLI does). Replicas of one service share its tokens: the
// launcher knows a sidecar by its app id only.
func (s *System) planApps(services []compose.Service) error {
	for _, svc := range services {
		if !svc.DaprEnabled() {
			return fmt.Errorf("%s:%d: service %s runs without a sidecar, which a Dapr run file cannot express", s.opts.Compose.Path, svc.Line, svc.Name)
		}
		appToken, apiToken := randomSecret(), randomSecret()
		for r := range svc.Replicas {
			a := &App{Service: svc.Name, AppID: svc.AppID(), Protocol: svc.AppProtocol(), health: svc.HealthPath(),
				AppToken: appToken, APIToken: apiToken}
			if svc.Replicas > 1 {
				a.Replica = r + 1
			}
			what := fmt.Sprintf("service %s (%s:%d)", svc.Name, s.opts.Compose.Path, svc.Line)
			var err error
			for _, p := range []struct {
				port  *int
				fixed int
				what  string
			}{
				{&a.AppPort, svc.Port(), what},
				{&a.HTTPPort, svc.Dapr.HTTPPort, what + " dapr http-port"},
				{&a.GRPCPort, svc.Dapr.GRPCPort, what + " dapr grpc-port"},
				{&a.InternalGRPCPort, 0, ""},
				{&a.MetricsPort, svc.Dapr.MetricsPort, what + " dapr metrics-port"},
			} {
				if p.fixed != 0 {
					err = s.ports.claim(p.fixed, p.what)
					*p.port = p.fixed
				} else {
					*p.port, err = s.ports.lasting()
				}
				if err != nil {
					return err
				}
			}
			if s.MetricsURL != "" {
				if a.AppMetricsPort, err = s.ports.lasting(); err != nil {
					return err
				}
			}
			a.app = &process{name: a.Name(), exited: closedChan()}
			a.dapr = &process{name: a.Name() + "-dapr", exited: closedChan()}
			s.Apps = append(s.Apps, a)
		}
	}
	return nil
}

// appEnv is what an app finds in its environment beside what the CLI sets
// itself (APP_ID, APP_PORT, DAPR_HTTP_PORT, DAPR_GRPC_PORT, APP_PROTOCOL):
// the same as startApp gives it.
func (s *System) appEnv(svc compose.Service, a *App) map[string]string {
	env := map[string]string{
		"BAZAAR_PROFILE": s.Profile,
		"APP_API_TOKEN":  a.AppToken,
		"DAPR_API_TOKEN": a.APIToken,
	}
	if s.OTLPAddr != "" {
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + s.OTLPAddr
		env["BAZAAR_TRACES_URL"] = s.TracesURL
	}
	if s.MetricsURL != "" {
		env["BAZAAR_METRICS_URL"] = s.MetricsURL
		env["METRICS_PORT"] = strconv.Itoa(a.AppMetricsPort)
	}
	if s.MailURL != "" {
		env["BAZAAR_MAIL_URL"] = s.MailURL
	}
	if s.names != nil && s.names.path != "" {
		env["BAZAAR_NAME_RESOLUTION"] = s.names.path
	}
	for _, e := range svc.Env {
		env[e.Name] = e.Value
	}
	for k, v := range s.opts.Env {
		env[k] = v
	}
	return env
}

// CLI is a running `dapr run -f`.
type CLI struct {
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
	stopOnce sync.Once
}

// StartCLI runs `cli run -f <run file>` for a system started with
// InfraOnly, its output on out, and waits until every app and sidecar
// answers its health check. The CLI and what it starts form one process
// group, which Stop ends as `dapr stop -f` would.
func (s *System) StartCLI(ctx context.Context, cli string, out io.Writer) (*CLI, error) {
	if s.RunFile == "" {
		return nil, errors.New("runner: StartCLI needs a system started with InfraOnly")
	}
	c := &CLI{cmd: exec.Command(cli, "run", "-f", s.RunFile), done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = out, out
	// Its own process group from the start (the CLI makes one itself, a
	// moment later); a SIGTERM if the runner dies lets the CLI end its
	// apps and sidecars, which are not its process's children's children.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Dapr CLI: %w", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	ready := make(chan error, 1)
	go func() { ready <- s.waitReady(ctx) }()
	select {
	case err := <-ready:
		if err != nil {
			c.Stop()
			return nil, err
		}
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("the Dapr CLI exited before every app was healthy: %v", exitText(c.err))
	}
}

// Done is closed when the CLI has exited.
func (c *CLI) Done() <-chan struct{} { return c.done }

// Err is how the CLI exited (after Done).
func (c *CLI) Err() error { return c.err }

// Stop sends SIGINT to the CLI's process group, as `dapr stop -f` does, and
// SIGKILL to what is left of it after 15 s. The CLI ends its sidecars and
// apps with SIGKILL as soon as it hears the signal; each of them hears the
// SIGINT too, and most finish first.
// It is safe to call more than once.
func (c *CLI) Stop() {
	c.stopOnce.Do(func() {
		pid := c.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
		}
		// Whatever the CLI left of its group (it kills its sidecars and
		// apps without waiting for them).
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-c.done
	})
}

// lasting returns a free port below the kernel's range of ephemeral ports.
// The CLI binds the ports of a run file long after they were picked (in
// the two-terminal way, when the user gets to it); a port in the ephemeral
// range may meanwhile be the local end of any outgoing connection on the
// machine, and was: one run in three failed with "Port … is not
// available". It is checked on every interface, as the CLI checks it.
func (p *portPool) lasting() (int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	const from = 10000
	if low <= from+1000 {
		return p.free()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 100 {
		port := from + mathrand.IntN(low-from)
		if p.taken[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue
		}
		l.Close()
		p.taken[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("find a free port below %d: 100 tries found none", low)
}
