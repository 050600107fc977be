package runner

import (
	"fmt"
	"net"
	"sync"
)

// portPool hands out free loopback ports, never the same one twice in a run.
type portPool struct {
	mu    sync.Mutex
	taken map[int]bool
}

func newPortPool() *portPool { return &portPool{taken: map[int]bool{}} }

// free asks the kernel for an unused port. Another process could take it
// before the child binds it; the child then fails loudly and is reported.
func (p *portPool) free() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !p.taken[port] {
			p.taken[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free port: the kernel kept returning taken ones")
}

// claim reserves a fixed port after checking that nothing listens on it.
func (p *portPool) claim(port int, what string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("port %d for %s is already in use (stop what holds it, or change it in compose.yaml)", port, what)
	}
	l.Close()
	p.taken[port] = true
	return nil
}

// pick returns port if it is fixed (non-zero), after claiming it, or a free one.
func (p *portPool) pick(port int, what string) (int, error) {
	if port == 0 {
		return p.free()
	}
	return port, p.claim(port, what)
}
