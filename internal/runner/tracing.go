package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"text/template"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// jaegerConfig is the Jaeger v2 configuration the runner fills in for each
// run (ports), kept beside the module that builds Jaeger.
const jaegerConfig = "tools/jaeger/config.yaml.tmpl"

// startTracing starts Jaeger (built from tools/jaeger into the tools
// folder) on loopback, unless compose.yaml turns tracing off: every
// sidecar and app then sends its spans there over OTLP/HTTP, and its query
// API serves them (the admin's Traces page reads it).
func (s *System) startTracing(ctx context.Context) error {
	t := s.opts.Compose.Dapr().Tracing
	if !compose.On(t.Enabled, true) {
		return nil
	}
	bin, missing := s.tool("jaeger", "extensions[dapr].tracing.enabled: false")
	if missing != nil && !s.opts.ToolsBuilding {
		return missing
	}
	var err error
	what := "tracing (" + s.opts.Compose.Path + ")"
	var ports struct{ OTLPGRPC, OTLPHTTP, Query, QueryGRPC int }
	if ports.OTLPGRPC, err = s.ports.pick(t.OTLPGRPCPort, what+" otlp-grpc-port"); err != nil {
		return err
	}
	if ports.OTLPHTTP, err = s.ports.pick(t.OTLPHTTPPort, what+" otlp-http-port"); err != nil {
		return err
	}
	if ports.Query, err = s.ports.pick(t.QueryPort, what+" query-port"); err != nil {
		return err
	}
	if ports.QueryGRPC, err = s.ports.free(); err != nil {
		return err
	}
	tmpl, err := template.ParseFiles(s.opts.Compose.Abs(jaegerConfig))
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, ports); err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	file := filepath.Join(s.DataDir, "jaeger.yaml")
	if err := os.WriteFile(file, cfg.Bytes(), 0o600); err != nil {
		return err
	}
	s.OTLPAddr = fmt.Sprintf("127.0.0.1:%d", ports.OTLPHTTP)
	s.TracesURL = fmt.Sprintf("http://127.0.0.1:%d", ports.Query)
	start := func(ctx context.Context) error {
		return s.startInfra(ctx, "jaeger", func() *exec.Cmd { return exec.Command(bin, "--config", file) },
			httpReady(s.TracesURL+"/api/services", 200))
	}
	if missing != nil {
		s.joinWhenBuilt("jaeger", bin, start)
		return nil
	}
	return start(ctx)
}

// tool finds a program built from tools/ (`make tools`) in the tools
// folder: its path, and an error when it is not there yet that says how to
// build it or what in compose.yaml does without it.
func (s *System) tool(name, without string) (string, error) {
	dir := s.opts.ToolsBin
	if dir == "" {
		dir = s.opts.DaprBin
	}
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err != nil {
		return bin, fmt.Errorf("no %s at %s: run `make tools` to build it, or set %s in %s", name, bin, without, s.opts.Compose.Path)
	}
	return bin, nil
}
