// Command bazaar runs Bazaar on one machine: `bazaar run` starts every service
// in compose.yaml with its Dapr sidecar, `bazaar status` shows what runs, and
// `bazaar export` writes an equivalent multi-app run file for the dapr CLI,
// `bazaar manifests` the Kubernetes manifests (deploy/base).
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
  status  show what a running bazaar runs, where, and whether it is healthy
  logs    follow one service's log (app, replicas and sidecars): bazaar logs catalog
  export  write an equivalent Dapr multi-app run file (dapr.yaml)
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
	out := fs.String("o", "", "export: the file to write (dapr.yaml); manifests: the folder (deploy/base)")
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
	switch args[0] {
	case "run":
		f, err := compose.Load(*file)
		if err != nil {
			return err
		}
		return start(ctx, runner.Options{Compose: f, Profile: *profile, Services: fs.Args(), DataDir: absData,
			DaprBin: absBin, ToolsBin: absTools, LogLevel: *logLevel, Logs: stdout, Progress: stderr, Color: isTerminal(stdout), Verbose: *verbose}, stdout)
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
		f, err := compose.Load(*file)
		if err != nil {
			return err
		}
		return export(f, *profile, absData, orDefault(*out, "dapr.yaml"), stdout)
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

func start(ctx context.Context, opts runner.Options, stdout io.Writer) error {
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
	fmt.Fprintf(opts.Progress, "\nall %d services healthy in %s (profile %s)\n\n", len(sys.Apps), time.Since(began).Round(time.Millisecond), sys.Profile)
	runner.PrintTable(ctx, opts.Progress, sys.State())
	if gw := sys.App("gateway"); gw != nil {
		fmt.Fprintf(opts.Progress, "\nBazaar is at %s\n", gw.AppURL())
	}
	if sys.MailURL != "" {
		fmt.Fprintf(opts.Progress, "Mail: %s/api/v1/messages (Mailpit's API; its web UI is not in the Go module), SMTP on %s\n", sys.MailURL, sys.SMTPAddr)
	}
	if sys.TracesURL != "" {
		fmt.Fprintf(opts.Progress, "Traces: %s/search (Jaeger's API; the shop's admin page draws them), OTLP/HTTP on %s\n", sys.TracesURL, sys.OTLPAddr)
	}
	fmt.Fprintln(opts.Progress, "\nPress Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(opts.Progress, "\nstopping…")
	sys.Stop()
	fmt.Fprintln(opts.Progress, "stopped")
	return nil
}

func export(f *compose.File, profile, dataDir, out string, stdout io.Writer) error {
	_, prof, err := f.Profile(profile)
	if err != nil {
		return err
	}
	for _, r := range prof.Requires {
		if r == "nats" {
			fmt.Fprintln(stdout, "note: this profile needs the NATS server that `bazaar run` embeds; run `nats-server -js` on 127.0.0.1:4222 beside `dapr run -f`.")
		}
	}
	resources, config, err := runner.Render(f, prof, filepath.Join(dataDir, "export"), map[string]string{
		"DATA_DIR": dataDir, "SECRETS_FILE": filepath.Join(dataDir, "secrets", "bazaar.json"),
		"PAYMENT_SECRETS_FILE": filepath.Join(dataDir, "secrets", "payment.json"), "NATS_URL": "nats://127.0.0.1:4222", "NATS_TOKEN": "",
		"REDIS_ADDR": "127.0.0.1:6379", "REDIS_PASSWORD": "",
		"POSTGRES_CONN": "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable",
		"OTLP_ENDPOINT": "127.0.0.1:4318", "TRACE_SAMPLING_RATE": "1",
		"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "1025",
	})
	if err != nil {
		return err
	}
	b, err := runner.Export(f, resources, config)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (components rendered into %s)\n", out, filepath.Join(dataDir, "export"))
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
