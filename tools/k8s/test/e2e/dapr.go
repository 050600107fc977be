package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

const (
	DaprNamespace = "dapr-system"
	DaprVersion   = "1.18.0"
	// DaprRegistry is where the node's Dapr images are named (imported, never
	// pulled): the chart's global.registry.
	DaprRegistry = "bazaar.local/dapr"
)

// DaprValues are the chart values for one node: no HA (one replica of each
// service, placement without a volume), the schedulers' etcd in memory (no
// storage provisioner here; the chart still runs 3 schedulers), sidecars
// without capabilities (the bazaar namespace enforces the restricted Pod
// Security Standard), and the images this node imported.
func DaprValues() map[string]any {
	return map[string]any{
		"global": map[string]any{
			"registry": DaprRegistry, "tag": DaprVersion,
			"ha": map[string]any{"enabled": false},
		},
		"dapr_scheduler":        map[string]any{"cluster": map[string]any{"inMemoryStorage": true}},
		"dapr_sidecar_injector": map[string]any{"sidecarDropALLCapabilities": true},
	}
}

// InstallDapr renders Dapr's chart with the Helm SDK, applies its CRDs, then
// the rest, and waits until every control-plane workload is ready.
func (n *Node) InstallDapr(chartDir string) {
	t := n.t
	t.Helper()
	begin := time.Now()
	manifest, err := kit.RenderDaprChart(chartDir, DaprNamespace, DaprValues())
	if err != nil {
		t.Fatalf("render Dapr's chart: %v", err)
	}
	rendered := filepath.Join(n.Dir, "dapr-chart.yaml")
	kit.WriteFile(t, rendered, []byte(manifest))

	n.MustKubectl("apply", "--server-side", "-f", filepath.Join(chartDir, "crds"))
	n.MustKubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
	n.MustKubectl("create", "namespace", DaprNamespace)
	n.MustKubectl("apply", "--server-side", "-f", rendered) // the chart names every namespace (a Role in default too)
	n.WaitWorkloadsReady(DaprNamespace, 4*time.Minute)
	t.Logf("Dapr %s's control plane ready in %s", DaprVersion, since(begin))
}

// WaitWorkloadsReady waits until every Deployment and StatefulSet in ns has
// all its replicas ready.
func (n *Node) WaitWorkloadsReady(ns string, timeout time.Duration) {
	n.t.Helper()
	ctx := context.Background()
	kit.WaitFor(n.t, timeout, "workloads in "+ns+" ready", func() (bool, error) {
		deps, err := n.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, d := range deps.Items {
			want := ptrOr(d.Spec.Replicas, 1)
			if d.Status.ObservedGeneration < d.Generation || d.Status.ReadyReplicas != want || d.Status.UpdatedReplicas != want {
				return false, fmt.Errorf("Deployment %s: %d/%d ready; %s", d.Name, d.Status.ReadyReplicas, want, n.podTrouble(ns))
			}
		}
		sets, err := n.Client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range sets.Items {
			if s.Status.ObservedGeneration < s.Generation || s.Status.ReadyReplicas != ptrOr(s.Spec.Replicas, 1) {
				return false, fmt.Errorf("StatefulSet %s: %d/%d ready; %s", s.Name, s.Status.ReadyReplicas, ptrOr(s.Spec.Replicas, 1), n.podTrouble(ns))
			}
		}
		return len(deps.Items)+len(sets.Items) > 0, nil
	})
}

// podTrouble says why pods of ns are not ready: waiting reasons and the last
// termination message of each container that is not ready.
func (n *Node) podTrouble(ns string) string {
	pods, err := n.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var s string
	for _, p := range pods.Items {
		if p.Status.Phase == "Pending" {
			for _, c := range p.Status.Conditions {
				if c.Status != "True" && c.Message != "" {
					s += fmt.Sprintf("[%s %s: %s] ", p.Name, c.Type, c.Message)
				}
			}
		}
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if c.Ready {
				continue
			}
			switch {
			case c.State.Waiting != nil:
				s += fmt.Sprintf("[%s/%s waiting %s: %s (restarts %d)] ", p.Name, c.Name, c.State.Waiting.Reason, c.State.Waiting.Message, c.RestartCount)
			case c.State.Terminated != nil:
				s += fmt.Sprintf("[%s/%s terminated %s: %s] ", p.Name, c.Name, c.State.Terminated.Reason, c.State.Terminated.Message)
			default:
				s += fmt.Sprintf("[%s/%s not ready (restarts %d)] ", p.Name, c.Name, c.RestartCount)
			}
		}
	}
	return s
}

// InstallCoreDNS applies the cluster DNS (10.96.0.10) and waits for it.
func (n *Node) InstallCoreDNS(manifest string) {
	n.t.Helper()
	begin := time.Now()
	n.MustKubectl("apply", "-f", manifest)
	n.WaitWorkloadsReady("kube-system", 2*time.Minute)
	n.t.Logf("CoreDNS ready in %s", since(begin))
}

func ptrOr[T any](p *T, fallback T) T {
	if p == nil {
		return fallback
	}
	return *p
}

// exists says whether path exists.
func exists(path string) bool { _, err := os.Stat(path); return err == nil }
