package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCleanStopIsQuiet replays what every process printed when `make run`
// was stopped with Ctrl-C (testdata/stop.log, recorded with Dapr 1.18.0 in
// both profiles: the scheduler's errors with their stack traces, placement's
// and the sidecars' closed streams, the workflow worker losing its sidecar,
// PostgreSQL and Redis saying goodbye). The terminal gets at most one line
// per process, and no stack trace; the log files keep every line.
func TestCleanStopIsQuiet(t *testing.T) {
	lines := recorded(t, "testdata/stop.log")
	var term bytes.Buffer
	dir := t.TempDir()
	mux := newLogMux(&term, false, false, dir)
	replay(mux, lines)

	perProcess := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(term.String()), "\n") {
		if name, _, ok := strings.Cut(l, " |"); ok {
			perProcess[strings.TrimSpace(name)]++
		}
	}
	for name, n := range perProcess {
		assert.LessOrEqual(t, n, 1, "%s printed %d lines on a clean stop", name, n)
	}
	assert.NotContains(t, term.String(), "stacktrace")

	for name, want := range lines {
		got, err := os.ReadFile(filepath.Join(dir, name+".log"))
		require.NoError(t, err)
		assert.Equal(t, strings.Join(want, "\n")+"\n", string(got), "the file keeps every line of %s", name)
	}

	var all bytes.Buffer
	replay(newLogMux(&all, false, true, ""), lines)
	assert.Contains(t, all.String(), "stacktrace", "-verbose shows everything")
}

// TestErrorsStillShow: what is not a process being stopped reaches the
// terminal, a zap error without its stack trace.
func TestErrorsStillShow(t *testing.T) {
	var term bytes.Buffer
	mux := newLogMux(&term, false, false, "")
	for name, line := range map[string]string{
		"scheduler":    `{"level":"error","ts":"2026-12-06T03:16:35.272507Z","logger":"diagrid-cron","msg":"failed to deliver job","error":"rpc error: code = Unavailable","stacktrace":"github.com/diagridio/go-etcd-cron/cron.(*cron).Run.func2\n\t/cron.go:194 \"quoted\""}`,
		"catalog-dapr": `time="2026-12-06T03:16:30Z" level=error msg="error getting state: database is locked" app_id=catalog`,
		"postgres":     `2026-12-06 03:18:33.792 UTC [2368] FATAL:  could not write to file "base/1/2": No space left on device`,
		"redis":        `2283:M 06 Dec 2026 03:18:33.822 # Error trying to save the DB, can't exit.`,
	} {
		fmt.Fprintln(mux.writer(name), line)
	}
	out := term.String()
	assert.Contains(t, out, `"msg":"failed to deliver job","error":"rpc error: code = Unavailable"}`)
	assert.NotContains(t, out, "stacktrace")
	assert.Contains(t, out, "database is locked")
	assert.Contains(t, out, "No space left on device")
	assert.Contains(t, out, "Error trying to save the DB")
}

// recorded reads a log of "name | line" lines, by process.
func recorded(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, line, ok := strings.Cut(sc.Text(), " | ")
		require.True(t, ok, "%q is not name | line", sc.Text())
		out[name] = append(out[name], line)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out)
	return out
}

func replay(mux *logMux, lines map[string][]string) {
	for name, ls := range lines {
		w := mux.writer(name)
		for _, l := range ls {
			_, _ = io.WriteString(w, l+"\n")
		}
	}
}

// TestSpansWithoutJaegerAreQuiet: while Jaeger is being built (a first run)
// every sidecar and app says so every few seconds; the terminal is spared,
// the log files keep it.
func TestSpansWithoutJaegerAreQuiet(t *testing.T) {
	var term bytes.Buffer
	dir := t.TempDir()
	mux := newLogMux(&term, false, false, dir)
	for name, line := range map[string]string{
		"identity-dapr": `2026/12/06 09:52:58 traces export: Post "http://127.0.0.1:4318/v1/traces": dial tcp 127.0.0.1:4318: connect: connection refused`,
		"identity":      `{"time":"2026-12-06T09:53:04Z","level":"INFO","msg":"traces export: Post \"http://127.0.0.1:4318/v1/traces\": dial tcp 127.0.0.1:4318: connect: connection refused","service":"identity"}`,
	} {
		fmt.Fprintln(mux.writer(name), line)
	}
	assert.Empty(t, term.String())
	kept, err := os.ReadFile(filepath.Join(dir, "identity-dapr.log"))
	require.NoError(t, err)
	assert.Contains(t, string(kept), "traces export")
}
