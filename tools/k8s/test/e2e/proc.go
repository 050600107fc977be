package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

// proc is a process the node started, in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

// start runs path with args in its own process group, its output in
// dir/logs/name.log. The node stops it (stopAll), not the test's cleanups.
func (n *Node) start(name, path string, env []string, args ...string) *proc {
	return n.startCmd(name, exec.Command(path, args...), env)
}

func (n *Node) startCmd(name string, cmd *exec.Cmd, env []string) *proc {
	t := n.t
	t.Helper()
	logFile, err := os.Create(filepath.Join(n.Dir, "logs", name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Dir == "" {
		cmd.Dir = n.Dir
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(cleanEnv(), env...)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	// For Sweep, if this process ends before its teardown.
	if f, err := os.OpenFile(filepath.Join(n.Dir, "pids"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(f, "%s %d\n", name, cmd.Process.Pid)
		f.Close()
	}
	p := &proc{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	n.procs = append(n.procs, p)
	return p
}

// cleanEnv is this process's environment without proxy settings: every
// address the node uses is on this machine.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasSuffix(strings.ToLower(strings.SplitN(kv, "=", 2)[0]), "_proxy") {
			env = append(env, kv)
		}
	}
	return env
}

// exited says whether p has ended, with the end of its log.
func (p *proc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s has exited:\n%s", p.name, kit.Tail(p.log.Name(), 8))
	default:
		return nil
	}
}

// stop sends SIGTERM to p's process group, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
	// Whatever else ran in its group (a child it did not reap).
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	p.log.Close()
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }
