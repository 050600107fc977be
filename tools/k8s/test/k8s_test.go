// Package test proves Bazaar's Kubernetes manifests on a real control plane:
// kube-apiserver, kube-controller-manager, kube-scheduler and etcd built from
// source, kwok simulating a node, Dapr 1.18.0's CRDs and Helm chart, and
// Dapr's own Sentry and sidecar injector running as processes that the API
// server calls as its mutating webhook.
package test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

const (
	daprNamespace = "dapr-system"
	fieldManager  = "bazaar-k8s-test"
	// sentryAudience is the audience Sentry's Kubernetes validator asks the
	// API server to check on a workload's token.
	sentryAudience = "spiffe://cluster.local/ns/dapr-system/dapr-sentry"
	// skipUIDCheck lets Dapr's control plane run here as a process of
	// whichever user runs the test, not in its container as user 65532.
	skipUIDCheck = "DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK=true"
)

func TestBazaarOnKubernetes(t *testing.T) {
	bin := absEnv(t, "BAZAAR_K8S_BIN", "../../../bin/k8s")
	daprBin := absEnv(t, "BAZAAR_DAPR_BIN", "../../../bin")
	chartDir := daprChart(t)
	manifestDir := absEnv(t, "BAZAAR_K8S_MANIFESTS", "../../../deploy/overlays/example")
	// Read everything before starting anything: a broken file fails fast.
	bazaar := loadManifests(t, manifestDir)
	crds := loadManifests(t, filepath.Join(chartDir, "crds"))
	chart := renderDaprChart(t, chartDir)
	t.Logf("%d objects from %s, %d Dapr CRDs, %d objects from Dapr's chart", len(bazaar), manifestDir, len(crds), len(chart))

	begin := time.Now()
	c := startCluster(t, bin)
	t.Logf("control plane up in %s", since(begin))
	ctx := context.Background()
	a := newApplier(t, c)

	step := time.Now()
	a.applyAll(ctx, crds)
	waitCRDsEstablished(t, c, crds)
	a.mapper.Reset()
	a.applyAll(ctx, append(loadManifests(t, "testdata/volumes.yaml"), namespace(daprNamespace)))
	a.applyAll(ctx, chart)
	waitWorkloadsReady(t, c, daprNamespace)
	t.Logf("Dapr CRDs and chart applied, its %d workloads ready in %s", len(workloadsOf(chart)), since(step))

	step = time.Now()
	startSentry(t, c, daprBin)
	startInjector(t, c, chart)
	t.Logf("Sentry and the sidecar injector (webhook) serving in %s", since(step))

	checkSchemasReject(t, a)

	step = time.Now()
	a.applyAll(ctx, bazaar)
	t.Logf("server-side apply (dry run, then for real) accepted all %d objects, Dapr's among them: %s", len(bazaar), daprKinds(bazaar))
	expected := expectedReplicas(t, bazaar)
	if len(expected) == 0 {
		t.Fatalf("no Deployment in %s", manifestDir)
	}
	waitDeploymentsAvailable(t, c, expected)
	t.Logf("%d Deployments Available in %s", len(expected), since(step))
	checkInjected(t, c, expected)
	t.Logf("total %s", since(begin))
}

// applier applies objects with server-side apply: every batch first as a dry
// run, then for real, with strict field validation so that a field the
// schema does not know is an error, not a warning.
type applier struct {
	t      *testing.T
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, c *cluster) *applier {
	return &applier{
		t:      t,
		dyn:    dynamic.NewForConfigOrDie(c.restConfig),
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.client.Discovery())),
	}
}

// applyAll applies namespaces first (the other objects' dry run needs them),
// each group as a dry run and then for real.
func (a *applier) applyAll(ctx context.Context, objs []*unstructured.Unstructured) {
	a.t.Helper()
	var namespaces, rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			namespaces = append(namespaces, o)
		} else {
			rest = append(rest, o)
		}
	}
	for _, group := range [][]*unstructured.Unstructured{namespaces, rest} {
		for _, dryRun := range []bool{true, false} {
			var errs []error
			for _, o := range group {
				if err := a.apply(ctx, o, dryRun); err != nil {
					errs = append(errs, err)
				}
			}
			if len(errs) > 0 {
				mode := "server-side apply"
				if dryRun {
					mode += " (dry run)"
				}
				a.t.Fatalf("%s refused %d of %d objects:\n%v", mode, len(errs), len(group), errors.Join(errs...))
			}
		}
	}
}

