package limit

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Memory is a Counts in one process's memory, for unit tests: counts in
// memory hold for one replica only.
type Memory struct {
	mu     sync.Mutex
	counts map[string]memoryCount
	now    func() time.Time
}

type memoryCount struct {
	n       int
	version int
	expires time.Time
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{counts: map[string]memoryCount{}, now: time.Now} }

// Get implements Counts.
func (m *Memory) Get(_ context.Context, key string) (int, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.counts[key]
	if !ok || m.now().After(c.expires) {
		return 0, "", nil
	}
	return c.n, strconv.Itoa(c.version), nil
}

// Put implements Counts.
func (m *Memory) Put(_ context.Context, key string, n int, version string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.counts[key]
	if ok && m.now().After(c.expires) {
		ok = false
	}
	if (ok && strconv.Itoa(c.version) != version) || (!ok && version != "") {
		return ErrConflict
	}
	m.counts[key] = memoryCount{n: n, version: c.version + 1, expires: m.now().Add(ttl)}
	return nil
}

// Delete implements Counts.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.counts, key)
	return nil
}
