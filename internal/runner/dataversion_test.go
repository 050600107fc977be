package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDataVersion(t *testing.T) {
	for _, c := range []struct {
		name, was, now string
		state          bool // the folder holds a run's state
		refused        string
	}{
		{name: "a new folder takes the runtime's version", now: "1.18.0"},
		{name: "a folder from before versions were recorded is 1.16.0", state: true, now: "1.18.0"},
		{name: "upgrade from 1.16", was: "1.16.0", now: "1.18.0"},
		{name: "same version", was: "1.18.0", now: "1.18.0"},
		{name: "downgrade", was: "1.18.0", now: "1.16.0", refused: "newer than this runtime"},
		{name: "from an untested version", was: "1.14.0", now: "1.18.0", refused: "no upgrade from it to 1.18.0 has been tested"},
		{name: "a development build", was: "1.18.0", now: "edge", refused: "not a release version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.state {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "state"), 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "state", "ordering.db"), []byte("x"), 0o600))
			}
			if c.was != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, dataVersionFile), []byte(c.was+"\n"), 0o600))
			}
			err := checkDataVersion(dir, c.now)
			recorded, _ := os.ReadFile(filepath.Join(dir, dataVersionFile))
			if c.refused != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.refused)
				assert.Contains(t, err.Error(), dir, "the error names the folder")
				assert.Equal(t, c.was+"\n", string(recorded), "a refused folder is left as it was")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.now+"\n", string(recorded))
		})
	}
}

// TestSigningStaysOffForUnsignedWorkflows: Dapr 1.18 refuses to load a
// workflow history written unsigned while history signing is on, so a
// folder whose sagas began on 1.16 keeps signing off, also after later
// starts; a new folder signs.
func TestSigningStaysOffForUnsignedWorkflows(t *testing.T) {
	fresh := t.TempDir()
	require.NoError(t, checkDataVersion(fresh, "1.18.0"))
	assert.Equal(t, "true", historySigning(fresh))

	upgraded := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(upgraded, "state"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(upgraded, "state", "ordering.db"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(upgraded, dataVersionFile), []byte("1.16.0\n"), 0o600))
	require.NoError(t, checkDataVersion(upgraded, "1.18.0"))
	assert.Equal(t, "false", historySigning(upgraded))
	require.NoError(t, checkDataVersion(upgraded, "1.18.0"), "the next start")
	assert.Equal(t, "false", historySigning(upgraded), "for good")
}
