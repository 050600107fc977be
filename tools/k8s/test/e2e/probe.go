package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

// WebImage is tools/k8s/node/images/web: a tiny HTTP server and client
// (make k8s-node-images imports it as web.tar).
const WebImage = "bazaar.local/web:1"

// Probe runs a pod named name in namespace ns (made if missing) that GETs
// url once, with a 5 s timeout, and says whether it got an answer, with the
// pod's output. It is how a test crosses the pod network from a pod.
func (n *Node) Probe(ns, name, url string) (reached bool, output string) {
	t := n.t
	t.Helper()
	ctx := context.Background()
	_, err := n.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	no, yes := false, true
	user := int64(65532)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/name": name}},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{
				Name: "probe", Image: WebImage, ImagePullPolicy: corev1.PullNever,
				Args: []string{"get", url},
				SecurityContext: &corev1.SecurityContext{
					RunAsUser: &user, RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
					Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
		},
	}
	if _, err := n.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var phase corev1.PodPhase
	kit.WaitFor(t, time.Minute, "probe pod "+ns+"/"+name+" done", func() (bool, error) {
		p, err := n.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, fmt.Errorf("phase %s", phase)
	})
	out, _ := n.Kubectl("-n", ns, "logs", name)
	_ = n.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{})
	return phase == corev1.PodSucceeded, strings.TrimSpace(out)
}
