// Command benchsummary reads the output of `make bench` and prints one table
// of the figures that have a goal, each beside its goal, marked met or not,
// so that a regression shows at the end of the run instead of in a diff of
// docs/benchmarks.md. It is a report, not a test: it exits 0 whatever the
// figures (benchmarks are not timed tests), and 1 only if it cannot read.
//
//	go run ./cmd/benchsummary bench.out    # make bench runs it
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

// goal is one figure a benchmark reports and the bound it should meet.
type goal struct {
	what      string // what the figure is, for a reader
	benchmark string // benchmark name without the -GOMAXPROCS suffix
	unit      string // the unit b.ReportMetric gave it
	atLeast   bool   // the figure must be at least bound (else at most)
	bound     float64
	source    string // where the goal comes from
}

// goals are the issues' goals for the figures `make bench` measures.
var goals = []goal{
	{"anonymous home, 32 connections, make run's defaults", "BenchmarkPages/defaults", "anon-pages/s", true, 2000, "issue 22"},
	{"anonymous home at 200/s, p99", "BenchmarkPages/defaults", "anon-at-200/s-p99-ms", false, 25, "issue 22"},
	{"signed-in home, 32 connections", "BenchmarkPages/defaults", "signed-in-pages/s", true, 1000, "issue 22"},
	{"composition overhead (page / slowest fragment)", "BenchmarkPages/defaults", "composition-overhead-x", false, 1.3, "issue 5"},
	{"what tracing and metrics cost the anonymous home", "BenchmarkPages/defaults", "tracing-cost-%", false, 10, "issue 22"},
	{"gateway's added latency, p50", "BenchmarkGatewayOverhead", "added-p50-ms", false, 0.3, "issue 4"},
	{"checkout saturated, embedded", "BenchmarkCheckout/embedded/saturated", "paid/s", true, 60, "issue 22"},
	{"checkout saturated, servers", "BenchmarkCheckout/servers/saturated", "paid/s", true, 50, "issue 22"},
	{"checkout at 30/s, embedded, p99 submit-to-paid", "BenchmarkCheckout/embedded/paced-30", "p99-ms", false, 500, "issue 22"},
	{"checkout at 30/s, servers, p99 submit-to-paid", "BenchmarkCheckout/servers/paced-30", "p99-ms", false, 500, "issue 22"},
	{"ordering killed every 4 s, embedded, p99 submit-to-final", "BenchmarkCheckoutUnderRepeatedCrashes/embedded", "p99-s", false, 20, "issue 20"},
	{"ordering killed every 4 s, servers, p99 submit-to-final", "BenchmarkCheckoutUnderRepeatedCrashes/servers", "p99-s", false, 20, "issue 20"},
	{"orders not paid under those kills, embedded", "BenchmarkCheckoutUnderRepeatedCrashes/embedded", "not-paid", false, 0, "issue 20"},
	{"orders not paid under those kills, servers", "BenchmarkCheckoutUnderRepeatedCrashes/servers", "not-paid", false, 0, "issue 20"},
	{"private memory per app + sidecar pair, idle", "BenchmarkStart", "private-MB/pair", false, 40, "issue 2"},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchsummary BENCH_OUTPUT")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(1)
	}
	defer f.Close()
	figures, err := parse(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(1)
	}
	summarize(os.Stdout, figures)
}

// parse reads `go test -bench` output: each result line is the benchmark's
// name (with a -GOMAXPROCS suffix), the iterations, then value-unit pairs.
// It returns figures by benchmark name (suffix dropped) and unit.
func parse(r io.Reader) (map[string]map[string]float64, error) {
	figures := map[string]map[string]float64{}
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // a log line that starts with a benchmark's name
		}
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		units := figures[name]
		if units == nil {
			units = map[string]float64{}
			figures[name] = units
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			units[fields[i+1]] = v
		}
	}
	return figures, s.Err()
}

// summarize prints every goal with its figure: "met", "NOT MET", or "not
// measured" when the run did not report it (a benchmark that failed or was
// filtered out).
func summarize(w io.Writer, figures map[string]map[string]float64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmeasured\tgoal\t\tfrom")
	met, total := 0, 0
	for _, g := range goals {
		op := "≤"
		if g.atLeast {
			op = "≥"
		}
		bound := fmt.Sprintf("%s %s %s", op, strconv.FormatFloat(g.bound, 'f', -1, 64), g.unit)
		v, ok := figures[g.benchmark][g.unit]
		if !ok {
			fmt.Fprintf(tw, "%s\tnot measured\t%s\t\t%s\n", g.what, bound, g.source)
			continue
		}
		total++
		verdict := "NOT MET"
		if (g.atLeast && v >= g.bound) || (!g.atLeast && v <= g.bound) {
			verdict = "met"
			met++
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\n", g.what, strconv.FormatFloat(v, 'f', -1, 64), g.unit, bound, verdict, g.source)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d measured goals met (docs/benchmarks.md has the history)\n", met, total)
}
