package test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

// loadManifests reads the objects under dir: the build of its
// kustomization when it has one, else every YAML file in it.
func loadManifests(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	for _, k := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, k)); err == nil {
			return kustomize(t, dir)
		}
	}
	var objs []*unstructured.Unstructured
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		more, err := decodeYAML(data)
		if err != nil {
			return errors.New(path + ": " + err.Error())
		}
		objs = append(objs, more...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("no Kubernetes objects under %s", dir)
	}
	return objs
}

// kustomize builds dir's kustomization as `kubectl apply -k` would.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	data, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeYAML(data)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return objs
}

func decodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetKind() == "" || o.GetAPIVersion() == "" {
			return nil, errors.New("an object without kind or apiVersion")
		}
		objs = append(objs, o)
	}
}

// renderDaprChart renders Dapr's own chart as docs/kubernetes.md installs it
// (`helm upgrade --install dapr dapr/dapr --version 1.18.0 --namespace
// dapr-system --set global.ha.enabled=true --set
// dapr_sidecar_injector.sidecarDropALLCapabilities=true`), its Raft groups'
// volumes claimed from testdata/volumes.yaml.
func renderDaprChart(t *testing.T, dir string) []*unstructured.Unstructured {
	values := map[string]any{
		"global":                map[string]any{"tag": "1.18.0", "ha": map[string]any{"enabled": true}},
		"dapr_sidecar_injector": map[string]any{"sidecarDropALLCapabilities": true},
		"dapr_placement":        map[string]any{"volumeclaims": map[string]any{"storageClassName": "k8s-test"}},
		// Dapr 1.18's chart claims 16Gi per scheduler by default (1.16: 1Gi);
		// the test's volumes hold 1Gi.
		"dapr_scheduler": map[string]any{"cluster": map[string]any{"storageClassName": "k8s-test", "storageSize": "1Gi"}},
	}
	manifest, err := kit.RenderDaprChart(dir, daprNamespace, values)
	if err != nil {
		t.Fatalf("render Dapr's chart: %v", err)
	}
	objs, err := decodeYAML([]byte(manifest))
	if err != nil {
		t.Fatalf("Dapr's chart: %v", err)
	}
	return objs
}
