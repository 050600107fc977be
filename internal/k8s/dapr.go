package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretKey names one key of one Kubernetes Secret.
type secretKey struct{ Secret, Key string }

// componentVariables are the ${VARS} of the component files that a cluster
// gets from a Kubernetes Secret instead of from the runner. They are
// connection details, so they live with the password beside them: the
// Dapr operator resolves each secretKeyRef when it hands the component to a
// sidecar. A variable missing here is an error, never an empty string.
var componentVariables = map[string]secretKey{
	"REDIS_ADDR":     {"bazaar-redis", "host"},
	"REDIS_PASSWORD": {"bazaar-redis", "password"},
	"POSTGRES_CONN":  {"bazaar-postgres", "connection-string"},
	"SMTP_HOST":      {"bazaar-smtp", "host"},
	"SMTP_PORT":      {"bazaar-smtp", "port"},
}

// componentType is what the generator knows about a Dapr component type: a
// replacement on Kubernetes, the metadata that replacement no longer needs,
// and the ports its sidecar dials (for the egress network policies).
type componentType struct {
	kubernetesType string
	dropMetadata   []string
	egressPorts    []int
}

// componentTypes lists every component type the generator can translate. A
// type missing here fails the generation: check that it works on Kubernetes
// (and which ports it needs) before adding it.
var componentTypes = map[string]componentType{
	"state.redis":      {egressPorts: []int{6379}},
	"pubsub.redis":     {egressPorts: []int{6379}},
	"state.postgresql": {egressPorts: []int{5432}},
	// The SMTP server's port is in a Secret; these are the usual ones.
	"bindings.smtp": {egressPorts: []int{25, 465, 587}},
	// The runner's JSON files become Kubernetes Secrets, read through the
	// Kubernetes API by the sidecar of the one app the store is scoped to.
	"secretstores.local.file": {kubernetesType: "secretstores.kubernetes", dropMetadata: []string{"secretsFile"}},
}

// localSecrets are the secrets the runner writes into each local secret
// store's file (internal/runner: secretFiles); on Kubernetes each is a
// Secret of that name with one key of the same name. An app or component
// that reads one not listed here fails the generation.
var localSecrets = map[string][]string{
	"secrets":         {"admin-email", "admin-password", "identity-store-key"},
	"payment-secrets": {"payment-store-key"},
}

// configKeys are the Configuration spec fields the generator knows; any other
// fails the generation rather than reaching the cluster unchecked.
var configKeys = []string{"nameResolution", "metric", "metrics", "tracing", "mtls", "accessControl", "features", "appHttpPipeline", "httpPipeline", "logging", "api", "secrets", "workflow"}

var (
	wholeVariable = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	anyVariable   = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
)

// resource is one Dapr resource read from the runner's files, rewritten for
// the cluster.
type resource struct {
	Kind   string
	Name   string
	Type   string   // components only
	Scopes []string // components only; empty means every app
	// SecretStore is auth.secretStore ("" for the Kubernetes one).
	SecretStore string
	// SecretRefs are the Secrets the component's metadata refers to.
	SecretRefs []secretKey
	Source     string
	node       *yaml.Node
}

// readResources reads every YAML document in the .yaml files of dir.
func readResources(dir string) ([]*resource, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read components: %w", err)
	}
	var out []*resource
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		docs, err := readDocuments(path)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			out = append(out, &resource{Source: path, node: d})
		}
	}
	return out, nil
}

func readDocuments(path string) ([]*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: expected a Dapr resource (a mapping)", path, doc.Line)
		}
		docs = append(docs, &doc)
	}
}

