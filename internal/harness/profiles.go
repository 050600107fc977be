package harness

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bazaar-shop/bazaar/internal/runner"
)

// Profiles records a CPU profile of every app and every sidecar of sys for
// d, all at once, into the folder BAZAAR_PROFILES names, as
// <name>-<app>.cpu.pprof and <name>-<app>-dapr.cpu.pprof (read them with
// `go tool pprof -top`). It returns at once; wait() blocks until every
// profile is written. Without BAZAAR_PROFILES it records nothing: a
// benchmark calls it around the load it measures, and a profiled run is
// one the developer asked for (profiling costs a few percent).
func Profiles(t testing.TB, sys *runner.System, name string, d time.Duration) (wait func()) {
	dir := os.Getenv("BAZAAR_PROFILES")
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: d + 30*time.Second}
	var wg sync.WaitGroup
	for _, a := range sys.Apps {
		for file, url := range map[string]string{a.Name(): a.AppProfileURL(), a.Name() + "-dapr": a.SidecarProfileURL()} {
			if url == "" {
				continue
			}
			wg.Go(func() {
				path := filepath.Join(dir, fmt.Sprintf("%s-%s.cpu.pprof", name, file))
				if err := fetchProfile(client, fmt.Sprintf("%s/profile?seconds=%d", url, int(d.Seconds())), path); err != nil {
					t.Errorf("profile of %s: %v", file, err)
				}
			})
		}
	}
	return wg.Wait
}

func fetchProfile(client *http.Client, url, path string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", url, resp.Status, body)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
