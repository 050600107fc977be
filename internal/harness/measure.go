package harness

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bazaar-shop/bazaar/internal/runner"
)

// Percentile returns the p-th percentile (0–100) of durations.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// Ms expresses d in milliseconds, for benchmark metrics.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Memory reads a process's memory: dirty is its private dirty memory (heap,
// stacks: what it alone costs), pss its proportional share of everything it
// maps, which also counts its share of executable pages that several
// processes of the same binary share.
func Memory(pid int) (dirty, pss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Private_Dirty:":
			dirty = kb * 1024
		case "Pss:":
			pss = kb * 1024
		}
	}
	return dirty, pss, nil
}

// TimedGet sends a GET with header through client, checks for 200 and
// returns how long the whole exchange took, body included.
func TimedGet(tb testing.TB, client *http.Client, url string, header http.Header) time.Duration {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header = header
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return took
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// CPU is the CPU time (user + system) used so far by each process the
// system runs, by name ("catalog", "catalog-dapr", "scheduler", …). Each
// process leads its own process group, so the time of whatever it forked
// (PostgreSQL's backends) counts too, while they live. NATS runs inside the
// runner (the test binary) and is not counted.
func CPU(sys *runner.System) map[string]time.Duration {
	groups := map[int]string{}
	for name, pid := range sys.InfraPIDs() {
		groups[pid] = name
	}
	for _, a := range sys.Apps {
		groups[a.AppPID()] = a.Name()
		groups[a.SidecarPID()] = a.Name() + "-dapr"
	}
	out := map[string]time.Duration{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // it ended meanwhile
		}
		// After the command's closing parenthesis: state, ppid, pgrp, …,
		// utime and stime are the 12th and 13th fields.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		pgrp, _ := strconv.Atoi(f[2])
		name, ok := groups[pgrp]
		if !ok {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out[name] += time.Duration(utime+stime) * clockTick
	}
	return out
}

// CPUSince is how much CPU each process used since before, a CPU reading.
func CPUSince(sys *runner.System, before map[string]time.Duration) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, t := range CPU(sys) {
		if d := t - before[name]; d > 0 {
			out[name] = d
		}
	}
	return out
}