func (a *applier) apply(ctx context.Context, o *unstructured.Unstructured, dryRun bool) error {
	ri, err := a.resource(o)
	if err != nil {
		return err
	}
	data, err := runtime.Encode(unstructured.UnstructuredJSONScheme, o)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: new(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, opts); err != nil {
		return fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
	return nil
}

func (a *applier) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", gvk, o.GetName(), err)
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return a.dyn.Resource(m.Resource), nil
	}
	ns := o.GetNamespace()
	if ns == "" {
		ns = "default"
		o.SetNamespace(ns)
	}
	return a.dyn.Resource(m.Resource).Namespace(ns), nil
}

// checkSchemasReject proves the CRD schemas are really checked: a Component
// without its required type, a Resiliency with a field of the wrong type and
// a Subscription with a misspelt field must all be refused by the dry run.
func checkSchemasReject(t *testing.T, a *applier) {
	for _, bad := range []string{
		`{"apiVersion":"dapr.io/v1alpha1","kind":"Component","metadata":{"name":"no-type","namespace":"default"},"spec":{"version":"v1"}}`,
		`{"apiVersion":"dapr.io/v1alpha1","kind":"Resiliency","metadata":{"name":"bad","namespace":"default"},"spec":{"policies":{"retries":{"r":{"maxRetries":"three"}}}}}`,
		`{"apiVersion":"dapr.io/v2alpha1","kind":"Subscription","metadata":{"name":"typo","namespace":"default"},"spec":{"pubsubname":"p","topc":"t","routes":{"default":"/t"}}}`,
	} {
		var o unstructured.Unstructured
		if err := o.UnmarshalJSON([]byte(bad)); err != nil {
			t.Fatal(err)
		}
		if err := a.apply(context.Background(), &o, true); err == nil {
			t.Errorf("the API server accepted an invalid %s %s: the CRD schemas are not being checked", o.GetKind(), o.GetName())
		}
	}
}

