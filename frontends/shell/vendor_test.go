package main

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The vendored htmx is the version package.json pins (make htmx).
func TestVendoredHTMXIsThePinnedVersion(t *testing.T) {
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	raw, err := os.ReadFile("package.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &pkg))
	js, err := os.ReadFile("static/htmx.min.js")
	require.NoError(t, err)
	m := regexp.MustCompile(`version:"([0-9.]+)"`).FindSubmatch(js)
	require.NotNil(t, m, "no version in static/htmx.min.js")
	assert.Equal(t, pkg.DevDependencies["htmx.org"], string(m[1]))
}