// translateComponent rewrites a Component or Resiliency for namespace ns:
// every ${VAR} becomes a secretKeyRef, a local-only type its Kubernetes
// counterpart. Anything it does not know is an error naming the file.
func translateComponent(r *resource, ns string) error {
	root := r.node.Content[0]
	r.Kind = scalar(root, "kind")
	r.Name = scalar(lookup(root, "metadata"), "name")
	where := fmt.Sprintf("%s:%d: %s %s", r.Source, root.Line, r.Kind, r.Name)
	if r.Name == "" {
		return fmt.Errorf("%s:%d: a resource without metadata.name", r.Source, root.Line)
	}
	setNamespace(root, ns)
	switch r.Kind {
	case "Resiliency":
		return noVariables(root, where)
	case "Component":
	default:
		return fmt.Errorf("%s: unknown kind %q (the generator translates Component and Resiliency)", where, r.Kind)
	}
	spec := lookup(root, "spec")
	r.Type = scalar(spec, "type")
	ct, ok := componentTypes[r.Type]
	if !ok {
		return fmt.Errorf("%s: component type %q is not one the generator knows how to run on Kubernetes (internal/k8s: componentTypes)", where, r.Type)
	}
	if scopes := lookup(root, "scopes"); scopes != nil {
		for _, s := range scopes.Content {
			r.Scopes = append(r.Scopes, s.Value)
		}
	}
	r.SecretStore = scalar(lookup(root, "auth"), "secretStore")
	if ct.kubernetesType != "" {
		setScalar(spec, "type", ct.kubernetesType)
		setHeadComment(r.node, fmt.Sprintf("From %s (%s).\nOn Kubernetes: the namespace's "+
			"Secrets, read through the API by the sidecar of the app in scopes, whose\n"+
			"ServiceAccount may get only its own (secret-access.yaml).", r.Source, r.Type))
	}
	md := lookup(spec, "metadata")
	if md != nil {
		kept := md.Content[:0]
		for _, item := range md.Content {
			name := scalar(item, "name")
			if slices.Contains(ct.dropMetadata, name) {
				continue
			}
			if ct.kubernetesType != "" {
				return fmt.Errorf("%s: metadata %q of %s has no counterpart in %s", where, name, r.Type, ct.kubernetesType)
			}
			if err := translateMetadata(item, where+" metadata "+name); err != nil {
				return err
			}
			if ref := lookup(item, "secretKeyRef"); ref != nil {
				r.SecretRefs = append(r.SecretRefs, secretKey{scalar(ref, "name"), scalar(ref, "key")})
			}
			kept = append(kept, item)
		}
		// An empty list, not none: Dapr's Component schema requires
		// spec.metadata (the API server refuses the component without it).
		md.Content = kept
		if len(kept) == 0 {
			md.Style = yaml.FlowStyle // metadata: []
		}
	}
	return noVariables(root, where)
}

// translateMetadata turns a metadata item whose value is exactly ${VAR} into
// a secretKeyRef. A variable inside a longer value cannot be a reference and
// is an error.
func translateMetadata(item *yaml.Node, where string) error {
	v := lookup(item, "value")
	if v == nil || !strings.Contains(v.Value, "$") {
		return nil
	}
	m := wholeVariable.FindStringSubmatch(v.Value)
	if m == nil {
		return fmt.Errorf("%s: %q mixes a variable with text; on Kubernetes a value comes whole from a Secret, so give the variable the whole value", where, v.Value)
	}
	ref, ok := componentVariables[m[1]]
	if !ok {
		return fmt.Errorf("%s: unknown variable ${%s}: say where it comes from on Kubernetes (internal/k8s: componentVariables)", where, m[1])
	}
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i].Value == "value" {
			item.Content[i].Value = "secretKeyRef"
			item.Content[i].LineComment = "locally " + v.Value
			item.Content[i+1] = mapping("name", ref.Secret, "key", ref.Key)
		}
	}
	return nil
}

// configOptions are the cluster's own values in the sidecars' Configuration.
type configOptions struct {
	Namespace       string
	TracingEndpoint string // OTLP/HTTP host:port; empty exports nothing
	SamplingRate    string // empty keeps the file's
}

