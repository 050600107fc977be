package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

// The node's fixed addresses. Everything listens on 127.0.0.1 except on the
// pod bridge's own address, which exists only on this machine: the API server
// (pods reach it there, through the kubernetes Service) and the kubelet API
// (the node's InternalIP: a kubelet refuses a loopback node IP). One such
// cluster at a time: the bridge's name is the lock.
const (
	Bridge      = "bazaar0"
	BridgeIP    = "10.88.0.1"
	PodCIDR     = "10.88.0.0/16"
	ServiceCIDR = "10.96.0.0/16"
	ClusterDNS  = "10.96.0.10"
	NodeName    = "bazaar-node"
	apiPort     = 16443
	etcdPort    = 23790
	etcdPeer    = 23800
	// SandboxImage is containerd 2.4's pinned pause image; the node imports
	// its own (tools/k8s/node/images/pause) under that name.
	SandboxImage = "registry.k8s.io/pause:3.10.2"
	runc         = "/usr/sbin/runc" // Debian's runc (1.1.5 on Debian 12)
	cniBin       = "/usr/lib/cni"   // Debian's containernetworking-plugins
)

// Options says where the node's binaries and files are.
type Options struct {
	// Bin holds kube-apiserver, kube-controller-manager, kube-scheduler,
	// etcd, kubelet, kube-proxy, kubectl, containerd, containerd-shim-runc-v2,
	// ctr and kube-network-policies (make k8s-tools k8s-node-tools).
	Bin string
	// Dir is the node's state (certificates, logs, containerd's root, pod
	// logs). Its path must stay short: containerd's shim sockets live under
	// it. Emptied at the start.
	Dir string
	// Logs, when set, receives every log when the test fails.
	Logs string
}

// Node is a running one-node cluster.
type Node struct {
	t          kit.T
	Dir, Bin   string
	logsOut    string
	Kubeconfig string // admin (system:masters)
	Server     string // https://10.88.0.1:16443
	RestConfig *rest.Config
	Client     kubernetes.Interface
	containerd string // its socket

	procs    []*proc
	byName   map[string]*proc
	baseline *hostState
	pki      *kit.CA
	// extraPorts are more ports the node's teardown checks nothing listens on.
	extraPorts []int
}

// StartNode starts the cluster and registers its teardown, which fails the
// test if anything of the node is left on the host.
func StartNode(t kit.T, o Options) *Node {
	begin := time.Now()
	n := &Node{t: t, Dir: o.Dir, Bin: o.Bin, logsOut: o.Logs, byName: map[string]*proc{}}
	n.preflight()
	if err := os.RemoveAll(n.Dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"logs", "pki"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Others (postgres) may need to walk through it.
	_ = os.Chmod(n.Dir, 0o755)
	n.baseline = recordHost()
	if b, err := json.Marshal(n.baseline); err == nil {
		kit.WriteFile(t, filepath.Join(n.Dir, "host.json"), b)
	}
	t.Cleanup(n.teardown)

	n.pki = kit.NewCA(t, filepath.Join(n.Dir, "pki"), "bazaar-e2e-ca")
	n.makeBridge()
	n.startControlPlane()
	t.Logf("control plane up in %s", since(begin))
	n.startContainerd()
	n.startKubelet()
	n.startProxy()
	n.startNetworkPolicies()
	n.waitNodeReady()
	t.Logf("node %s Ready in %s (state in %s)", NodeName, since(begin), n.Dir)
	return n
}

// preflight fails plainly when the node cannot start here.
func (n *Node) preflight() {
	t := n.t
	if os.Geteuid() != 0 {
		t.Fatal("a real node needs root (a bridge, iptables rules, mounts, cgroups): run make k8s-e2e as root")
	}
	if _, err := net.InterfaceByName(Bridge); err == nil {
		t.Fatalf("the bridge %s exists: another node is running (make k8s-down stops the one make k8s-up started), or a teardown did not finish (make k8s-down sweeps what it left)", Bridge)
	}
	for _, f := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubelet", "kube-proxy", "kubectl", "containerd", "containerd-shim-runc-v2", "ctr", "kube-network-policies"} {
		if _, err := os.Stat(filepath.Join(n.Bin, f)); err != nil {
			t.Fatalf("%v (make k8s-tools k8s-node-tools)", err)
		}
	}
	for _, f := range []string{runc, filepath.Join(cniBin, "bridge"), filepath.Join(cniBin, "host-local"), filepath.Join(cniBin, "loopback")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v (apt-get install runc containernetworking-plugins)", err)
		}
	}
	if m := mountsUnder(n.Dir); len(m) > 0 {
		t.Fatalf("mounts left under %s from an earlier run: %v", n.Dir, m)
	}
}