func waitCRDsEstablished(t *testing.T, c *cluster, crds []*unstructured.Unstructured) {
	client := apiextensions.NewForConfigOrDie(c.restConfig)
	for _, o := range crds {
		kit.WaitFor(t, time.Minute, "CRD "+o.GetName()+" Established", func() (bool, error) {
			crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(context.Background(), o.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
	}
}

// waitWorkloadsReady waits until every Deployment and StatefulSet in ns has
// all its replicas ready.
func waitWorkloadsReady(t *testing.T, c *cluster, ns string) {
	ctx := context.Background()
	kit.WaitFor(t, 3*time.Minute, "workloads in "+ns+" ready", func() (bool, error) {
		deps, err := c.client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, d := range deps.Items {
			if d.Status.ObservedGeneration < d.Generation || d.Status.ReadyReplicas != ptrOr(d.Spec.Replicas, 1) {
				return false, fmt.Errorf("Deployment %s: %d/%d ready", d.Name, d.Status.ReadyReplicas, ptrOr(d.Spec.Replicas, 1))
			}
		}
		sets, err := c.client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range sets.Items {
			if s.Status.ObservedGeneration < s.Generation || s.Status.ReadyReplicas != ptrOr(s.Spec.Replicas, 1) {
				return false, fmt.Errorf("StatefulSet %s: %d/%d ready", s.Name, s.Status.ReadyReplicas, ptrOr(s.Spec.Replicas, 1))
			}
		}
		return len(deps.Items)+len(sets.Items) > 0, nil
	})
}

// startSentry runs Dapr's Sentry (bin/sentry from `make dapr`) in Kubernetes
// mode with its service account's token: it keeps its CA in the chart's
// dapr-trust-bundle Secret and checks workloads' tokens with TokenReviews.
func startSentry(t *testing.T, c *cluster, daprBin string) {
	port, healthz := freePort(t), freePort(t)
	kubeconfig := c.tokenKubeconfig("dapr-sentry", serviceAccountToken(t, c, "dapr-sentry", nil, ""))
	c.binAt("sentry", daprBin)
	// Sentry watches this directory even though in Kubernetes mode its CA
	// lives in the dapr-trust-bundle Secret.
	credentials := filepath.Join(c.dir, "sentry-credentials")
	if err := os.Mkdir(credentials, 0o700); err != nil {
		t.Fatal(err)
	}
	c.start("sentry", []string{"NAMESPACE=" + daprNamespace, skipUIDCheck},
		"--mode=kubernetes", "--kubeconfig="+kubeconfig, "--issuer-credentials="+credentials, "--config=daprsystem", "--trust-domain=cluster.local",
		"--listen-address=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--healthz-listen-address=127.0.0.1", fmt.Sprintf("--healthz-port=%d", healthz),
		"--enable-metrics=false")
	c.waitHealthy("sentry", fmt.Sprintf("http://127.0.0.1:%d/healthz", healthz))
	c.sentryAddress = fmt.Sprintf("127.0.0.1:%d", port)
}

// startInjector runs Dapr's sidecar injector with the environment the chart
// gives its Deployment. The API server calls the MutatingWebhookConfiguration
// at the ClusterIP of the chart's dapr-sidecar-injector Service, port 443;
// that ClusterIP is on loopback (serviceCIDR), where the injector listens
// (Dapr 1.16's injector ignores --listen-address and takes port 443 on every
// address). Its serving certificate comes from Sentry, for
// dapr-sidecar-injector.dapr-system.svc, the name the API server checks, and
// it writes Sentry's trust anchors into the webhook's caBundle itself.
func startInjector(t *testing.T, c *cluster, chart []*unstructured.Unstructured) {
	ctx := context.Background()
	// Sentry has written its root certificate for the workloads by now.
	var anchors string
	kit.WaitFor(t, time.Minute, "Sentry's trust anchors", func() (bool, error) {
		cm, err := c.client.CoreV1().ConfigMaps(daprNamespace).Get(ctx, "dapr-trust-bundle", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		anchors = cm.Data["ca.crt"]
		return anchors != "", nil
	})
	c.daprTrustAnchors = anchors
	anchorsFile := filepath.Join(c.dir, "dapr-ca.crt")
	kit.WriteFile(t, anchorsFile, []byte(anchors))

	// Sentry only signs for a pod that exists, with the injector's service
	// account and control-plane annotation: the chart's (simulated) pod.
	pods, err := c.client.CoreV1().Pods(daprNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=dapr-sidecar-injector"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("the chart's injector pod: %v (%d pods)", err, len(pods.Items))
	}
	pod := pods.Items[0]
	sentryToken := filepath.Join(c.dir, "injector-sentry.token")
	kit.WriteFile(t, sentryToken, []byte(serviceAccountToken(t, c, "dapr-injector", []string{sentryAudience}, pod.Name)))
	kubeconfig := c.tokenKubeconfig("dapr-injector", serviceAccountToken(t, c, "dapr-injector", nil, ""))

	svc, err := c.client.CoreV1().Services(daprNamespace).Get(ctx, "dapr-sidecar-injector", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env := chartEnv(t, chart, "dapr-sidecar-injector")
	env = append(env, skipUIDCheck,
		"DAPR_TRUST_ANCHORS_FILE="+anchorsFile,
		"DAPR_SENTRY_ADDRESS="+c.sentryAddress,
		"DAPR_SENTRY_TOKEN_FILE="+sentryToken)
	// Fail plainly when port 443 is taken or privileged for this user.
	l, err := net.Listen("tcp", ":443")
	if err != nil {
		t.Fatalf("the injector needs port 443 (the webhook Service's port): %v", err)
	}
	l.Close()
	healthz := freePort(t)
	c.start("injector", env,
		"--kubeconfig="+kubeconfig,
		"--listen-address="+svc.Spec.ClusterIP, "--port=443",
		"--healthz-listen-address=127.0.0.1", fmt.Sprintf("--healthz-port=%d", healthz),
		"--enable-metrics=false")
	c.waitHealthy("injector", fmt.Sprintf("http://127.0.0.1:%d/healthz", healthz))
	kit.WaitFor(t, time.Minute, "webhook caBundle set by the injector", func() (bool, error) {
		wh, err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "dapr-sidecar-injector", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(wh.Webhooks) > 0 && len(wh.Webhooks[0].ClientConfig.CABundle) > 0, nil
	})
}

// chartEnv is the environment the chart gives container name of its
// Deployment name, with the pod's namespace filled in.
func chartEnv(t *testing.T, chart []*unstructured.Unstructured, name string) []string {
	for _, o := range chart {
		if o.GetKind() != "Deployment" || o.GetName() != name {
			continue
		}
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
			t.Fatal(err)
		}
		var env []string
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
				env = append(env, e.Name+"="+daprNamespace)
			case e.ValueFrom == nil:
				env = append(env, e.Name+"="+e.Value)
			}
		}
		return env
	}
	t.Fatalf("no Deployment %s in Dapr's chart", name)
	return nil
}

// serviceAccountToken asks the API server for a token of a dapr-system
// service account, bound to pod when given (Sentry reads the pod's name from
// it).
func serviceAccountToken(t *testing.T, c *cluster, account string, audiences []string, pod string) string {
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences: audiences, ExpirationSeconds: new(int64(3600)),
	}}
	if pod != "" {
		p, err := c.client.CoreV1().Pods(daprNamespace).Get(context.Background(), pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}
	}
	resp, err := c.client.CoreV1().ServiceAccounts(daprNamespace).CreateToken(context.Background(), account, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", account, err)
	}
	return resp.Status.Token
}

