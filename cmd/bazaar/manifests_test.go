package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

func TestManifestsWritesAKustomizeBase(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := run(context.Background(), []string{"manifests", "-f", filepath.Join(harness.Root(), "compose.yaml"), "-o", dir},
		func(string) string { return "" }, &out, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "wrote ")
	for _, name := range []string{"kustomization.yaml", "dapr-components.yaml", "app-gateway.yaml"} {
		_, err := os.Stat(filepath.Join(dir, name))
		assert.NoError(t, err, name)
	}
}