// translateConfig rewrites dapr/config.yaml for the cluster: Kubernetes DNS
// instead of the runner's SQLite name resolution, the tracing endpoint and
// sampling from opts, and every access-control policy in the deployment's
// namespace (callers are identified by app id and namespace).
func translateConfig(doc *yaml.Node, source string, opts configOptions) (name string, appIDs []string, err error) {
	root := doc.Content[0]
	where := fmt.Sprintf("%s:%d", source, root.Line)
	if k := scalar(root, "kind"); k != "Configuration" {
		return "", nil, fmt.Errorf("%s: kind %q, expected Configuration", where, k)
	}
	name = scalar(lookup(root, "metadata"), "name")
	if name == "" {
		return "", nil, fmt.Errorf("%s: the Configuration has no metadata.name", where)
	}
	setNamespace(root, opts.Namespace)
	setHeadComment(doc, fmt.Sprintf("The sidecars' Configuration, from %s.\nKubernetes DNS resolves apps (the "+
		"runner's SQLite name resolution is dropped), the tracing endpoint and sampling\n"+
		"are the cluster's, and every policy names the namespace %s.", source, opts.Namespace))
	spec := lookup(root, "spec")
	if spec == nil {
		return "", nil, fmt.Errorf("%s: the Configuration has no spec", where)
	}
	for i := 0; i+1 < len(spec.Content); i += 2 {
		if k := spec.Content[i]; !slices.Contains(configKeys, k.Value) {
			return "", nil, fmt.Errorf("%s:%d: Configuration field spec.%s is not one the generator knows (internal/k8s: configKeys)", source, k.Line, k.Value)
		}
	}
	if nr := lookup(spec, "nameResolution"); nr != nil {
		if c := scalar(nr, "component"); c != "sqlite" {
			return "", nil, fmt.Errorf("%s: name resolution %q: only the runner's sqlite is known (dropped on Kubernetes, whose DNS resolves apps)", where, c)
		}
		deleteKey(spec, "nameResolution")
	}
	if tr := lookup(spec, "tracing"); tr != nil {
		lookupKey(spec, "tracing").HeadComment = "Spans go to the collector at endpointAddress (OTLP/HTTP); empty exports\n" +
			"none, and the trace context still flows. An overlay sets both."
		if k := lookupKey(tr, "samplingRate"); k != nil {
			k.HeadComment = "" // the runner's local Jaeger
		}
		switch rate := scalar(tr, "samplingRate"); {
		case opts.SamplingRate != "":
			setScalar(tr, "samplingRate", opts.SamplingRate)
		case rate == "${TRACE_SAMPLING_RATE}":
			// The runner's rate follows its local Jaeger; a cluster's
			// overlay sets its own.
			setScalar(tr, "samplingRate", "1")
		}
		if otel := lookup(tr, "otel"); otel != nil {
			if ep := scalar(otel, "endpointAddress"); ep != "${OTLP_ENDPOINT}" {
				return "", nil, fmt.Errorf("%s: tracing.otel.endpointAddress %q: expected ${OTLP_ENDPOINT}, which the generator fills in", where, ep)
			}
			setScalar(otel, "endpointAddress", opts.TracingEndpoint)
		}
	}
	var features []*yaml.Node
	if f := lookup(spec, "features"); f != nil {
		features = f.Content
	}
	for _, f := range features {
		if scalar(f, "enabled") == "${WORKFLOW_HISTORY_SIGNING}" {
			// The runner turns signing off for a data folder whose
			// workflows began unsigned (Dapr 1.16); a cluster's starts on
			// 1.18, signed.
			setScalar(f, "enabled", "true")
			// A boolean, not the string the variable was: the CRD's
			// schema refuses "true" (make k8s-test found it).
			lookup(f, "enabled").Tag = "!!bool"
		}
	}
	mtls := lookup(spec, "mtls")
	if scalar(mtls, "enabled") != "true" {
		return "", nil, fmt.Errorf("%s: mtls.enabled must be true: access control identifies callers by their certificates", where)
	}
	// On Kubernetes mTLS is the control plane's: Dapr's chart turns it on
	// in its own Configuration (daprsystem), and an app Configuration with
	// an mtls block must also name sentry and the trust domain (the CRD
	// schema requires both), which are the chart's to know.
	deleteKey(spec, "mtls")
	if ac := lookup(spec, "accessControl"); ac != nil {
		for _, p := range lookup(ac, "policies").Content {
			appIDs = append(appIDs, scalar(p, "appId"))
			switch ns := scalar(p, "namespace"); ns {
			case "default":
				setScalar(p, "namespace", opts.Namespace)
			default:
				return "", nil, fmt.Errorf("%s:%d: policy for %s has namespace %q; the local files use default, which the generator rewrites", source, p.Line, scalar(p, "appId"), ns)
			}
		}
	}
	return name, appIDs, noVariables(root, where)
}

// noVariables fails on any ${VAR} (or $VAR) left after translation.
func noVariables(n *yaml.Node, where string) error {
	if n.Kind == yaml.ScalarNode && anyVariable.MatchString(n.Value) {
		return fmt.Errorf("%s:%d: %q: unknown variable, which the generator does not know how to set on Kubernetes", where, n.Line, n.Value)
	}
	for _, c := range n.Content {
		if err := noVariables(c, where); err != nil {
			return err
		}
	}
	return nil
}

// YAML node helpers: the Dapr files keep their comments and key order.

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setHeadComment replaces the comment above a document.
func setHeadComment(doc *yaml.Node, comment string) {
	root := doc.Content[0]
	doc.HeadComment, root.HeadComment = "", ""
	if len(root.Content) > 0 {
		root.Content[0].HeadComment = comment
	}
}

// lookupKey returns the key node of key in m, whose comments are the entry's.
func lookupKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

func scalar(m *yaml.Node, key string) string {
	if v := lookup(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func setScalar(m *yaml.Node, key, value string) {
	if v := lookup(m, key); v != nil {
		v.Kind, v.Tag, v.Value, v.Content = yaml.ScalarNode, "!!str", value, nil
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Style: yaml.DoubleQuotedStyle})
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// setNamespace puts metadata.namespace right after metadata.name.
func setNamespace(root *yaml.Node, ns string) {
	md := lookup(root, "metadata")
	if md == nil {
		return
	}
	deleteKey(md, "namespace")
	out := make([]*yaml.Node, 0, len(md.Content)+2)
	for i := 0; i+1 < len(md.Content); i += 2 {
		out = append(out, md.Content[i], md.Content[i+1])
		if md.Content[i].Value == "name" {
			out = append(out, &yaml.Node{Kind: yaml.ScalarNode, Value: "namespace"}, &yaml.Node{Kind: yaml.ScalarNode, Value: ns})
		}
	}
	md.Content = out
}

func mapping(kv ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, s := range kv {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
	}
	return n
}

func encodeNode(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