// expectedReplicas is each Deployment's replica count: its own, or what its
// HorizontalPodAutoscaler holds it to (there are no metrics here, so an HPA
// only enforces its bounds).
func expectedReplicas(t *testing.T, objs []*unstructured.Unstructured) map[types.NamespacedName]int32 {
	want := map[types.NamespacedName]int32{}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				t.Fatal(err)
			}
			want[types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}] = ptrOr(d.Spec.Replicas, 1)
		}
	}
	for _, o := range objs {
		if o.GetKind() != "HorizontalPodAutoscaler" {
			continue
		}
		var h autoscalingv2.HorizontalPodAutoscaler
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &h); err != nil {
			t.Fatal(err)
		}
		key := types.NamespacedName{Namespace: o.GetNamespace(), Name: h.Spec.ScaleTargetRef.Name}
		n, ok := want[key]
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || !ok {
			continue
		}
		want[key] = min(max(n, ptrOr(h.Spec.MinReplicas, 1)), h.Spec.MaxReplicas)
	}
	return want
}

func waitDeploymentsAvailable(t *testing.T, c *cluster, want map[types.NamespacedName]int32) {
	ctx := context.Background()
	kit.WaitFor(t, 4*time.Minute, "every Deployment Available", func() (bool, error) {
		var notYet []string
		for key, n := range want {
			d, err := c.client.AppsV1().Deployments(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if !deploymentAvailable(d, n) {
				notYet = append(notYet, fmt.Sprintf("%s (%d/%d available, %s)", key, d.Status.AvailableReplicas, n, conditionsOf(d)))
			}
		}
		if len(notYet) > 0 {
			sort.Strings(notYet)
			return false, errors.New(strings.Join(notYet, "; "))
		}
		return true, nil
	})
}

func deploymentAvailable(d *appsv1.Deployment, n int32) bool {
	if d.Status.ObservedGeneration < d.Generation || ptrOr(d.Spec.Replicas, 1) != n ||
		d.Status.Replicas != n || d.Status.UpdatedReplicas != n || d.Status.AvailableReplicas != n {
		return false
	}
	for _, cond := range d.Status.Conditions {
		if cond.Type == appsv1.DeploymentAvailable {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func conditionsOf(d *appsv1.Deployment) string {
	var s []string
	for _, cond := range d.Status.Conditions {
		s = append(s, fmt.Sprintf("%s=%s %s", cond.Type, cond.Status, cond.Message))
	}
	return strings.Join(s, ", ")
}

// checkInjected checks that every pod of every Deployment got its daprd
// container from the injector, configured as its Dapr annotations say.
func checkInjected(t *testing.T, c *cluster, want map[types.NamespacedName]int32) {
	ctx := context.Background()
	keys := make([]types.NamespacedName, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, key := range keys {
		d, err := c.client.AppsV1().Deployments(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		pods, err := c.client.CoreV1().Pods(key.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			t.Fatal(err)
		}
		var live []corev1.Pod
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				live = append(live, p)
			}
		}
		if int32(len(live)) != want[key] {
			t.Errorf("%s: %d pods, want %d", key, len(live), want[key])
		}
		annotations := d.Spec.Template.Annotations
		if annotations["dapr.io/enabled"] != "true" {
			t.Errorf("%s: not annotated dapr.io/enabled=true", key)
			continue
		}
		ok := true
		for _, p := range live {
			if err := checkDaprd(&p, annotations, c.daprTrustAnchors); err != nil {
				t.Errorf("%s pod %s: %v", key, p.Name, err)
				ok = false
			}
		}
		if ok {
			t.Logf("%-20s %d/%d pods, daprd injected: app-id %s, app-port %s, config %s", key, len(live), want[key],
				annotations["dapr.io/app-id"], annotations["dapr.io/app-port"], annotations["dapr.io/config"])
		}
	}
}

// checkDaprd compares a pod's daprd container with the Dapr annotations of
// its template, and checks it trusts this cluster's Sentry.
func checkDaprd(p *corev1.Pod, annotations map[string]string, anchors string) error {
	i := slices.IndexFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == "daprd" })
	if i < 0 {
		return errors.New("no daprd container: the injector did not mutate it")
	}
	daprd := p.Spec.Containers[i]
	args := map[string]string{}
	for j := 0; j+1 < len(daprd.Args); j++ {
		if strings.HasPrefix(daprd.Args[j], "--") {
			args[daprd.Args[j]] = daprd.Args[j+1]
		}
	}
	var errs []error
	for annotation, flag := range map[string]string{
		"dapr.io/app-id":       "--app-id",
		"dapr.io/config":       "--config",
		"dapr.io/app-port":     "--app-port",
		"dapr.io/app-protocol": "--app-protocol",
	} {
		if want, ok := annotations[annotation]; ok && args[flag] != want {
			errs = append(errs, fmt.Errorf("daprd %s %q, annotation %s %q", flag, args[flag], annotation, want))
		}
	}
	if _, ok := annotations["dapr.io/app-id"]; !ok {
		errs = append(errs, errors.New("no dapr.io/app-id annotation"))
	}
	// The sidecar's own ports: HTTP and gRPC API as annotated or Dapr's
	// defaults, and the port its peers call it on.
	wantPorts := map[string]string{"dapr-http": "3500", "dapr-grpc": "50001", "dapr-internal": "50002"}
	if v, ok := annotations["dapr.io/http-port"]; ok {
		wantPorts["dapr-http"] = v
	}
	if v, ok := annotations["dapr.io/grpc-port"]; ok {
		wantPorts["dapr-grpc"] = v
	}
	for name, port := range wantPorts {
		k := slices.IndexFunc(daprd.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == name })
		if k < 0 || fmt.Sprint(daprd.Ports[k].ContainerPort) != port {
			errs = append(errs, fmt.Errorf("daprd port %s: want %s, ports %v", name, port, daprd.Ports))
		}
	}
	if k := slices.IndexFunc(daprd.Env, func(e corev1.EnvVar) bool { return e.Name == "DAPR_TRUST_ANCHORS" }); k < 0 || daprd.Env[k].Value != anchors {
		errs = append(errs, errors.New("daprd's DAPR_TRUST_ANCHORS are not this cluster's Sentry's"))
	}
	return errors.Join(errs...)
}

// daprKinds counts the Dapr resources among objs, by kind.
func daprKinds(objs []*unstructured.Unstructured) string {
	count := map[string]int{}
	for _, o := range objs {
		if o.GroupVersionKind().Group == "dapr.io" {
			count[o.GetKind()]++
		}
	}
	var s []string
	for _, kind := range []string{"Component", "Configuration", "Resiliency", "Subscription", "HTTPEndpoint"} {
		if count[kind] > 0 {
			s = append(s, fmt.Sprintf("%d %s", count[kind], kind))
		}
	}
	return strings.Join(s, ", ")
}

func workloadsOf(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Deployment" || o.GetKind() == "StatefulSet" {
			out = append(out, o)
		}
	}
	return out
}

func namespace(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name},
	}}
}

// daprChart is Dapr 1.18.0's Helm chart in the module cache (dapr/runtime
// pins that module, so `make dapr` has downloaded it).
func daprChart(t *testing.T) string {
	if dir := os.Getenv("BAZAAR_DAPR_CHART"); dir != "" {
		return dir
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com/dapr/dapr@v1.18.0/charts/dapr")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("Dapr's chart: %v (run `make dapr` first)", err)
	}
	return dir
}

func absEnv(t *testing.T, name, fallback string) string {
	v := os.Getenv(name)
	if v == "" {
		v = fallback
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func ptrOr[T any](p *T, fallback T) T {
	if p == nil {
		return fallback
	}
	return *p
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }
