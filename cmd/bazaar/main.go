// Command bazaar runs Bazaar on one machine: `bazaar run` starts every service
// in compose.yaml with its Dapr sidecar (or, with -infra-only, everything
// but those, for the Dapr CLI's `dapr run -f` to start), `bazaar status`
// shows what runs, `bazaar export` writes the Dapr CLI's run file for
// infrastructure that runs elsewhere, and `bazaar manifests` the Kubernetes
// manifests (deploy/base).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/k8s"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bazaar:", err)
		os.Exit(1)
	}
}

const usage = `usage: bazaar <command> [flags]

commands:
  run     start every service with its sidecar and wait for Ctrl-C
          (-infra-only: all but the apps and sidecars, and a run file for
          ` + "`dapr run -f`" + `; -dapr-cli bin/dapr: that, then the CLI itself)
  status  show what a running bazaar runs, where, and whether it is healthy
  logs    follow one service's log (app, replicas and sidecars): bazaar logs catalog
  export  write the Dapr CLI's run file for infrastructure at the usual addresses
  manifests  write the Kubernetes manifests (a Kustomize base) into -o (deploy/base)

Run 'bazaar <command> -h' for its flags.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "compose.yaml", "the compose file")
	dataDir := fs.String("data", ".data", "folder for state, certificates and logs (git-ignored)")
	daprBin := fs.String("dapr-bin", orDefault(getenv("BAZAAR_DAPR_BIN"), "bin"), "folder holding daprd, placement and sentry (env BAZAAR_DAPR_BIN)")
	toolsBin := fs.String("tools-bin", "bin", "folder holding the tools `make tools` builds (jaeger)")
	profile := fs.String("profile", getenv("BAZAAR_PROFILE"), "component profile (env BAZAAR_PROFILE; default: the file's)")
	logLevel := fs.String("log-level", "", "daprd log level (default: the file's)")
	out := fs.String("o", "", "export: the run file to write (DATA/export/dapr.yaml); manifests: the folder (deploy/base)")
	infraOnly := fs.Bool("infra-only", false, "run: start all but the apps and their sidecars, and write a run file for `dapr run -f` to start them")
	daprCLI := fs.String("dapr-cli", "", "run: the Dapr CLI to start the apps and sidecars with (`make run-dapr`: bin/dapr); implies -infra-only")
	freePorts := fs.Bool("free-ports", false, "run, export: pick every port free, those compose.yaml fixes too (the gateway's 8080, Jaeger's, Prometheus', Mailpit's)")
	profiling := fs.Bool("profiling", false, "run: every app and sidecar serves Go's pprof on a loopback port of its own (printed at start)")
	toolsBuilding := fs.Bool("tools-building", false, "run: Jaeger and Mailpit are being built beside this run (make run does that on a fresh machine): start without them, they join when built")
	verbose := fs.Bool("verbose", false, "run: show every log line, start-up noise included (it is always in the data folder's logs/)")
	lines := fs.Int("n", 50, "logs: how many past lines to show first")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	absData, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	absBin, err := filepath.Abs(*daprBin)
	if err != nil {
		return err
	}
	absTools, err := filepath.Abs(*toolsBin)
	if err != nil {
		return err
	}
	load := func() (*compose.File, error) {
		f, err := compose.Load(*file)
		if err == nil && *freePorts {
			pickFreePorts(f)
		}
		return f, err
	}
	switch args[0] {
	case "run":
		f, err := load()
		if err != nil {
			return err
		}
		cli := *daprCLI
		if cli != "" {
			if cli, err = filepath.Abs(cli); err != nil {
				return err
			}
		}
		return start(ctx, runner.Options{Compose: f, Profile: *profile, Services: fs.Args(), DataDir: absData,
			DaprBin: absBin, ToolsBin: absTools, LogLevel: *logLevel, Logs: stdout, Progress: stderr, Color: isTerminal(stdout), Verbose: *verbose,
			InfraOnly: *infraOnly || cli != "", Profiling: *profiling, ToolsBuilding: *toolsBuilding}, cli, stdout)
	case "logs":
		if fs.NArg() != 1 {
			return errors.New("usage: bazaar logs [-n lines] SERVICE")
		}
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runner.Follow(ctx, absData, fs.Arg(0), *lines, stdout)
	case "status":
		st, err := runner.ReadState(absData)
		if err != nil {
			return err
		}
		runner.PrintTable(ctx, stdout, st)
		return nil
	case "export":
		f, err := load()
		if err != nil {
			return err
		}
		opts := runner.Options{Compose: f, Profile: *profile, Services: fs.Args(), DataDir: absData, DaprBin: absBin, Progress: stderr}
		return export(ctx, opts, orDefault(*out, filepath.Join(absData, "export", "dapr.yaml")), filepath.Join(absTools, "dapr"), stdout)
	case "manifests":
		f, err := compose.Load(*file)
		if err != nil {
			return err
		}
		files, err := k8s.Generate(f, k8s.DefaultOptions())
		if err != nil {
			return err
		}
		dir := orDefault(*out, filepath.Join("deploy", "base"))
		if err := k8s.Write(dir, files); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d files into %s\n", len(files), dir)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func start(ctx context.Context, opts runner.Options, cli string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := runner.ReadState(opts.DataDir); err == nil {
		return fmt.Errorf("another bazaar already runs with data folder %s (see `bazaar status`)", opts.DataDir)
	}
	began := time.Now()
	sys, err := runner.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer sys.Stop()
	if opts.InfraOnly && cli == "" {
		fmt.Fprintf(opts.Progress, "\ninfrastructure ready in %s (profile %s); the apps and their sidecars are the Dapr CLI's to start.\n",
			time.Since(began).Round(time.Millisecond), sys.Profile)
		printAddresses(opts.Progress, sys, "will be")
		fmt.Fprintf(opts.Progress, "\nStart them in another terminal with\n\n  %s run -f %s\n\nStop the apps first (Ctrl-C in their terminal), then this with Ctrl-C.\n",
			shortPath(filepath.Join(opts.ToolsBin, "dapr")), shortPath(sys.RunFile))
		<-ctx.Done()
		return stopping(opts.Progress, sys)
	}
	var apps *runner.CLI
	if cli != "" {
		fmt.Fprintf(opts.Progress, "starting the apps and sidecars: %s run -f %s\n", shortPath(cli), shortPath(sys.RunFile))
		if apps, err = sys.StartCLI(ctx, cli, stdout); err != nil {
			return err
		}
		defer apps.Stop()
	}
	fmt.Fprintf(opts.Progress, "\nall %d services healthy in %s (profile %s)\n\n", len(sys.Apps), time.Since(began).Round(time.Millisecond), sys.Profile)
	runner.PrintTable(ctx, opts.Progress, sys.State())
	printAddresses(opts.Progress, sys, "is")
	fmt.Fprintln(opts.Progress, "\nPress Ctrl-C to stop.")
	if apps == nil {
		<-ctx.Done()
		return stopping(opts.Progress, sys)
	}
	var ended error
	select {
	case <-ctx.Done():
	case <-apps.Done():
		// The CLI ended on its own (it failed, or someone signalled its
		// process group): so does the rest.
		ended = errors.New("the Dapr CLI exited")
		if apps.Err() != nil {
			ended = fmt.Errorf("the Dapr CLI exited: %w", apps.Err())
		}
		fmt.Fprintf(opts.Progress, "\n%v\n", ended)
	}
	fmt.Fprintln(opts.Progress, "\nstopping…")
	apps.Stop()
	sys.Stop()
	fmt.Fprintln(opts.Progress, "stopped")
	if apps.Err() == nil {
		return nil
	}
	return ended
}

func stopping(w io.Writer, sys *runner.System) error {
	fmt.Fprintln(w, "\nstopping…")
	sys.Stop()
	fmt.Fprintln(w, "stopped")
	return nil
}

// printAddresses says where the shop, its mail and its traces are (or will
// be, once the Dapr CLI runs the apps).
func printAddresses(w io.Writer, sys *runner.System, verb string) {
	if gw := sys.App("gateway"); gw != nil {
		fmt.Fprintf(w, "\nBazaar %s at %s\n", verb, gw.AppURL())
	}
	if sys.MailURL != "" {
		fmt.Fprintf(w, "Mail: %s/api/v1/messages (Mailpit's API; its web UI is not in the Go module), SMTP on %s\n", sys.MailURL, sys.SMTPAddr)
	}
	if sys.TracesURL != "" {
		fmt.Fprintf(w, "Traces: %s/search (Jaeger's API; the shop's admin page draws them), OTLP/HTTP on %s\n", sys.TracesURL, sys.OTLPAddr)
	}
	for _, a := range sys.Apps {
		if a.AppProfileURL() != "" {
			fmt.Fprintf(w, "Profiling %s: %s, its sidecar %s\n", a.Name(), a.AppProfileURL(), a.SidecarProfileURL())
		}
	}
}

// pickFreePorts lets the runner pick every port, including those
// compose.yaml fixes, so that a second shop (a test) runs beside `make run`.
func pickFreePorts(f *compose.File) {
	for i := range f.Services {
		f.Services[i].Bindings = nil
		f.Services[i].Dapr.HTTPPort, f.Services[i].Dapr.GRPCPort, f.Services[i].Dapr.MetricsPort = 0, 0, 0
	}
	for i := range f.Extensions {
		e := &f.Extensions[i]
		e.Tracing.OTLPGRPCPort, e.Tracing.OTLPHTTPPort, e.Tracing.QueryPort = 0, 0, 0
		e.Metrics.Port = 0
		e.Mail.SMTPPort, e.Mail.WebPort = 0, 0
	}
}

// shortPath is p relative to the working folder when it lies below it.
func shortPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func export(ctx context.Context, opts runner.Options, out, cli string, stdout io.Writer) error {
	file, err := runner.Export(ctx, opts, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (private: it holds the apps' tokens); components rendered into %s\n", file, filepath.Join(opts.DataDir, "export", "resources"))
	fmt.Fprintln(stdout, "It expects the servers, sentry, placement, the scheduler, Jaeger and Mailpit at their usual addresses (`bazaar run -infra-only` starts them and writes its own run file).")
	fmt.Fprintf(stdout, "Start the apps with: %s run -f %s\n", shortPath(cli), shortPath(file))
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
