package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture lays out a folder with what a valid compose file points at.
func fixture(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{"components/embedded", "components/servers", "services/a", "services/b", "dapr"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	for _, f := range []string{"services/a/main.go", "services/b/main.go", "dapr/config.yaml"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("package main\n"), 0o644))
	}
	return dir
}

const valid = `name: shop
extensions:
  - name: dapr
    config: dapr/config.yaml
    default-profile: embedded
    profiles:
      embedded:
        components-path: components/embedded
        requires: [nats]
      servers:
        components-path: components/servers
services:
  - name: a
    project: services/a
    bindings:
      - port: 5001
  - name: b
    project: services/b
    replicas: 2
    dapr:
      app-id: bee
      app-protocol: grpc
`

func TestParseValid(t *testing.T) {
	dir := fixture(t)
	f, err := Parse([]byte(valid), "compose.yaml", dir)
	require.NoError(t, err)
	assert.Equal(t, "shop", f.Name)
	require.Len(t, f.Services, 2)
	assert.Equal(t, 5001, f.Services[0].Port())
	assert.Equal(t, 1, f.Services[0].Replicas, "replicas default to 1")
	assert.Equal(t, "bee", f.Services[1].AppID())
	assert.Equal(t, "grpc", f.Services[1].AppProtocol())
	assert.Equal(t, 13, f.Services[0].Line)
	name, p, err := f.Profile("")
	require.NoError(t, err)
	assert.Equal(t, "embedded", name)
	assert.Equal(t, []string{"nats"}, p.Requires)
}

func TestParseErrors(t *testing.T) {
	dir := fixture(t)
	replace := func(old, new string) string {
		require.Contains(t, valid, old)
		return strings.Replace(valid, old, new, 1)
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", replace("    project: services/a\n", "    project: services/a\n    prot: 1\n"),
			`compose.yaml:15: services[0].prot: unknown key "prot"`},
		{"unknown key in extension", replace("    config: dapr/config.yaml\n", "    confg: dapr/config.yaml\n"),
			`compose.yaml:4: extensions[0].confg: unknown key "confg"`},
		{"duplicate port", replace("    replicas: 2\n", "    bindings:\n      - port: 5001\n"),
			`compose.yaml:20: services[1].bindings[0].port: duplicate port 5001 (also services[0].bindings[0])`},
		{"missing project", replace("project: services/b", "project: services/nope"),
			`compose.yaml:18: services[1].project: no such folder`},
		{"no project or executable", replace("    project: services/b\n", ""),
			`compose.yaml:17: services[1]: needs a project or an executable`},
		{"duplicate app id", replace("app-id: bee", "app-id: a"),
			`compose.yaml:21: services[1].dapr.app-id: duplicate app id "a" (also services[0])`},
		{"bad protocol", replace("app-protocol: grpc", "app-protocol: ftp"),
			`compose.yaml:22: services[1].dapr.app-protocol: "ftp" is not http or grpc`},
		{"bad default profile", replace("default-profile: embedded", "default-profile: cloud"),
			`compose.yaml:5: extensions[0].default-profile: no profile "cloud"`},
		{"wrong type", replace("replicas: 2", "replicas: many"),
			`compose.yaml:19: cannot unmarshal !!str ` + "`many`"},
		{"list expected", replace("    bindings:\n      - port: 5001\n", "    bindings: 5001\n"),
			`compose.yaml:15: services[0].bindings: expected a list`},
		{"yaml syntax", "name: [shop\n", `compose.yaml:1:`},
		{"tracing port out of range", replace("    config: dapr/config.yaml\n", "    config: dapr/config.yaml\n    tracing:\n      query-port: 99999\n"),
			`compose.yaml:6: extensions[0].tracing.query-port: 99999 is not a port (0 picks a free one)`},
		{"tracing enabled not a bool", replace("    config: dapr/config.yaml\n", "    config: dapr/config.yaml\n    tracing:\n      enabled: perhaps\n"),
			`compose.yaml:6: cannot unmarshal`},
		{"replicas with a fixed port", replace("    bindings:\n      - port: 5001\n", "    replicas: 2\n    bindings:\n      - port: 5001\n"),
			`services[0].bindings[0].port: a fixed port cannot be shared by several replicas`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "compose.yaml", dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	f, err := Parse([]byte(valid), "compose.yaml", fixture(t))
	require.NoError(t, err)
	_, _, err = f.Profile("cloud")
	require.Error(t, err)
	assert.Equal(t, `compose.yaml:6: profiles: no profile "cloud" (profiles: embedded, servers)`, err.Error())
}

// TestRepositoryFile keeps the real compose.yaml valid.
func TestRepositoryFile(t *testing.T) {
	f, err := Load("../../compose.yaml")
	require.NoError(t, err)
	assert.NotEmpty(t, f.Services)
	for _, p := range []string{"embedded", "servers"} {
		_, _, err := f.Profile(p)
		assert.NoError(t, err)
	}
}

// TestSentryOffKeepsMTLSHonest refuses sentry: false while the sidecar
// configuration says mTLS is on, unless the file asks for plain text.
func TestSentryOffKeepsMTLSHonest(t *testing.T) {
	dir := fixture(t)
	config := "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nspec:\n  mtls:\n    enabled: true\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dapr/config.yaml"), []byte(config), 0o644))
	with := func(lines string) string {
		return strings.Replace(valid, "    config: dapr/config.yaml\n", "    config: dapr/config.yaml\n"+lines, 1)
	}

	_, err := Parse([]byte(with("    sentry: false\n")), "compose.yaml", dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "compose.yaml:5: extensions[0].sentry: sentry: false runs the sidecars without mTLS, but dapr/config.yaml:5 says mtls.enabled: true")

	f, err := Parse([]byte(with("    sentry: false\n    plaintext-between-sidecars: true\n")), "compose.yaml", dir)
	require.NoError(t, err, "plain text asked for in so many words")
	assert.False(t, On(f.Dapr().Sentry, true))

	_, err = Parse([]byte(with("    plaintext-between-sidecars: true\n")), "compose.yaml", dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "compose.yaml:5: extensions[0].plaintext-between-sidecars: plain text between sidecars needs sentry: false")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "dapr/config.yaml"), []byte(strings.Replace(config, "true", "false", 1)), 0o644))
	_, err = Parse([]byte(with("    sentry: false\n")), "compose.yaml", dir)
	assert.NoError(t, err, "the configuration itself says mTLS is off")
}
