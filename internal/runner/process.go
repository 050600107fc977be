package runner

import (
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one supervised child: started in its own process group so that
// stopping it also stops whatever it spawned, killed with the runner if the
// runner dies (Pdeathsig), and restarted with backoff when it crashes.
type process struct {
	name    string
	command func() *exec.Cmd
	out     io.Writer
	events  io.Writer // where crashes and restarts are reported
	restart bool
	// exitedHook, if set, runs each time the child exits, before any
	// restart: a sidecar's address leaves name resolution at once.
	exitedHook func()

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	restarts int
	holdFor  time.Duration // the next restart waits this long (an outage)
	exited   chan struct{} // closed when the supervisor loop ends
	waitErr  error
}

func (p *process) start() error {
	p.exited = make(chan struct{})
	cmd, err := p.spawn()
	if err != nil {
		close(p.exited)
		return err
	}
	go p.supervise(cmd)
	return nil
}

func (p *process) spawn() (*exec.Cmd, error) {
	cmd := p.command()
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Pdeathsig = true, syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	return cmd, nil
}

// supervise waits for the child and restarts it after a crash. A child that
// dies within stableAfter of its start is crash-looping: it backs off from
// 250 ms up to 15 s so that the loop does not eat the machine. One that ran
// longer comes back after 250 ms, however often it is killed: a customer's
// order waits on it, and the backoff was most of the recovery time under
// repeated kills (docs/dapr.md).
func (p *process) supervise(cmd *exec.Cmd) {
	defer close(p.exited)
	const firstBackoff, stableAfter = 250 * time.Millisecond, 2 * time.Second
	backoff := firstBackoff
	for {
		started := time.Now()
		err := cmd.Wait()
		if p.exitedHook != nil {
			p.exitedHook()
		}
		p.mu.Lock()
		stopping := p.stopping
		p.waitErr = err
		p.mu.Unlock()
		if stopping || !p.restart {
			if !stopping {
				fmt.Fprintf(p.events, "%s exited: %v\n", p.name, exitText(err))
			}
			return
		}
		if time.Since(started) >= stableAfter {
			backoff = firstBackoff
		}
		p.mu.Lock()
		wait := max(backoff, p.holdFor)
		p.holdFor = 0
		p.mu.Unlock()
		fmt.Fprintf(p.events, "%s crashed (%s); restarting in %s\n", p.name, exitText(err), wait)
		time.Sleep(wait)
		backoff = min(backoff*2, 15*time.Second)
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			return
		}
		p.restarts++
		p.mu.Unlock()
		next, err := p.spawn()
		if err != nil {
			fmt.Fprintf(p.events, "%s: %v\n", p.name, err)
			return
		}
		cmd = next
	}
}

// stop sends SIGTERM to the child's process group and SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	p.mu.Lock()
	p.stopping = true
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	// Reap anything left in the group (a grandchild that ignored SIGTERM).
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// kill ends the child abruptly, as a crash would; the supervisor restarts it.
func (p *process) kill() error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// killFor ends the child abruptly and keeps it down for at least d before
// the supervisor restarts it, as an outage would.
func (p *process) killFor(d time.Duration) error {
	p.mu.Lock()
	p.holdFor = d
	p.mu.Unlock()
	return p.kill()
}

func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *process) restartCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// running reports whether the supervisor still has a live child.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
