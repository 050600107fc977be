package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "a.yaml"), []byte("url: ${NATS_URL}\nid: '{appID}'\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "notes.txt"), []byte("${NOPE}"), 0o644))
	require.NoError(t, render(src, dst, map[string]string{"NATS_URL": "nats://127.0.0.1:1"}))
	b, err := os.ReadFile(filepath.Join(dst, "a.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "url: nats://127.0.0.1:1\nid: '{appID}'\n", string(b))
	st, err := os.Stat(filepath.Join(dst, "a.yaml"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "rendered files may hold passwords")
	assert.NoFileExists(t, filepath.Join(dst, "notes.txt"))

	require.NoError(t, os.WriteFile(filepath.Join(src, "b.yaml"), []byte("x: ${REDIS_ADR}\n"), 0o644))
	err = render(src, dst, map[string]string{"NATS_URL": "x", "REDIS_ADDR": "y"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "b.yaml: unknown variable ${REDIS_ADR} (known: NATS_URL, REDIS_ADDR)")
}

func TestLogMuxKeepsLinesWhole(t *testing.T) {
	var out lockedWriter
	m := newLogMux(&out, false, false, "")
	a, b := m.writer("a"), m.writer("bb")
	_, _ = a.Write([]byte("hel"))
	_, _ = b.Write([]byte("one\ntw"))
	_, _ = a.Write([]byte("lo\n"))
	_, _ = b.Write([]byte("o\n"))
	assert.Equal(t, "bb         | one\na          | hello\nbb         | two\n", out.String())
}

type lockedWriter struct{ b []byte }

func (w *lockedWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *lockedWriter) String() string              { return string(w.b) }