// makeBridge makes the pod bridge first: the API server and the kubelet
// listen on its address (the CNI bridge plugin would make it later). Then it
// keeps the cluster's traffic on this machine:
//   - the service range is routed to the bridge: a ClusterIP that kube-proxy
//     has not programmed yet otherwise follows the default route off the
//     machine. The first run without this sent the API server's calls to
//     Dapr's injector webhook (its ClusterIP, right after the chart's
//     Service was made) out of eth0, to this sandbox's egress proxy, which
//     answered with its own certificate ("tls: failed to verify certificate:
//     x509: certificate is valid for archive.ubuntu.com, deb.debian.org,
//     proxy.golang.org, ..."; the webhook failed open);
//   - nothing from the pod network is forwarded anywhere but back to the
//     pod network (the bridge plugin turns ip_forward on for its gateway,
//     and there is no masquerade).
func (n *Node) makeBridge() {
	for _, args := range [][]string{
		{"ip", "link", "add", Bridge, "type", "bridge"},
		{"ip", "addr", "add", BridgeIP + "/16", "dev", Bridge},
		{"ip", "link", "set", Bridge, "up"},
		{"ip", "route", "add", ServiceCIDR, "dev", Bridge},
		{"iptables", "-N", isolationChain},
		{"iptables", "-A", isolationChain, "-o", Bridge, "-j", "RETURN"},
		{"iptables", "-A", isolationChain, "-j", "DROP"},
		{"iptables", "-I", "FORWARD", "1", "-i", Bridge, "-j", isolationChain},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			n.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}

// isolationChain drops what the pod network sends beyond the bridge.
const isolationChain = "BAZAAR-NODE-ISOLATION"

// Dropped is how many packets from the pod network isolationChain has
// dropped (they would have left the machine).
func (n *Node) Dropped() string {
	out, _ := exec.Command("iptables", "-L", isolationChain, "-v", "-n", "-x").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "DROP" {
			return f[0] + " packets, " + f[1] + " bytes"
		}
	}
	return "unknown"
}

func (n *Node) bin(name string) string { return filepath.Join(n.Bin, name) }

