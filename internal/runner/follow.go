package runner

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Follow prints the log of one service of a running (or stopped) system,
// its replicas and their sidecars included, as `tail -f` would: the last
// lines of each, then every new line until ctx ends. The runner writes
// them into the data folder's logs/ (see logMux), noise and all.
func Follow(ctx context.Context, dataDir, service string, last int, out io.Writer) error {
	dir := filepath.Join(dataDir, "logs")
	own := regexp.MustCompile(`^` + regexp.QuoteMeta(service) + `(-[0-9]+)?(-dapr)?\.log$`)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("no logs in %s: has bazaar run with this data folder?", dataDir)
	}
	type source struct {
		name string
		r    *bufio.Reader
		f    *os.File
	}
	var sources []*source
	for _, e := range entries {
		if own.MatchString(e.Name()) {
			f, err := os.Open(filepath.Join(dir, e.Name()))
			if err != nil {
				return err
			}
			defer f.Close()
			sources = append(sources, &source{name: strings.TrimSuffix(e.Name(), ".log"), f: f})
		}
	}
	if len(sources) == 0 {
		var names []string
		for _, e := range entries {
			if n := strings.TrimSuffix(e.Name(), ".log"); !strings.HasSuffix(n, "-dapr") {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		return fmt.Errorf("no service %q in %s (logs for: %s)", service, dir, strings.Join(names, ", "))
	}
	width := 0
	for _, s := range sources {
		width = max(width, len(s.name))
		// Start at the last lines.
		b, err := io.ReadAll(s.f)
		if err != nil {
			return err
		}
		lines := strings.SplitAfter(string(b), "\n")
		if n := len(lines); n > 0 && lines[n-1] == "" {
			lines = lines[:n-1]
		}
		for _, l := range lines[max(0, len(lines)-last):] {
			fmt.Fprintf(out, "%-*s | %s", width, s.name, l)
		}
		s.r = bufio.NewReader(s.f)
	}
	for {
		for _, s := range sources {
			for {
				line, err := s.r.ReadString('\n')
				if err != nil {
					// A partial line is read again whole next time.
					if len(line) > 0 {
						_, _ = s.f.Seek(-int64(len(line)), io.SeekCurrent)
						s.r.Reset(s.f)
					}
					break
				}
				fmt.Fprintf(out, "%-*s | %s", width, s.name, line)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}
