package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckFindsPlantedBuildOutputs(t *testing.T) {
	root := t.TempDir()
	write := func(name string, b []byte) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, name), b, 0o644))
	}
	write("main.go", []byte("package main\n\nfunc main() {}\n"))
	write("big.txt", make([]byte, maxSize+1))
	write("vendored.min.js", make([]byte, maxSize+1))

	// A real compiled program, as `go build` leaves it in the tree.
	exe := filepath.Join(root, "services", "catalog", "catalog")
	require.NoError(t, os.MkdirAll(filepath.Dir(exe), 0o755))
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Dir = filepath.Join(root)
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("module planted\n\ngo 1.26\n"), 0o644))
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	problems, err := check(root, []string{"go.mod", "main.go", "big.txt", "vendored.min.js", "services/catalog/catalog"}, []string{"vendored.min.js"})
	require.NoError(t, err)
	require.Len(t, problems, 2)
	assert.Contains(t, problems[0], "big.txt")
	assert.Contains(t, problems[1], "services/catalog/catalog")
}

func TestCheckPassesOnThisRepository(t *testing.T) {
	out, err := exec.Command("git", "-C", "../..", "ls-files", "-z").Output()
	require.NoError(t, err)
	var files []string
	start := 0
	for i, b := range out {
		if b == 0 {
			files = append(files, string(out[start:i]))
			start = i + 1
		}
	}
	problems, err := check("../..", files, allowed)
	require.NoError(t, err)
	assert.Empty(t, problems)
}