func (n *Node) startControlPlane() {
	t := n.t
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	n.run("etcd", nil,
		"--name=bazaar-e2e", "--data-dir="+filepath.Join(n.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=bazaar-e2e="+peerURL,
		"--unsafe-no-fsync", "--log-level=warn")
	n.waitHTTP("etcd", etcdURL+"/health")

	n.Server = fmt.Sprintf("https://%s:%d", BridgeIP, apiPort)
	p := n.pki
	certFile, keyFile := p.Issue("apiserver", "kube-apiserver", nil,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(BridgeIP), net.ParseIP("10.96.0.1")}, true)
	kubeletClientCert, kubeletClientKey := p.Issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil, false)
	saKey := p.WriteKey("service-account", kit.MustKey(t))
	n.run("kube-apiserver", nil,
		"--etcd-servers="+etcdURL,
		"--bind-address="+BridgeIP, "--advertise-address="+BridgeIP, fmt.Sprintf("--secure-port=%d", apiPort),
		"--tls-cert-file="+certFile, "--tls-private-key-file="+keyFile, "--client-ca-file="+p.File(),
		"--kubelet-client-certificate="+kubeletClientCert, "--kubelet-client-key="+kubeletClientKey,
		"--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range="+ServiceCIDR,
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--profiling=false")
	n.Kubeconfig = n.kubeconfig("admin", "admin", []string{"system:masters"})
	cfg, err := clientcmd.BuildConfigFromFlags("", n.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	n.RestConfig = cfg
	n.Client = kubernetes.NewForConfigOrDie(cfg)
	kit.WaitFor(t, 2*time.Minute, "kube-apiserver ready", func() (bool, error) {
		if err := n.byName["kube-apiserver"].exited(); err != nil {
			t.Fatal(err)
		}
		_, err := n.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err == nil, err
	})

	kcm := n.kubeconfig("kube-controller-manager", "system:kube-controller-manager", nil)
	n.run("kube-controller-manager", nil,
		"--kubeconfig="+kcm, "--authentication-kubeconfig="+kcm, "--authorization-kubeconfig="+kcm,
		"--authentication-skip-lookup=true",
		"--bind-address=127.0.0.1", "--secure-port=10257",
		"--leader-elect=false", "--use-service-account-credentials=true",
		"--root-ca-file="+p.File(), "--service-account-private-key-file="+saKey,
		"--service-cluster-ip-range="+ServiceCIDR, "--profiling=false")
	sched := n.kubeconfig("kube-scheduler", "system:kube-scheduler", nil)
	n.run("kube-scheduler", nil,
		"--kubeconfig="+sched, "--authentication-kubeconfig="+sched, "--authorization-kubeconfig="+sched,
		"--authentication-skip-lookup=true",
		"--bind-address=127.0.0.1", "--secure-port=10259", "--leader-elect=false", "--profiling=false")
	kit.WaitFor(t, time.Minute, "the default ServiceAccount", func() (bool, error) {
		_, err := n.Client.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil, err
	})
}

// run starts bin/name.
func (n *Node) run(name string, env []string, args ...string) {
	n.byName[name] = n.start(name, n.bin(name), env, args...)
}

// waitHTTP waits for a 200 from url, failing at once if name has exited.
func (n *Node) waitHTTP(name, url string) {
	n.t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	kit.WaitFor(n.t, 2*time.Minute, name+" healthy", func() (bool, error) {
		if err := n.byName[name].exited(); err != nil {
			n.t.Fatal(err)
		}
		resp, err := client.Get(url)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s: %s", url, resp.Status)
	})
}

// startContainerd writes containerd's config (own root, state, sockets, shim
// socket dir; NRI off; restrict_oom_score_adj because root has no
// CAP_SYS_RESOURCE on this machine) and the CNI bridge config, then starts it.
func (n *Node) startContainerd() {
	t := n.t
	dir := filepath.Join(n.Dir, "containerd")
	for _, d := range []string{dir, filepath.Join(n.Dir, "cni/net.d"), filepath.Join(n.Dir, "cni/ipam")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n.containerd = filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = ""
[metrics]
  address = ""

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = %[5]q
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = %[6]q
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = %[7]q
  [plugins.'io.containerd.cri.v1.runtime']
    netns_mounts_under_state_dir = true
    restrict_oom_score_adj = true
    cdi_spec_dirs = []
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = %[8]q
          Root = %[9]q
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [%[10]q]
      conf_dir = %[11]q
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), n.containerd, n.containerd+".ttrpc",
		filepath.Join(dir, "opt"), filepath.Join(n.Dir, "s"), SandboxImage, runc, filepath.Join(dir, "runc"),
		cniBin, filepath.Join(n.Dir, "cni/net.d"))
	kit.WriteFile(t, filepath.Join(dir, "config.toml"), []byte(config))
	// No masquerade: the pod network talks to nothing but this host.
	cni := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "bazaar",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "ranges": [[{"subnet": %q, "gateway": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
`, Bridge, filepath.Join(n.Dir, "cni/ipam"), PodCIDR, BridgeIP)
	kit.WriteFile(t, filepath.Join(n.Dir, "cni/net.d/10-bazaar.conflist"), []byte(cni))
	n.run("containerd", nil, "--config", filepath.Join(dir, "config.toml"), "--log-level", "warn")
	kit.WaitFor(t, 30*time.Second, "containerd", func() (bool, error) {
		if err := n.byName["containerd"].exited(); err != nil {
			t.Fatal(err)
		}
		_, err := n.ctr("version")
		return err == nil, err
	})
}

// ctr runs ctr against the node's containerd, in the CRI namespace.
func (n *Node) ctr(args ...string) (string, error) {
	cmd := exec.Command(n.bin("ctr"), append([]string{"--address", n.containerd, "-n", "k8s.io"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func (n *Node) startKubelet() {
	t := n.t
	dir := filepath.Join(n.Dir, "kubelet")
	if err := os.MkdirAll(filepath.Join(n.Dir, "pod-logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# This machine has cgroup v1 only; Kubernetes 1.35 and later refuse it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://%[2]s
imageServiceEndpoint: unix://%[2]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[3]s}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [%[4]s]
podLogsDir: %[5]s
resolvConf: /etc/resolv.conf
failSwapOn: false
registerNode: true
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "2%%", imagefs.available: "2%%"}
# Mounted ConfigMaps and Secrets are refreshed at each pod sync (default
# every minute): Dapr's control plane waits for Sentry's trust anchors to
# appear in its mounted dapr-trust-bundle ConfigMap (placement logs "Trust
# anchors file '/var/run/secrets/dapr.io/tls/ca.crt' not found, waiting..."),
# which took 1m28s to be ready with the default.
syncFrequency: 10s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`, BridgeIP, n.containerd, n.pki.File(), ClusterDNS, filepath.Join(n.Dir, "pod-logs"))
	kit.WriteFile(t, filepath.Join(dir, "config.yaml"), []byte(config))
	kc := n.kubeconfig("kubelet", "system:node:"+NodeName, []string{"system:nodes"})
	n.run("kubelet", nil, "--config="+filepath.Join(dir, "config.yaml"), "--kubeconfig="+kc,
		"--root-dir="+filepath.Join(dir, "root"), "--cert-dir="+filepath.Join(dir, "pki"),
		"--hostname-override="+NodeName, "--node-ip="+BridgeIP, "-v=1")
	n.waitHTTP("kubelet", "http://127.0.0.1:10248/healthz")
}

// startProxy starts kube-proxy in iptables mode, NodePorts on 127.0.0.1 only
// (it sets net.ipv4.conf.all.route_localnet=1 for them; teardown restores it).
func (n *Node) startProxy() {
	kc := n.kubeconfig("kube-proxy", "system:kube-proxy", nil)
	config := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %s}
mode: iptables
hostnameOverride: %s
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: %s
nodePortAddresses: ["127.0.0.1/32"]
conntrack: {maxPerCore: 0}
`, kc, NodeName, PodCIDR)
	kit.WriteFile(n.t, filepath.Join(n.Dir, "kube-proxy.yaml"), []byte(config))
	n.run("kube-proxy", nil, "--config="+filepath.Join(n.Dir, "kube-proxy.yaml"), "-v=1")
	n.waitHTTP("kube-proxy", "http://127.0.0.1:10256/healthz")
}

// startNetworkPolicies makes the node enforce NetworkPolicies: Debian's CNI
// bridge has no policy support, so kube-network-policies (tools/k8s/netpol)
// judges every new connection to or from a pod, from a netfilter queue.
// Its own hand-off to the queue is an nftables rule this kernel cannot load
// (no "queue" expression), so the node writes it with iptables' NFQUEUE
// target: in the mangle table's FORWARD for what pods send and receive
// (bridged pod-to-pod packets pass there too: bridge-nf-call-iptables), and
// in OUTPUT for what the host sends them, leaving out root's (the kubelet's
// probes, the tests' own requests) as upstream does. Established flows are
// not queued, and neither is DNS (port 53): about 1 lookup in 10 whose
// query was queued lost its answer after the controller accepted it (7 of
// 72 probe pods waited for the resolver's 5 s retry, none of 72 with DNS
// left out; in POSTROUTING, where upstream hooks, as in FORWARD), and a
// sidecar whose component's 5 s init timeout ran out meanwhile exited once
// at start. Upstream works around a conntrack race on queued DNS
// (netfilter bug 1766) with an nftables hook this kernel cannot load
// either. So on this node a policy cannot deny DNS; everything else is
// judged. With no controller listening, new pod flows are dropped: the node
// fails closed.
func (n *Node) startNetworkPolicies() {
	t := n.t
	if v := sysctl("net.bridge.bridge-nf-call-iptables"); v != "1" {
		t.Fatalf("net.bridge.bridge-nf-call-iptables is %q: bridged pod traffic would bypass iptables, and no NetworkPolicy would hold", v)
	}
	ctx := context.Background()
	const user = "system:kube-network-policies"
	_, err := n.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "bazaar:network-policies"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bazaar:network-policies"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "bazaar:network-policies"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	queue := "100"
	for _, args := range [][]string{
		{"-N", policyChain},
		{"-A", policyChain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"},
		{"-A", policyChain, "-p", "udp", "--dport", "53", "-j", "RETURN"},
		{"-A", policyChain, "-p", "tcp", "--dport", "53", "-j", "RETURN"},
		{"-A", policyChain, "-s", PodCIDR, "-j", "NFQUEUE", "--queue-num", queue},
		{"-A", policyChain, "-d", PodCIDR, "-j", "NFQUEUE", "--queue-num", queue},
		{"-A", "FORWARD", "-j", policyChain},
		{"-N", policyChain + "-HOST"},
		{"-A", policyChain + "-HOST", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"},
		{"-A", policyChain + "-HOST", "-m", "owner", "--uid-owner", "0", "-j", "RETURN"},
		{"-A", policyChain + "-HOST", "-d", PodCIDR, "-j", "NFQUEUE", "--queue-num", queue},
		{"-A", "OUTPUT", "-j", policyChain + "-HOST"},
	} {
		args = append([]string{"-w", "-t", "mangle"}, args...)
		if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	kc := n.kubeconfig("kube-network-policies", user, nil)
	n.run("kube-network-policies", nil, "--kubeconfig="+kc, "--hostname-override="+NodeName,
		"--nfqueue-id="+queue, "--metrics-bind-address=127.0.0.1:"+strconv.Itoa(policyMetricsPort), "-v=1")
	n.waitHTTP("kube-network-policies", fmt.Sprintf("http://127.0.0.1:%d/metrics", policyMetricsPort))
}

// policyChain (and policyChain-HOST) divert new pod flows to the
// NetworkPolicy controller; the KUBE- prefix puts them among what teardown
// removes.
const policyChain = "KUBE-BAZAAR-NETPOL"

const policyMetricsPort = 9080

func (n *Node) waitNodeReady() {
	kit.WaitFor(n.t, 2*time.Minute, "node Ready", func() (bool, error) {
		if err := n.byName["kubelet"].exited(); err != nil {
			n.t.Fatal(err)
		}
		node, err := n.Client.CoreV1().Nodes().Get(context.Background(), NodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, fmt.Errorf("%s: %s", c.Reason, c.Message)
			}
		}
		return false, nil
	})
}

// Kubectl runs bin/kubectl as the admin, with bin first on PATH (for scripts
// that call kubectl, such as deploy/base/create-secrets.sh).
func (n *Node) Kubectl(args ...string) (string, error) {
	return n.Command(n.bin("kubectl"), args...)
}

// Command runs a command with the node's kubeconfig and kubectl.
func (n *Node) Command(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(cleanEnv(), "KUBECONFIG="+n.Kubeconfig, "PATH="+n.Bin+":"+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// MustKubectl is Kubectl that fails the test.
func (n *Node) MustKubectl(args ...string) string {
	n.t.Helper()
	out, err := n.Kubectl(args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// StartHostProcess runs cmd on the host (a database the pods reach through
// the bridge); teardown stops it first.
func (n *Node) StartHostProcess(name string, cmd *exec.Cmd) {
	n.byName[name] = n.startCmd(name, cmd, nil)
}

// Exited says whether the host process name has ended, with its log's end.
func (n *Node) Exited(name string) error { return n.byName[name].exited() }

// kubeconfig writes name.kubeconfig for user in groups, with a client
// certificate from the node's CA.
func (n *Node) kubeconfig(name, user string, groups []string) string {
	return n.pki.ClientKubeconfig(filepath.Join(n.Dir, name+".kubeconfig"), "bazaar-e2e", n.Server, user, groups)
}
