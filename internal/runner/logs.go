package runner

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// logMux interleaves the output of many processes line by line, each line
// behind its process's name, so that concurrent writers never split a line.
type logMux struct {
	mu    sync.Mutex
	out   io.Writer
	color bool
	width int
	next  int
}

var palette = []string{"36", "33", "35", "32", "34", "91", "96", "93", "95", "92"}

func newLogMux(out io.Writer, color bool) *logMux {
	return &logMux{out: out, color: color, width: 10}
}

// writer returns an io.Writer whose lines appear behind name.
func (m *logMux) writer(name string) io.Writer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(name) > m.width {
		m.width = len(name)
	}
	c := palette[m.next%len(palette)]
	m.next++
	return &prefixWriter{mux: m, name: name, color: c}
}

type prefixWriter struct {
	mux   *logMux
	name  string
	color string
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
	if m.color {
		fmt.Fprintf(m.out, "\x1b[%sm%-*s |\x1b[0m %s\n", w.color, m.width, w.name, line)
	} else {
		fmt.Fprintf(m.out, "%-*s | %s\n", m.width, w.name, line)
	}
}
