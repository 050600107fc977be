package test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
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
	caPEM      []byte
	ca         *x509.Certificate
	caKey      crypto.Signer
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
	c.newCA()

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
	waitFor(t, time.Minute, "etcd healthy", func() (bool, error) {
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
	certFile, keyFile := c.issue("apiserver", "kube-apiserver", nil,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.77.0.1")}, true)
	saKey := c.writeKey("service-account", mustKey(t))
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
	waitFor(t, 2*time.Minute, "kube-apiserver ready", func() (bool, error) {
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
	waitFor(t, time.Minute, "kwok node Ready", func() (bool, error) {
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
		return fmt.Errorf("%s has exited:\n%s", name, tail(filepath.Join(c.dir, name+".log"), 5))
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
		if lines := tail(l, 4); lines != "" {
			c.t.Logf("--- %s, last warnings and errors:\n%s", filepath.Base(l), lines)
		}
	}
}

// tail returns the last n lines of a log that are not informational.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if informational(line) {
			continue
		}
		if len(line) > 300 {
			line = line[:300] + "…"
		}
		lines = append(lines, line)
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// informational tells the info lines of klog, etcd, kwok and Dapr apart.
func informational(line string) bool {
	for _, info := range []string{`"level":"info"`, `"level":"INFO"`, "level=info", `"level":"warn"`} {
		if strings.Contains(line, info) {
			return true
		}
	}
	return strings.HasPrefix(line, "I") && len(line) > 5 && line[1] >= '0' && line[1] <= '9'
}

// newCA makes the cluster's CA, which signs the API server's certificate and
// the admin's client certificate.
func (c *cluster) newCA() {
	key := mustKey(c.t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "k8s-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		c.t.Fatal(err)
	}
	c.ca, _ = x509.ParseCertificate(der)
	c.caKey = key
	c.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	writeFile(c.t, filepath.Join(c.dir, "ca.crt"), c.caPEM)
	c.writeKey("ca", key)
}

// issue writes a certificate signed by the cluster's CA and its key.
func (c *cluster) issue(name, cn string, orgs, dns []string, ips []net.IP, server bool) (certFile, keyFile string) {
	key := mustKey(c.t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     dns,
		IPAddresses:  ips,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, key.Public(), c.caKey)
	if err != nil {
		c.t.Fatal(err)
	}
	certFile = filepath.Join(c.dir, name+".crt")
	writeFile(c.t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return certFile, c.writeKey(name, key)
}

func (c *cluster) writeKey(name string, key *ecdsa.PrivateKey) string {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(c.dir, name+".key")
	writeFile(c.t, path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	return path
}

// kubeconfig writes a kubeconfig with a client certificate for user.
func (c *cluster) kubeconfig(name, user string, groups []string) string {
	certFile, keyFile := c.issue(name+"-client", user, groups, nil, nil, false)
	return c.writeKubeconfig(name, fmt.Sprintf("    client-certificate: %s\n    client-key: %s\n", certFile, keyFile))
}

// tokenKubeconfig writes a kubeconfig that authenticates with token.
func (c *cluster) tokenKubeconfig(name, token string) string {
	return c.writeKubeconfig(name, fmt.Sprintf("    token: %s\n", token))
}

func (c *cluster) writeKubeconfig(name, userFields string) string {
	path := filepath.Join(c.dir, name+".kubeconfig")
	writeFile(c.t, path, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: k8s-test
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
%scontexts:
- name: k8s-test
  context: {cluster: k8s-test, user: %s}
current-context: k8s-test
`, c.server, filepath.Join(c.dir, "ca.crt"), name, userFields, name)))
	return path
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writeFile(t *testing.T, path string, data []byte) {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 250 ms until it holds, fails or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitHealthy polls the health endpoint of process name, failing at once if
// it exits.
func (c *cluster) waitHealthy(name, url string) {
	t := c.t
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	waitFor(t, time.Minute, name+" healthy", func() (bool, error) {
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
