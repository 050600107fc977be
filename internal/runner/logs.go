package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// logMux interleaves the output of many processes line by line, each line
// behind its process's name, so that concurrent writers never split a line.
// Every line also goes to the process's own file in the logs folder (which
// `bazaar logs` follows); the terminal is spared the known noise (noise)
// unless verbose.
type logMux struct {
	mu      sync.Mutex
	out     io.Writer
	color   bool
	verbose bool
	dir     string // the logs folder; empty: no files
	width   int
	next    int
}

var palette = []string{"36", "33", "35", "32", "34", "91", "96", "93", "95", "92"}

func newLogMux(out io.Writer, color, verbose bool, dir string) *logMux {
	return &logMux{out: out, color: color, verbose: verbose, dir: dir, width: 10}
}

// noise are the lines that tell a person nothing at every start and stop:
// the embedded etcd's and the schedulers' start-up chatter, the SDK's and
// the workflow worker's greetings, warnings about defaults Bazaar chose on
// purpose, and what every process says when it is stopped (a clean stop
// shows nothing but the runner's own lines). Other errors always show.
var noise = regexp.MustCompile(strings.Join([]string{
	`"level":"(debug|info|warn)"`, // the scheduler's embedded etcd (zap)
	`API Token loaded from the environment variable`,
	`Graceful shutdown timeout is infinite`,
	`connecting work item listener stream|starting background processor`,
	`Marking prefixes as undeliverable for one caller`,
	`application version: git-commit=|ui assets not embedded in the binary`, // Jaeger, built without its web UI
	`smtp binding warn: User and password are empty`,                        // Mailpit on loopback takes mail without a login
	// Spans sent while Jaeger is not there (still being built on a first
	// run, or restarting): dropped, as spans may be; the runner reports
	// Jaeger's own troubles.
	`traces export: .*connection refused`,
	// What a stop says: each process hears that its own context ended or
	// that a peer went away (a sidecar's stream to placement, placement's
	// streams to the sidecars, the scheduler's leadership, the workflow
	// worker's stream to its sidecar, the broker's draining connection).
	// A crash is reported by the runner itself, not by these.
	`level=(warning|error) msg="[^"]*context canceled`,
	`level=warning msg="Error receiving from stream [^"]*: EOF"`,
	`"level":"error".*"error":"context canceled"|"msg":"cron instance shutting down during leadership re-election"`,
	`nats: error while unsubscribing from topic [^ ]+: nats: connection draining`,
	`background processor received stream error|received grpc error code Unavailable|error initializing work item listener stream`,
	`\[db\] got terminated signal, shutting down`, // Mailpit
	// PostgreSQL's and Redis's own notices, at start and stop: its LOG
	// level, and Redis's notices (*) and its few warnings (#) that only
	// say it starts or stops.
	`^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] LOG: `,
	`^\d+:[CMSX] \d\d \w{3} \d{4} [\d:.]+ [*.-] `,
	`oO0OoO0OoO0Oo Redis is starting|# Redis version=|# Configuration loaded|# Server initialized|Received SIGTERM scheduling shutdown|# User requested shutdown|# Redis is now ready to exit`,
}, "|"))

// stackTrace is the stack a zap logger (the scheduler's) adds to an error:
// the terminal shows the error without it, the log file keeps it.
var stackTrace = regexp.MustCompile(`,"stacktrace":"(?:[^"\\]|\\.)*"`)

// writer returns an io.Writer whose lines appear behind name.
func (m *logMux) writer(name string) io.Writer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(name) > m.width {
		m.width = len(name)
	}
	c := palette[m.next%len(palette)]
	m.next++
	w := &prefixWriter{mux: m, name: name, color: c}
	if m.dir != "" {
		if err := os.MkdirAll(m.dir, 0o700); err == nil {
			w.file, _ = os.OpenFile(filepath.Join(m.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		}
	}
	return w
}

type prefixWriter struct {
	mux   *logMux
	name  string
	color string
	file  *os.File // nil: none
	buf   []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	// A writer that never ends its line still gets seen.
	if len(w.buf) > 64<<10 {
		w.emit(w.buf)
		w.buf = nil
	}
	return len(p), nil
}

func (w *prefixWriter) emit(line []byte) {
	m := w.mux
	m.mu.Lock()
	defer m.mu.Unlock()
	if w.file != nil {
		_, _ = w.file.Write(append(line, '\n'))
	}
	if !m.verbose {
		if noise.Match(line) {
			return
		}
		line = stackTrace.ReplaceAll(line, nil)
	}
	if m.color {
		fmt.Fprintf(m.out, "\x1b[%sm%-*s |\x1b[0m %s\n", w.color, m.width, w.name, line)
	} else {
		fmt.Fprintf(m.out, "%-*s | %s\n", m.width, w.name, line)
	}
}
