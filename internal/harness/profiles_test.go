package harness_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestProfiles: with profiling on, an app and its sidecar each serve a CPU
// profile (gzipped pprof) that Profiles keeps; with it off, neither serves
// one.
func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BAZAAR_PROFILES", dir)
	sys := harness.Start(t, harness.Options{Profile: "embedded", Services: []string{"catalog"}})
	harness.Profiles(t, sys, "test", time.Second)()
	for _, name := range []string{"test-catalog.cpu.pprof", "test-catalog-dapr.cpu.pprof"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Greater(t, len(data), 2, name)
		assert.Equal(t, []byte{0x1f, 0x8b}, data[:2], "%s is a gzipped profile", name)
	}

	t.Setenv("BAZAAR_PROFILES", "")
	off := harness.Start(t, harness.Options{Profile: "embedded", Services: []string{"catalog"}})
	catalog := off.App("catalog")
	assert.Empty(t, catalog.AppProfileURL(), "off by default")
	assert.Empty(t, catalog.SidecarProfileURL(), "off by default")
}
