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
// system runs, by name ("catalog", "catalog-dapr", "scheduler", …), its
// descendants included while they live (PostgreSQL's backends, which lead
// process groups of their own). NATS runs inside the runner (the test
// binary) and is not counted.
func CPU(sys *runner.System) map[string]time.Duration {
	named := map[int]string{}
	for name, pid := range sys.InfraPIDs() {
		named[pid] = name
	}
	for _, a := range sys.Apps {
		named[a.AppPID()] = a.Name()
		named[a.SidecarPID()] = a.Name() + "-dapr"
	}
	type proc struct {
		ppid int
		cpu  time.Duration
	}
	procs := map[int]proc{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // it ended meanwhile
		}
		// After the command's closing parenthesis: state, ppid, …, with
		// utime and stime the 12th and 13th fields.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid: ppid, cpu: time.Duration(utime+stime) * clockTick}
	}
	out := map[string]time.Duration{}
	for pid, p := range procs {
		// Charge each process to the nearest named ancestor (or itself).
		for at, depth := pid, 0; at > 1 && depth < 8; at, depth = procs[at].ppid, depth+1 {
			if name, ok := named[at]; ok {
				out[name] += p.cpu
				break
			}
		}
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
