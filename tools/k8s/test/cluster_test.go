package test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

// serviceCIDR is on loopback so that the API server, which reaches a webhook
// Service through its ClusterIP, reaches Dapr's injector running here as a
// process listening on that address.
const serviceCIDR = "127.77.0.0/16"

// cluster is a control plane started from bin/k8s, its files under dir.
type cluster struct {
	t          *testing.T
	dir        string
	bin        string
	server     string // https://127.0.0.1:port of kube-apiserver
	ca         *kit.CA
	admin      string // kubeconfig of system:masters
	restConfig *rest.Config
	client     kubernetes.Interface
	// paths holds binaries that are not in bin, by name.
	paths map[string]string
	// exited is closed, by process name, when that process has ended.
	exited           map[string]chan struct{}
	printed          bool
	sentryAddress    string
	daprTrustAnchors string // Sentry's root certificates (PEM)
}

// startCluster starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok with one simulated node; all stop when the test
// ends.
func startCluster(t *testing.T, bin string) *cluster {
	c := &cluster{t: t, dir: t.TempDir(), bin: bin}
	c.dumpLogsOnFailure()
	c.ca = kit.NewCA(t, c.dir, "k8s-test-ca")

	// etcd
	etcdPort, peerPort := freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	c.start("etcd", nil,
		"--name=k8s-test", "--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=k8s-test="+peerURL,
		"--unsafe-no-fsync", // a throwaway store: durability only costs time here
		"--log-level=warn")
	kit.WaitFor(t, time.Minute, "etcd healthy", func() (bool, error) {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})

	// kube-apiserver
	apiPort := freePort(t)
	c.server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	certFile, keyFile := c.ca.Issue("apiserver", "kube-apiserver", nil,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.77.0.1")}, true)
	saKey := c.ca.WriteKey("service-account", kit.MustKey(t))
	caFile := filepath.Join(c.dir, "ca.crt")
	c.start("kube-apiserver", nil,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", apiPort),
		"--tls-cert-file="+certFile, "--tls-private-key-file="+keyFile, "--client-ca-file="+caFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range="+serviceCIDR,
		// RBAC, as in a real cluster: the chart's own roles must be enough
		// for Sentry and the injector, which run with their service
		// accounts' tokens, and the controllers use theirs.
		"--authorization-mode=RBAC",
		// The API server's own endpoint is on loopback, which Endpoints
		// may not hold.
		"--endpoint-reconciler-type=none",
		"--profiling=false")
	c.admin = c.kubeconfig("admin", "admin", []string{"system:masters"})
	cfg, err := clientcmd.BuildConfigFromFlags("", c.admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.restConfig = cfg
	c.client = kubernetes.NewForConfigOrDie(cfg)
	kit.WaitFor(t, 2*time.Minute, "kube-apiserver ready", func() (bool, error) {
		_, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err == nil, nil
	})

	// kube-controller-manager: Deployments → ReplicaSets → Pods, service
	// accounts, the root CA ConfigMap; each controller with its own
	// credentials, as the injector only serves known controllers.
	c.start("kube-controller-manager", nil,
		"--kubeconfig="+c.admin, "--authentication-kubeconfig="+c.admin, "--authorization-kubeconfig="+c.admin,
		"--authentication-skip-lookup=true", // no front proxy here
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", freePort(t)),
		"--leader-elect=false", "--use-service-account-credentials=true",
		"--root-ca-file="+caFile,
		"--service-cluster-ip-range="+serviceCIDR,
		"--profiling=false")
	c.start("kube-scheduler", nil,
		"--kubeconfig="+c.admin, "--authentication-kubeconfig="+c.admin, "--authorization-kubeconfig="+c.admin,
		"--authentication-skip-lookup=true",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", freePort(t)),
		"--leader-elect=false", "--profiling=false")

	// kwok plays the kubelet of one node, with the stages in testdata.
	stages, err := filepath.Abs("testdata/kwok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.start("kwok", nil,
		"--kubeconfig="+c.admin, "--config="+stages, "--manage-all-nodes=true",
		"--node-lease-duration-seconds=40", // the node's heartbeat
		"--cidr=10.244.0.1/16", "--node-ip=10.0.0.10",
		fmt.Sprintf("--server-address=127.0.0.1:%d", freePort(t)))
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "kwok-node-0",
		Labels: map[string]string{
			"kubernetes.io/hostname": "kwok-node-0", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"type": "kwok",
		},
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
	}}
	if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kit.WaitFor(t, time.Minute, "kwok node Ready", func() (bool, error) {
		n, err := c.client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	return c
}

// start runs bin/name with args, logging to dir/name.log, and stops it when
// the test ends.
func (c *cluster) start(name string, env []string, args ...string) {
	t := c.t
	logFile, err := os.Create(filepath.Join(c.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.bin, name)
	if p, ok := c.paths[name]; ok {
		path = p
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// No proxy settings: every address here is on loopback.
	for _, kv := range os.Environ() {
		if !strings.HasSuffix(strings.ToLower(strings.SplitN(kv, "=", 2)[0]), "_proxy") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if c.exited == nil {
		c.exited = map[string]chan struct{}{}
	}
	c.exited[name] = done
	t.Cleanup(func() {
		c.printLogs() // while every process still runs: no shutdown noise
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logFile.Close()
	})
}

// running fails when process name has ended, so that a wait on it stops
// at once with the end of its log.
func (c *cluster) running(name string) error {
	select {
	case <-c.exited[name]:
		return fmt.Errorf("%s has exited:\n%s", name, kit.Tail(filepath.Join(c.dir, name+".log"), 5))
	default:
		return nil
	}
}

// binAt makes start run name from dir instead of bin.
func (c *cluster) binAt(name, dir string) {
	if c.paths == nil {
		c.paths = map[string]string{}
	}
	c.paths[name] = filepath.Join(dir, name)
}

// dumpLogsOnFailure keeps every process's log in test-output/k8s when the
// test has failed. (start prints their last warnings and errors before it
// stops them.)
func (c *cluster) dumpLogsOnFailure() {
	c.t.Cleanup(func() {
		if !c.t.Failed() {
			return
		}
		keep := absEnv(c.t, "BAZAAR_K8S_LOGS", "../../../test-output/k8s")
		_ = os.RemoveAll(keep)
		if err := os.MkdirAll(keep, 0o755); err != nil {
			c.t.Log(err)
		}
		logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
		for _, l := range logs {
			if data, err := os.ReadFile(l); err == nil {
				_ = os.WriteFile(filepath.Join(keep, filepath.Base(l)), data, 0o644)
			}
		}
		c.t.Logf("the logs are in %s", keep)
	})
}

// printLogs prints the last warnings and errors of every process once, when
// the test has failed, so that a failure says which component complained.
func (c *cluster) printLogs() {
	if !c.t.Failed() || c.printed {
		return
	}
	c.printed = true
	logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
	for _, l := range logs {
		if lines := kit.Tail(l, 4); lines != "" {
			c.t.Logf("--- %s, last warnings and errors:\n%s", filepath.Base(l), lines)
		}
	}
}

// tail returns the last n lines of a log that are not informational.
// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitHealthy polls the health endpoint of process name, failing at once if
// it exits.
func (c *cluster) waitHealthy(name, url string) {
	t := c.t
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	kit.WaitFor(t, time.Minute, name+" healthy", func() (bool, error) {
		if err := c.running(name); err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get(url)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s: %s", url, resp.Status)
		}
		return true, nil
	})
}

// kubeconfig writes a kubeconfig with a client certificate for user.
func (c *cluster) kubeconfig(name, user string, groups []string) string {
	return c.ca.ClientKubeconfig(filepath.Join(c.dir, name+".kubeconfig"), "k8s-test", c.server, user, groups)
}

// tokenKubeconfig writes a kubeconfig that authenticates with token.
func (c *cluster) tokenKubeconfig(name, token string) string {
	return c.ca.Kubeconfig(filepath.Join(c.dir, name+".kubeconfig"), "k8s-test", c.server, name, fmt.Sprintf("    token: %s\n", token))
}
