package k8s

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// repoRoot is the repository's folder, found from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

const baseDir = "deploy/base"

// TestCommittedManifestsAreCurrent: what is committed in deploy/base is what
// the generator makes of today's compose.yaml, dapr/config.yaml and
// components/.
func TestCommittedManifestsAreCurrent(t *testing.T) {
	f, err := compose.Load(filepath.Join(repoRoot(), "compose.yaml"))
	require.NoError(t, err)
	want, err := Generate(f, DefaultOptions())
	require.NoError(t, err)

	dir := filepath.Join(repoRoot(), baseDir)
	committed, err := generatedFiles(dir)
	require.NoError(t, err)
	var names []string
	for _, p := range committed {
		names = append(names, filepath.Base(p))
	}
	const hint = "deploy/base is out of date: run make k8s-manifests and commit the result"
	assert.ElementsMatch(t, sortedKeys(want), names, "%s (files differ)", hint)
	for _, name := range sortedKeys(want) {
		if !slices.Contains(names, name) {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, string(want[name]), string(got), "%s (%s differs)", hint, name)
	}
}

func TestGenerateRefusesAServiceItCannotSize(t *testing.T) {
	f, err := compose.Load(filepath.Join(repoRoot(), "compose.yaml"))
	require.NoError(t, err)
	f.Services = append(f.Services, compose.Service{Name: "search", Project: "services/catalog"})
	_, err = Generate(f, DefaultOptions())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service search has no sizing")
}

func TestWriteRemovesFilesNoLongerGenerated(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app-old.yaml"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("kept"), 0o644))
	require.NoError(t, Write(dir, map[string][]byte{"kustomization.yaml": []byte("y")}))
	_, err := os.Stat(filepath.Join(dir, "app-old.yaml"))
	assert.True(t, os.IsNotExist(err))
	_, err = os.Stat(filepath.Join(dir, "README.md"))
	assert.NoError(t, err)
}
