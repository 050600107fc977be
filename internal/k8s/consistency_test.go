package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/bazaar-shop/bazaar/internal/compose"
)

// The consistency check reads the committed manifests as plain YAML and
// compares them with compose.yaml, dapr/config.yaml and components/ read on
// their own: it shares nothing with the generator, so a bug in one does not
// hide in the other.

type doc = map[string]any

func readYAMLDocs(path string) ([]doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []doc
	for {
		var d doc
		if err := dec.Decode(&d); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
}

// at walks keys through nested mappings; "" when a step is missing.
func at(d any, keys ...string) any {
	for _, k := range keys {
		m, ok := d.(doc)
		if !ok {
			return nil
		}
		d = m[k]
	}
	return d
}

func str(d any, keys ...string) string {
	switch v := at(d, keys...).(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func list(d any, keys ...string) []any {
	l, _ := at(d, keys...).([]any)
	return l
}

func sortedStrings(d any, keys ...string) []string {
	var out []string
	for _, v := range list(d, keys...) {
		out = append(out, fmt.Sprint(v))
	}
	sort.Strings(out)
	return out
}

// checkManifests compares the manifests in base with the local files under root.
func checkManifests(base, root string) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	f, err := compose.Load(filepath.Join(root, "compose.yaml"))
	if err != nil {
		return err
	}
	configDocs, err := readYAMLDocs(filepath.Join(root, "dapr", "config.yaml"))
	if err != nil {
		return err
	}
	if len(configDocs) != 1 {
		return fmt.Errorf("dapr/config.yaml: expected one document")
	}
	localConfig := configDocs[0]

	var manifests []doc
	paths, err := filepath.Glob(filepath.Join(base, "*.yaml"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		ds, err := readYAMLDocs(p)
		if err != nil {
			return err
		}
		manifests = append(manifests, ds...)
	}
	byKind := func(kind string) map[string]doc {
		out := map[string]doc{}
		for _, d := range manifests {
			if str(d, "kind") == kind {
				out[str(d, "metadata", "name")] = d
			}
		}
		return out
	}

	// Deployments: one per service, with the service's Dapr annotations.
	configName := str(localConfig, "metadata", "name")
	deployments := byKind("Deployment")
	appIDs := map[string]bool{}
	namespace := ""
	for _, s := range f.Services {
		appIDs[s.AppID()] = true
		d, ok := deployments[s.Name]
		if !ok {
			fail("service %s (compose.yaml) has no Deployment", s.Name)
			continue
		}
		delete(deployments, s.Name)
		namespace = str(d, "metadata", "namespace")
		ann := func(k string) string { return str(d, "spec", "template", "metadata", "annotations", "dapr.io/"+k) }
		want := map[string]string{"enabled": "true", "app-id": s.AppID(), "app-protocol": s.AppProtocol(), "config": configName,
			"enable-app-health-check": strconv.FormatBool(s.AppProtocol() == "http" && compose.On(s.Dapr.AppHealthCheck, false))}
		for k, v := range want {
			if got := ann(k); got != v {
				fail("Deployment %s: dapr.io/%s is %q, compose.yaml and dapr/config.yaml say %q", s.Name, k, got, v)
			}
		}
		containers := list(d, "spec", "template", "spec", "containers")
		if len(containers) != 1 {
			fail("Deployment %s: expected one container (the sidecar is injected), found %d", s.Name, len(containers))
			continue
		}
		c := containers[0]
		port := ann("app-port")
		if s.Port() != 0 && port != strconv.Itoa(s.Port()) {
			fail("Deployment %s: dapr.io/app-port is %s, compose.yaml binds port %d", s.Name, port, s.Port())
		}
		var containerPorts []string
		for _, p := range list(c, "ports") {
			containerPorts = append(containerPorts, str(p, "containerPort"))
		}
		if !slices.Contains(containerPorts, port) {
			fail("Deployment %s: dapr.io/app-port %s is not a port of the container (%v)", s.Name, port, containerPorts)
		}
		env := map[string]string{}
		for _, e := range list(c, "env") {
			env[str(e, "name")] = str(e, "value")
		}
		if env["APP_PORT"] != port {
			fail("Deployment %s: the app listens on APP_PORT=%s, its sidecar calls dapr.io/app-port %s", s.Name, env["APP_PORT"], port)
		}
		if env["APP_ID"] != s.AppID() {
			fail("Deployment %s: APP_ID=%s, compose.yaml's app id is %s", s.Name, env["APP_ID"], s.AppID())
		}
		for _, e := range s.Env {
			if got, ok := env[e.Name]; !ok || got != e.Value {
				fail("Deployment %s: %s=%q, compose.yaml says %q", s.Name, e.Name, got, e.Value)
			}
		}
	}
	for name := range deployments {
		fail("Deployment %s is no service of compose.yaml", name)
	}

	// Components: the same names, scopes and (translated) types as the
	// common and servers profiles.
	localComponents := map[string]doc{}
	for _, dir := range []string{"components/common", "components/servers"} {
		paths, err := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
		if err != nil {
			return err
		}
		for _, p := range paths {
			ds, err := readYAMLDocs(p)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if str(d, "kind") == "Component" {
					localComponents[str(d, "metadata", "name")] = d
				}
			}
		}
	}
	clusterComponents := byKind("Component")
	for name, local := range localComponents {
		c, ok := clusterComponents[name]
		if !ok {
			fail("component %s (components/) is not in the manifests", name)
			continue
		}
		if got, want := sortedStrings(c, "scopes"), sortedStrings(local, "scopes"); !slices.Equal(got, want) {
			fail("component %s: scopes %v on the cluster, %v in components/", name, got, want)
		}
		wantType := str(local, "spec", "type")
		if wantType == "secretstores.local.file" {
			wantType = "secretstores.kubernetes"
		}
		if got := str(c, "spec", "type"); got != wantType {
			fail("component %s: type %s on the cluster, %s in components/", name, got, wantType)
		}
		if got, want := str(c, "auth", "secretStore"), str(local, "auth", "secretStore"); got != want {
			fail("component %s: auth.secretStore %q on the cluster, %q in components/", name, got, want)
		}
		if ns := str(c, "metadata", "namespace"); ns != namespace {
			fail("component %s is in namespace %q, the apps in %q", name, ns, namespace)
		}
		for _, s := range sortedStrings(c, "scopes") {
			if !appIDs[s] {
				fail("component %s is scoped to %s, which is no app id of compose.yaml", name, s)
			}
		}
	}
	for name := range clusterComponents {
		if _, ok := localComponents[name]; !ok {
			fail("component %s is not in components/ (common, servers)", name)
		}
	}

	// Configuration: the same access-control policies, in the apps' namespace.
	configs := byKind("Configuration")
	cfg, ok := configs[configName]
	if !ok || len(configs) != 1 {
		fail("expected one Configuration, named %s as in dapr/config.yaml; found %d", configName, len(configs))
	} else {
		policyApps := func(d doc) []string {
			var out []string
			for _, p := range list(d, "spec", "accessControl", "policies") {
				out = append(out, str(p, "appId"))
			}
			return out
		}
		if got, want := policyApps(cfg), policyApps(localConfig); !slices.Equal(got, want) {
			fail("access control: policies for %v on the cluster, %v in dapr/config.yaml", got, want)
		}
		for _, p := range list(cfg, "spec", "accessControl", "policies") {
			if ns := str(p, "namespace"); ns != namespace {
				fail("access control: the policy for %s names namespace %q, the apps run in %q", str(p, "appId"), ns, namespace)
			}
			if id := str(p, "appId"); !appIDs[id] {
				fail("access control: a policy for %s, which is no app id of compose.yaml", id)
			}
		}
		if got, want := str(cfg, "spec", "accessControl", "defaultAction"), str(localConfig, "spec", "accessControl", "defaultAction"); got != want {
			fail("access control: defaultAction %q on the cluster, %q in dapr/config.yaml", got, want)
		}
		// mTLS is the control plane's on a cluster (Dapr's chart turns it
		// on); an app Configuration may only leave it alone.
		if str(cfg, "spec", "mtls", "enabled") == "false" {
			fail("the Configuration turns mTLS off")
		}
	}
	return errors.Join(errs...)
}

func TestManifestsAgreeWithTheLocalFiles(t *testing.T) {
	require.NoError(t, checkManifests(filepath.Join(repoRoot(), baseDir), repoRoot()))
}

// TestConsistencyCheckFails proves the check above can fail: each case
// changes one thing in a copy of the manifests.
func TestConsistencyCheckFails(t *testing.T) {
	for _, tc := range []struct{ name, file, from, to, err string }{
		{"app id", "app-catalog.yaml", "dapr.io/app-id: catalog", "dapr.io/app-id: katalog", `dapr.io/app-id is "katalog"`},
		{"app port", "app-gateway.yaml", `dapr.io/app-port: "8080"`, `dapr.io/app-port: "8081"`, "compose.yaml binds port 8080"},
		{"protocol", "app-payment.yaml", "dapr.io/app-protocol: grpc", "dapr.io/app-protocol: http", `dapr.io/app-protocol is "http"`},
		{"config name", "app-basket.yaml", "dapr.io/config: bazaar", "dapr.io/config: default", `dapr.io/config is "default"`},
		{"app health check", "app-ordering.yaml", `dapr.io/enable-app-health-check: "false"`, `dapr.io/enable-app-health-check: "true"`, "dapr.io/enable-app-health-check"},
		{"compose env", "app-ordering.yaml", "value: 10s", "value: 1s", "ORDERING_GRACE_PERIOD"},
		{"component name", "dapr-components.yaml", "name: ordering-store", "name: orders-store", "component ordering-store (components/) is not in the manifests"},
		{"component scopes", "dapr-components.yaml", "scopes: [basket]", "scopes: [basket, catalog]", "component basket-store: scopes"},
		{"policy app id", "dapr-configuration.yaml", "appId: notification", "appId: notifier", "access control: policies for"},
		{"mTLS off", "dapr-configuration.yaml", "spec:\n  metric:", "spec:\n  mtls: {enabled: false}\n  metric:", "turns mTLS off"},
		{"policy namespace", "dapr-configuration.yaml", "namespace: bazaar\n        operations", "namespace: default\n        operations", `names namespace "default"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(repoRoot(), baseDir)
			paths, err := filepath.Glob(filepath.Join(src, "*.yaml"))
			require.NoError(t, err)
			for _, p := range paths {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				if filepath.Base(p) == tc.file {
					b = []byte(replaceOnce(t, string(b), tc.from, tc.to))
				}
				require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644))
			}
			err = checkManifests(dir, repoRoot())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func replaceOnce(t *testing.T, s, from, to string) string {
	t.Helper()
	require.Contains(t, s, from, "the test's text to replace is gone")
	return strings.Replace(s, from, to, 1)
}
