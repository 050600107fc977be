package test

import (
	"path/filepath"
	"testing"
)

// TestOverlaysApplyDaprResourcesFirst builds every overlay as `kubectl
// apply -k` would and checks the order it applies in: the namespace first,
// and Dapr's Configuration, Resiliency, Components and Subscriptions, with
// the Secrets the overlay generates, before any Deployment. A sidecar whose
// pod starts before its Configuration exists exits once (seen on the real
// node: docs/kubernetes.md); Kustomize's default order puts kinds it does
// not know last, so each overlay must say so itself (sortOptions is read
// only in the kustomization applied).
func TestOverlaysApplyDaprResourcesFirst(t *testing.T) {
	overlays, err := filepath.Glob("../../../deploy/overlays/*/kustomization.yaml")
	if err != nil || len(overlays) == 0 {
		t.Fatalf("no overlays under deploy/overlays: %v", err)
	}
	before := map[string]bool{"Configuration": true, "Resiliency": true, "Component": true, "Subscription": true, "Secret": true, "ConfigMap": true}
	for _, k := range overlays {
		dir := filepath.Dir(k)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			objs := kustomize(t, dir)
			if objs[0].GetKind() != "Namespace" {
				t.Errorf("the first object is a %s, not the Namespace", objs[0].GetKind())
			}
			firstDeployment := -1
			for i, o := range objs {
				switch {
				case o.GetKind() == "Deployment" && firstDeployment < 0:
					firstDeployment = i
				case before[o.GetKind()] && firstDeployment >= 0:
					t.Errorf("%s %s comes after the Deployment %s", o.GetKind(), o.GetName(), objs[firstDeployment].GetName())
				}
			}
			if firstDeployment < 0 {
				t.Error("no Deployment")
			}
		})
	}
}
