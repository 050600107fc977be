package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// prometheusBin is Debian's Prometheus (`make deps` installs it).
var prometheusBin = "/usr/bin/prometheus"

// metricsOn reports whether Prometheus will run: compose.yaml does not turn
// it off and it is installed.
func (s *System) metricsOn() bool {
	if !compose.On(s.opts.Compose.Dapr().Metrics.Enabled, true) {
		return false
	}
	_, err := os.Stat(prometheusBin)
	return err == nil
}

// startMetrics starts Prometheus on loopback with a scrape configuration
// for every app (METRICS_PORT) and sidecar (--metrics-port) of this run,
// every 5 s, its data in the data folder for two hours.
func (s *System) startMetrics(ctx context.Context) error {
	if s.MetricsURL == "" {
		return nil
	}
	type target struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels"`
	}
	type job struct {
		Name    string   `yaml:"job_name"`
		Static  []target `yaml:"static_configs"`
		Seconds string   `yaml:"scrape_interval"`
	}
	apps, sidecars := job{Name: "apps", Seconds: "5s"}, job{Name: "sidecars", Seconds: "5s"}
	for _, a := range s.Apps {
		labels := map[string]string{"service": a.Service, "replica": a.Name()}
		if a.AppMetricsPort != 0 {
			apps.Static = append(apps.Static, target{Targets: []string{"127.0.0.1:" + strconv.Itoa(a.AppMetricsPort)}, Labels: labels})
		}
		if a.MetricsPort != 0 {
			sidecars.Static = append(sidecars.Static, target{Targets: []string{"127.0.0.1:" + strconv.Itoa(a.MetricsPort)}, Labels: labels})
		}
	}
	cfg, err := yaml.Marshal(map[string]any{
		"global":         map[string]string{"scrape_interval": "5s", "evaluation_interval": "5s"},
		"scrape_configs": []job{apps, sidecars},
	})
	if err != nil {
		return err
	}
	file := filepath.Join(s.DataDir, "prometheus.yaml")
	if err := os.WriteFile(file, cfg, 0o600); err != nil {
		return err
	}
	return s.startInfra(ctx, "prometheus", func() *exec.Cmd {
		return exec.Command(prometheusBin, "--config.file="+file, "--storage.tsdb.path="+filepath.Join(s.DataDir, "prometheus"),
			"--storage.tsdb.retention.time=2h", "--web.listen-address="+strings.TrimPrefix(s.MetricsURL, "http://"), "--log.level=warn")
	}, httpReady(s.MetricsURL+"/-/ready", 200))
}

// reserveMetrics picks Prometheus' port before the apps start, so that
// they can be told where it will be (the status page asks it).
func (s *System) reserveMetrics() error {
	if !s.metricsOn() {
		return nil
	}
	port, err := s.ports.pick(s.opts.Compose.Dapr().Metrics.Port, "metrics ("+s.opts.Compose.Path+") port")
	if err != nil {
		return err
	}
	s.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	return nil
}
