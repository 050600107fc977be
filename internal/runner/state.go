package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"
)

// State is what a running runner records in its data folder, for `status`.
type State struct {
	RunnerPID int       `json:"runnerPid"`
	Profile   string    `json:"profile"`
	Started   time.Time `json:"started"`
	Placement string    `json:"placement,omitempty"`
	Scheduler string    `json:"scheduler,omitempty"`
	Sentry    string    `json:"sentry,omitempty"`
	NATS      string    `json:"nats,omitempty"`
	Redis     string    `json:"redis,omitempty"`
	// RunFile is set when the Dapr CLI runs the apps (bazaar run
	// -infra-only): their process ids are then unknown (0).
	RunFile string     `json:"runFile,omitempty"`
	Apps    []AppState `json:"apps"`
}

// AppState describes one replica; tokens are deliberately not recorded.
type AppState struct {
	Name       string `json:"name"`
	AppID      string `json:"appId"`
	Protocol   string `json:"protocol"`
	AppPort    int    `json:"appPort"`
	HTTPPort   int    `json:"daprHttpPort,omitempty"`
	GRPCPort   int    `json:"daprGrpcPort,omitempty"`
	AppPID     int    `json:"appPid"`
	SidecarPID int    `json:"sidecarPid,omitempty"`
	HealthPath string `json:"healthPath"`
}

func statePath(dataDir string) string { return filepath.Join(dataDir, "run.json") }

// State returns the system's current state.
func (s *System) State() State {
	st := State{RunnerPID: os.Getpid(), Profile: s.Profile, Started: time.Now().UTC(),
		Placement: s.PlacementAddr, Scheduler: s.SchedulerAddr, Sentry: s.SentryAddr, NATS: s.NATSURL, Redis: s.RedisAddr, RunFile: s.RunFile}
	for _, a := range s.Apps {
		st.Apps = append(st.Apps, AppState{Name: a.Name(), AppID: a.AppID, Protocol: a.Protocol, AppPort: a.AppPort,
			HTTPPort: a.HTTPPort, GRPCPort: a.GRPCPort, AppPID: a.AppPID(), SidecarPID: a.SidecarPID(), HealthPath: a.health})
	}
	return st
}

func (s *System) writeState() error {
	b, err := json.MarshalIndent(s.State(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(statePath(s.DataDir), b, 0o600)
}

// ErrNotRunning means no runner is using the data folder.
var ErrNotRunning = errors.New("bazaar is not running (no live runner for this data folder)")

// ReadState reads the state a live runner left in dataDir.
func ReadState(dataDir string) (State, error) {
	var st State
	b, err := os.ReadFile(statePath(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return st, ErrNotRunning
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", statePath(dataDir), err)
	}
	if !alive(st.RunnerPID) {
		return st, ErrNotRunning
	}
	return st, nil
}

// PrintTable writes the services, their ports and whether they answer now.
func PrintTable(ctx context.Context, w io.Writer, st State) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tAPP ID\tPROTOCOL\tAPP PORT\tDAPR HTTP\tDAPR GRPC\tAPP\tSIDECAR")
	for _, a := range st.Apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", a.Name, a.AppID, a.Protocol, a.AppPort,
			portText(a.HTTPPort), portText(a.GRPCPort), appHealth(ctx, a), sidecarHealth(ctx, a))
	}
	tw.Flush()
	if st.Placement != "" || st.Sentry != "" {
		fmt.Fprintf(w, "placement %s  scheduler %s  sentry %s", orDash(st.Placement), orDash(st.Scheduler), orDash(st.Sentry))
		if st.NATS != "" {
			fmt.Fprintf(w, "  nats %s", st.NATS)
		}
		if st.Redis != "" {
			fmt.Fprintf(w, "  redis %s", st.Redis)
		}
		fmt.Fprintf(w, "  profile %s\n", st.Profile)
	}
	if st.RunFile != "" {
		fmt.Fprintf(w, "apps and sidecars: dapr run -f %s\n", st.RunFile)
	}
}

// appHealth and sidecarHealth probe a process whose id is unknown (0: the
// Dapr CLI started it) by its port alone.
func appHealth(ctx context.Context, a AppState) string {
	if a.AppPID != 0 && !alive(a.AppPID) {
		return "down"
	}
	if a.Protocol != "http" {
		return probe(ctx, func(ctx context.Context) error { return waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", a.AppPort)) })
	}
	return probe(ctx, httpReady(fmt.Sprintf("http://127.0.0.1:%d%s", a.AppPort, a.HealthPath), 200))
}

func sidecarHealth(ctx context.Context, a AppState) string {
	if a.HTTPPort == 0 {
		return "-"
	}
	if a.SidecarPID != 0 && !alive(a.SidecarPID) {
		return "down"
	}
	return probe(ctx, httpReady(fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", a.HTTPPort), 204))
}

// probe runs check for at most half a second.
func probe(ctx context.Context, check func(context.Context) error) string {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if check(ctx) != nil {
		return "unhealthy"
	}
	return "healthy"
}

func portText(p int) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprint(p)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
