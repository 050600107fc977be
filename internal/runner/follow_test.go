package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFollowOneService(t *testing.T) {
	data := t.TempDir()
	m := newLogMux(&syncBuffer{}, false, false, filepath.Join(data, "logs"))
	app, sidecar, other := m.writer("catalog"), m.writer("catalog-dapr"), m.writer("catalog-admin")
	_, _ = app.Write([]byte("old 1\nold 2\nold 3\n"))
	_, _ = other.Write([]byte("not catalog's\n"))

	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error)
	go func() { done <- Follow(ctx, data, "catalog", 2, &out) }()
	time.Sleep(100 * time.Millisecond)
	_, _ = sidecar.Write([]byte("sidecar line\n"))
	_, _ = app.Write([]byte("new line\n"))
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "new line") }, 3*time.Second, 50*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	got := out.String()
	assert.NotContains(t, got, "old 1", "only the last 2 lines of the past")
	assert.Contains(t, got, "catalog      | old 2\n")
	assert.Contains(t, got, "catalog-dapr | sidecar line\n")
	assert.NotContains(t, got, "not catalog's")

	err := Follow(context.Background(), data, "nope", 10, &out)
	assert.ErrorContains(t, err, `no service "nope"`)
	assert.ErrorContains(t, err, "catalog, catalog-admin")
}

func TestNoiseStaysInTheFiles(t *testing.T) {
	data := t.TempDir()
	var term syncBuffer
	m := newLogMux(&term, false, false, filepath.Join(data, "logs"))
	w := m.writer("scheduler")
	_, _ = w.Write([]byte(`{"level":"info","msg":"starting an etcd server"}` + "\n" + `{"level":"error","msg":"disk full"}` + "\n"))
	assert.NotContains(t, term.String(), "etcd server")
	assert.Contains(t, term.String(), "disk full")
	file, err := os.ReadFile(filepath.Join(data, "logs", "scheduler.log"))
	require.NoError(t, err)
	assert.Contains(t, string(file), "etcd server", "the file keeps everything")
}
