package k8s

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestVariablesBecomeSecretKeyRefs(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        *secretKey // nil: the value stays as it is
		err         string
	}{
		{name: "plain value", value: "15s"},
		{name: "Dapr's own placeholder", value: "{appID}"},
		{name: "Redis address", value: "${REDIS_ADDR}", want: &secretKey{"bazaar-redis", "host"}},
		{name: "Redis password", value: "${REDIS_PASSWORD}", want: &secretKey{"bazaar-redis", "password"}},
		{name: "PostgreSQL", value: "${POSTGRES_CONN}", want: &secretKey{"bazaar-postgres", "connection-string"}},
		{name: "SMTP host", value: "${SMTP_HOST}", want: &secretKey{"bazaar-smtp", "host"}},
		{name: "a new variable", value: "${KAFKA_BROKERS}", err: "unknown variable ${KAFKA_BROKERS}"},
		{name: "a variable inside text", value: "redis://${REDIS_ADDR}/0", err: "mixes a variable with text"},
		{name: "a local path", value: "${DATA_DIR}/state/catalog.db", err: "mixes a variable with text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			item := mapping("name", "x", "value", tc.value)
			err := translateMetadata(item, "test")
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			if tc.want == nil {
				assert.Equal(t, tc.value, scalar(item, "value"))
				assert.Nil(t, lookup(item, "secretKeyRef"))
				return
			}
			ref := lookup(item, "secretKeyRef")
			require.NotNil(t, ref, "no secretKeyRef")
			assert.Nil(t, lookup(item, "value"))
			assert.Equal(t, *tc.want, secretKey{scalar(ref, "name"), scalar(ref, "key")})
		})
	}
}

func parseResource(t *testing.T, src string) *resource {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	return &resource{Source: "test.yaml", node: &doc}
}

func TestComponentsTheGeneratorCannotTranslate(t *testing.T) {
	for _, tc := range []struct{ name, src, err string }{
		{"unknown type", `
kind: Component
metadata: {name: cache}
spec: {type: state.mongodb, version: v1}`, `component type "state.mongodb" is not one the generator knows`},
		{"unknown kind", `
kind: Subscription
metadata: {name: orders}
spec: {topic: x}`, `unknown kind "Subscription"`},
		{"local secret store option without counterpart", `
kind: Component
metadata: {name: secrets}
spec:
  type: secretstores.local.file
  version: v1
  metadata:
    - {name: secretsFile, value: "${SECRETS_FILE}"}
    - {name: multiValued, value: "true"}`, `metadata "multiValued" of secretstores.local.file has no counterpart`},
		{"variable outside metadata", `
kind: Resiliency
metadata: {name: bazaar}
spec: {policies: {timeouts: {state: "${STATE_TIMEOUT}"}}}`, `unknown variable`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := translateComponent(parseResource(t, tc.src), "bazaar")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestLocalSecretStoreBecomesKubernetes(t *testing.T) {
	r := parseResource(t, `
kind: Component
metadata: {name: secrets}
spec:
  type: secretstores.local.file
  version: v1
  metadata:
    - {name: secretsFile, value: "${SECRETS_FILE}"}
scopes: [identity]`)
	require.NoError(t, translateComponent(r, "shop"))
	spec := lookup(r.node.Content[0], "spec")
	assert.Equal(t, "secretstores.kubernetes", scalar(spec, "type"))
	assert.Empty(t, lookup(spec, "metadata").Content, "the file's path has no meaning on the cluster (the schema wants the list, empty)")
	assert.Equal(t, "shop", scalar(lookup(r.node.Content[0], "metadata"), "namespace"))
	assert.Equal(t, []string{"identity"}, r.Scopes)
}

const config = `
kind: Configuration
metadata: {name: bazaar}
spec:
  nameResolution:
    component: sqlite
    configuration: {connectionString: "${DATA_DIR}/nameresolution.db"}
  tracing:
    samplingRate: "1"
    otel: {endpointAddress: "${OTLP_ENDPOINT}"}
  mtls: {enabled: true}
  features:
    - name: WorkflowHistorySigning
      enabled: ${WORKFLOW_HISTORY_SIGNING}
  accessControl:
    defaultAction: deny
    policies:
      - {appId: gateway, namespace: default}
      - {appId: basket, namespace: default}
`

func TestConfigurationForTheCluster(t *testing.T) {
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(config), &doc))
	name, apps, err := translateConfig(&doc, "config.yaml", configOptions{Namespace: "shop", TracingEndpoint: "otel:4318", SamplingRate: "0.1"})
	require.NoError(t, err)
	assert.Equal(t, "bazaar", name)
	assert.Equal(t, []string{"gateway", "basket"}, apps)
	spec := lookup(doc.Content[0], "spec")
	assert.Nil(t, lookup(spec, "nameResolution"), "Kubernetes DNS resolves apps")
	assert.Equal(t, "0.1", scalar(lookup(spec, "tracing"), "samplingRate"))
	assert.Equal(t, "otel:4318", scalar(lookup(lookup(spec, "tracing"), "otel"), "endpointAddress"))
	features := lookup(spec, "features")
	require.NotNil(t, features)
	for _, f := range features.Content {
		enabled := lookup(f, "enabled")
		assert.Equal(t, "!!bool", enabled.Tag, "feature %s: the CRD takes a boolean", scalar(f, "name"))
		assert.Equal(t, "true", enabled.Value, "feature %s: a cluster starts on 1.18, signed", scalar(f, "name"))
	}
	for _, p := range lookup(lookup(spec, "accessControl"), "policies").Content {
		assert.Equal(t, "shop", scalar(p, "namespace"), "policy for %s", scalar(p, "appId"))
	}
}

func TestConfigurationTheGeneratorCannotTranslate(t *testing.T) {
	for _, tc := range []struct{ name, from, to, err string }{
		{"a policy in another namespace", "{appId: basket, namespace: default}", "{appId: basket, namespace: shop-2}", `has namespace "shop-2"`},
		{"another name resolution", "component: sqlite", "component: mdns", `name resolution "mdns"`},
		{"mtls off", "mtls: {enabled: true}", "mtls: {enabled: false}", "mtls.enabled must be true"},
		{"a new variable", `samplingRate: "1"`, `samplingRate: "${SAMPLING}"`, "unknown variable"},
		{"an unknown field", "mtls: {enabled: true}", "mtls: {enabled: true}\n  wasm: {x: 1}", "spec.wasm is not one the generator knows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := replaceOnce(t, config, tc.from, tc.to)
			var doc yaml.Node
			require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
			_, _, err := translateConfig(&doc, "config.yaml", configOptions{Namespace: "shop"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}
