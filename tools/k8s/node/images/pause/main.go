// pause: the pod sandbox's process. It holds the pod's namespaces and reaps
// nothing else: it blocks until SIGINT/SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	go func() { // reap zombies (pid 1 of a shared pid namespace)
		cc := make(chan os.Signal, 8)
		signal.Notify(cc, syscall.SIGCHLD)
		for range cc {
			for {
				var ws syscall.WaitStatus
				if pid, _ := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 {
					break
				}
			}
		}
	}()
	<-c
}
