package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
		return fmt.Errorf("%s has exited:\n%s", p.name, tail(p.log.Name(), 8))
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

// tail returns the last n lines of a log that are not informational.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if informational(line) {
			continue
		}
		if len(line) > 400 {
			line = line[:400] + "…"
		}
		lines = append(lines, line)
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// informational tells the info lines of klog, etcd, containerd and Dapr apart.
func informational(line string) bool {
	for _, info := range []string{`"level":"info"`, `"level":"INFO"`, "level=info", `"level":"warn"`, "level=debug"} {
		if strings.Contains(line, info) {
			return true
		}
	}
	return strings.HasPrefix(line, "I") && len(line) > 5 && line[1] >= '0' && line[1] <= '9'
}

// waitFor polls cond every 250 ms until it holds, fails or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }
