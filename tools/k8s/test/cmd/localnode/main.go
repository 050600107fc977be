// Command localnode is `make k8s-up` and `make k8s-down`: Bazaar on a real
// one-node Kubernetes cluster built on this machine, left running until it
// is stopped. The cluster and the shop are started by package e2e, the same
// code `make k8s-e2e` tests (docs/kubernetes.md, "A real node").
//
//	localnode up     start the cluster and the shop in the background; wait until the shop answers; print its URL
//	localnode down   stop them and remove everything they put on the host
//	localnode serve  what `up` runs in the background (its output is in <state>/localnode.log)
//
// It needs root: a bridge, iptables rules, mounts and containers.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/e2e"
)

// Files in the state directory.
const (
	pidFile    = "localnode.pid"   // the serving process
	logFile    = "localnode.log"   // its output
	readyFile  = "ready.json"      // written once the shop answers
	resultFile = "teardown.result" // "ok", or what the teardown left
)

// ready is what `up` prints and `down` reads.
type ready struct {
	URL        string `json:"url"`
	Kubeconfig string `json:"kubeconfig"`
	Mail       string `json:"mail"`
	NodeDir    string `json:"nodeDir"`
}

func main() {
	fs := flag.NewFlagSet("localnode", flag.ExitOnError)
	root := fs.String("root", ".", "the repository")
	state := fs.String("state", "bin/local-node", "where the process id, the log and the shop's address are kept (not under -node-dir or bin/k8s: the teardown kills what names those)")
	nodeDir := fs.String("node-dir", "/tmp/bazaar-node", "the node's state: certificates, logs, containerd's root (a short path: containerd's sockets live under it)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: localnode up|down|serve [flags]\n\n")
		fs.PrintDefaults()
	}
	if len(os.Args) < 2 {
		fs.Usage()
		os.Exit(2)
	}
	_ = fs.Parse(os.Args[2:])
	l := launcher{root: *root, state: *state, nodeDir: *nodeDir}
	var code int
	switch os.Args[1] {
	case "up":
		code = l.up()
	case "down":
		code = l.down()
	case "serve":
		code = l.serve()
	default:
		fs.Usage()
		code = 2
	}
	os.Exit(code)
}

type launcher struct{ root, state, nodeDir string }

func (l launcher) path(name string) string { return filepath.Join(l.state, name) }

// up starts `serve` in its own session, so that it outlives make, and
// follows its log until the shop answers or it fails.
func (l launcher) up() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "make k8s-up needs root: a bridge, iptables rules, mounts and containers")
		return 1
	}
	if pid, ok := l.serving(); ok {
		if r, err := l.ready(); err == nil {
			fmt.Printf("Already running (process %d).\n", pid)
			printReady(r)
			return 0
		}
		fmt.Printf("Already starting (process %d): %s\n", pid, l.path(logFile))
		return 1
	}
	if err := os.MkdirAll(l.state, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, f := range []string{readyFile, resultFile} {
		_ = os.Remove(l.path(f))
	}
	out, err := os.Create(l.path(logFile))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer out.Close()
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command(self, "serve", "-root", l.root, "-state", l.state, "-node-dir", l.nodeDir)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(l.path(pidFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	fmt.Printf("Starting the cluster and the shop (about 3 minutes; log: %s).\n", l.path(logFile))
	follow := l.follower(false)
	for {
		follow()
		select {
		case <-exited:
			follow()
			fmt.Fprintf(os.Stderr, "\nThe cluster did not start; the log is %s, the node's logs under %s/logs.\n", l.path(logFile), l.nodeDir)
			_ = os.Remove(l.path(pidFile))
			return 1
		case <-time.After(500 * time.Millisecond):
		}
		if r, err := l.ready(); err == nil {
			follow()
			fmt.Println()
			printReady(r)
			return 0
		}
	}
}

// down stops the serving process, which tears the node down, and waits for
// it; if that process is gone, it sweeps what the node left.
func (l launcher) down() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "make k8s-down needs root")
		return 1
	}
	pid, ok := l.serving()
	if !ok {
		if _, err := net.InterfaceByName(e2e.Bridge); err != nil && !exists(filepath.Join(l.nodeDir, "pids")) {
			fmt.Println("No cluster is running.")
			return 0
		}
		fmt.Printf("The process that started the cluster is gone; sweeping what the node in %s left.\n", l.nodeDir)
		t := newCLI()
		e2e.Sweep(t, l.nodeDir, filepath.Join(l.root, "bin/k8s"))
		l.forget()
		if t.Failed() {
			return 1
		}
		_ = os.RemoveAll(l.nodeDir)
		return 0
	}
	fmt.Printf("Stopping the cluster (process %d).\n", pid)
	_ = os.Remove(l.path(resultFile))
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	follow := l.follower(true) // what the teardown writes
	deadline := time.Now().Add(10 * time.Minute)
	for {
		follow()
		if _, alive := l.serving(); !alive {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "process %d did not stop in 10 minutes: killing it and sweeping\n", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t := newCLI()
			e2e.Sweep(t, l.nodeDir, filepath.Join(l.root, "bin/k8s"))
			l.forget()
			return 1
		}
		time.Sleep(500 * time.Millisecond)
	}
	follow()
	l.forget()
	result, _ := os.ReadFile(l.path(resultFile))
	if strings.TrimSpace(string(result)) != "ok" {
		fmt.Fprintf(os.Stderr, "The teardown did not finish cleanly (%s): %s\n", l.path(logFile), strings.TrimSpace(string(result)))
		return 1
	}
	_ = os.RemoveAll(l.nodeDir)
	fmt.Println("Stopped: nothing of the cluster is left on the host.")
	return 0
}

// serve starts the cluster and the shop, writes ready.json, waits for
// SIGTERM or SIGINT, then tears everything down. A signal that comes while
// the cluster starts is acted on once the start ends.
func (l launcher) serve() int {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	t := newCLI()
	t.run(func() {
		paths, err := e2e.DefaultPaths(l.root)
		if err != nil {
			t.Fatal(err)
		}
		shop := e2e.StartShop(t, paths, e2e.Options{Dir: l.nodeDir})
		b, _ := json.MarshalIndent(ready{URL: e2e.ShopURL, Kubeconfig: shop.Kubeconfig, Mail: shop.Host.MailAPI, NodeDir: l.nodeDir}, "", "  ")
		if err := os.WriteFile(l.path(readyFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("ready; make k8s-down stops it")
		s := <-stop
		t.Logf("%s: stopping", s)
	})
	t.cleanUp()
	result := "ok"
	if t.Failed() {
		result = "failed: " + strings.Join(t.errors, "; ")
	}
	_ = os.WriteFile(l.path(resultFile), []byte(result+"\n"), 0o644)
	if t.Failed() {
		return 1
	}
	return 0
}

// serving is the serving process's id, if it runs.
func (l launcher) serving() (int, bool) {
	b, err := os.ReadFile(l.path(pidFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	// The same process, not another that took its id.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "serve") {
		return 0, false
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
		return 0, false
	}
	return pid, true
}

func (l launcher) ready() (ready, error) {
	var r ready
	b, err := os.ReadFile(l.path(readyFile))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

func (l launcher) forget() {
	for _, f := range []string{pidFile, readyFile} {
		_ = os.Remove(l.path(f))
	}
}

// follower returns a function that prints what the log gained since the
// last call, from its start or, with fromEnd, from its current end.
func (l launcher) follower(fromEnd bool) func() {
	var offset int64
	if fi, err := os.Stat(l.path(logFile)); err == nil && fromEnd {
		offset = fi.Size()
	}
	return func() {
		f, err := os.Open(l.path(logFile))
		if err != nil {
			return
		}
		defer f.Close()
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return
		}
		n, _ := io.Copy(os.Stdout, f)
		offset += n
	}
}

func printReady(r ready) {
	fmt.Printf(`The shop:      %s
Kubeconfig:    %s   (export KUBECONFIG=%[2]s; bin/kubectl -n bazaar get pods)
E-mails:       %s   (Mailpit: order confirmations)
Node's state:  %s   (logs/ has every process's log)
Stop it with:  make k8s-down
`, r.URL, r.Kubeconfig, r.Mail, r.NodeDir)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// cli is kit.T for a command: it logs with the time, and Fatal ends the
// function that run runs, as it ends a test, before the cleanups run.
type cli struct {
	errors   []string
	cleanups []func()
}

type fatal struct{}

func newCLI() *cli { return &cli{} }

func (c *cli) Helper() {}

func (c *cli) Logf(format string, args ...any) {
	fmt.Printf("%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (c *cli) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.errors = append(c.errors, msg)
	c.Logf("ERROR: %s", msg)
}

func (c *cli) Fatal(args ...any) { c.Errorf("%s", fmt.Sprint(args...)); panic(fatal{}) }

func (c *cli) Fatalf(format string, args ...any) { c.Errorf(format, args...); panic(fatal{}) }

func (c *cli) Failed() bool { return len(c.errors) > 0 }

func (c *cli) Cleanup(f func()) { c.cleanups = append(c.cleanups, f) }

// run runs f, stopping at a Fatal.
func (c *cli) run(f func()) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				c.Errorf("panic: %v", r)
			}
		}
	}()
	f()
}

// cleanUp runs the cleanups, last registered first, each to its end.
func (c *cli) cleanUp() {
	for i := len(c.cleanups) - 1; i >= 0; i-- {
		c.run(c.cleanups[i])
	}
	c.cleanups = nil
}
