package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

// hostState is what the host looked like before the node: teardown puts it
// back and compares.
// It is kept in the node's directory (host.json) for Sweep.
type hostState struct {
	IPForward     string          `json:"ipForward"`
	RouteLocalnet string          `json:"routeLocalnet"`
	Paths         map[string]bool `json:"paths"` // of hostPaths
	Netns         []string        `json:"netns"`
	Links         []string        `json:"links"`
	NftTables     []string        `json:"nftTables"`
	Mounts        map[string]bool `json:"mounts"`
	KubeRules     int             `json:"kubeRules"`
}

// hostPaths are written by the kubelet, containerd and libcni whatever their
// configuration says (/var/lib/kubelet/device-plugins, /var/lib/cni/results…).
var hostPaths = []string{"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/run/containerd", "/run/netns"}

// nodePorts are the loopback ports the node listens on.
var nodePorts = []int{apiPort, etcdPort, etcdPeer, 10248, 10249, 10250, 10256, 10257, 10259, policyMetricsPort}

func recordHost() *hostState {
	h := &hostState{
		IPForward:     sysctl("net.ipv4.ip_forward"),
		RouteLocalnet: sysctl("net.ipv4.conf.all.route_localnet"),
		Paths:         map[string]bool{},
		Netns:         dirNames("/run/netns"),
		Links:         links(),
		NftTables:     nftTables(),
		Mounts:        mountSet(),
		KubeRules:     len(kubeRules()),
	}
	for _, p := range hostPaths {
		if _, err := os.Stat(p); err == nil {
			h.Paths[p] = true
		}
	}
	return h
}

func sysctl(name string) string {
	b, _ := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	return strings.TrimSpace(string(b))
}

func setSysctl(name, value string) error {
	return os.WriteFile("/proc/sys/"+strings.ReplaceAll(name, ".", "/"), []byte(value), 0o644)
}

func dirNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func links() []string {
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			names = append(names, strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"))
		}
	}
	sort.Strings(names)
	return names
}

func nftTables() []string {
	out, _ := exec.Command("nft", "list", "tables").Output()
	var tables []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			tables = append(tables, l)
		}
	}
	return tables
}

func mountSet() map[string]bool {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	set := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 1 {
			set[fields[1]] = true
		}
	}
	return set
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	var under []string
	for m := range mountSet() {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			under = append(under, m)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(under)))
	return under
}

// kubeRules are the iptables and ip6tables lines that name a KUBE-* or CNI-*
// chain, as "<command> <table> <line>".
func kubeRules() []string {
	var rules []string
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle", "raw"} {
			out, _ := exec.Command(ipt+"-save", "-t", table).Output()
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "KUBE-") || strings.Contains(l, "CNI-") || strings.Contains(l, isolationChain) {
					rules = append(rules, ipt+" "+table+" "+l)
				}
			}
		}
	}
	return rules
}

// cleanIptables deletes the jumps to KUBE-*/CNI-* chains, then flushes and
// deletes those chains (kube-proxy --cleanup leaves the kubelet's
// KUBE-FIREWALL and KUBE-KUBELET-CANARY, and the bridge plugin's CNI-*).
func cleanIptables() {
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle", "raw"} {
			out, _ := exec.Command(ipt+"-save", "-t", table).Output()
			var chains []string
			for _, l := range strings.Split(string(out), "\n") {
				switch {
				case strings.HasPrefix(l, ":KUBE-") || strings.HasPrefix(l, ":CNI-") || strings.HasPrefix(l, ":"+isolationChain+" "):
					chains = append(chains, strings.Fields(l[1:])[0])
				case strings.HasPrefix(l, "-A ") && (strings.Contains(l, "-j KUBE-") || strings.Contains(l, "-j CNI-") || strings.Contains(l, "-j "+isolationChain)):
					// iptables-save quotes as a shell would; these rules
					// have no quoted spaces except comments.
					args := append([]string{"-t", table, "-D"}, splitRule(l[3:])...)
					_ = exec.Command(ipt, args...).Run()
				}
			}
			for _, c := range chains {
				_ = exec.Command(ipt, "-t", table, "-F", c).Run()
			}
			for _, c := range chains {
				_ = exec.Command(ipt, "-t", table, "-X", c).Run()
			}
		}
	}
}

// splitRule splits an iptables-save rule into arguments, honouring quotes.
func splitRule(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, escaped, have := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			inQuote = !inQuote
			have = true
		case r == ' ' && !inQuote:
			if have || cur.Len() > 0 {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
		}
	}
	if have || cur.Len() > 0 {
		args = append(args, cur.String())
	}
	return args
}

// deleteNewEmptyNftTables deletes the nf_tables tables that iptables-nft made
// for the node (they did not exist before) once they hold no rule.
func deleteNewEmptyNftTables(before []string) {
	for _, tbl := range nftTables() {
		if slices.Contains(before, tbl) {
			continue
		}
		f := strings.Fields(tbl) // table <family> <name>
		if len(f) != 3 {
			continue
		}
		out, err := exec.Command("nft", "list", "table", f[1], f[2]).Output()
		if err != nil {
			continue
		}
		empty := true
		for _, l := range strings.Split(string(out), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || l == "}" || strings.HasPrefix(l, "table ") || strings.HasPrefix(l, "chain ") || strings.HasPrefix(l, "type ") {
				continue
			}
			empty = false
		}
		if empty {
			_ = exec.Command("nft", "delete", "table", f[1], f[2]).Run()
		}
	}
}

// nodeProcesses are the processes of this node still alive: any whose
// command line names its state or binaries, and any in a pod's cgroup.
func (n *Node) nodeProcesses() []string {
	var left []string
	self := strconv.Itoa(os.Getpid())
	for _, pid := range dirNames("/proc") {
		if _, err := strconv.Atoi(pid); err != nil || pid == self {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		args := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		cgroup, _ := os.ReadFile("/proc/" + pid + "/cgroup")
		if args == "" && !strings.Contains(string(cgroup), "/kubepods") {
			continue // kernel thread, or gone
		}
		if strings.Contains(args, n.Dir+"/") || strings.Contains(args, n.Bin+"/") || strings.Contains(string(cgroup), "/kubepods") {
			if len(args) > 120 {
				args = args[:120] + "…"
			}
			left = append(left, pid+" "+args)
		}
	}
	return left
}

// shims are the pids of containerd-shim-runc-v2 processes serving this node.
func (n *Node) shims() []int {
	var pids []int
	if n.containerd == "" {
		return nil
	}
	for _, pid := range dirNames("/proc") {
		id, err := strconv.Atoi(pid)
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		args := string(cmdline)
		if strings.Contains(args, "containerd-shim-runc-v2") && strings.Contains(args, n.containerd) {
			pids = append(pids, id)
		}
	}
	return pids
}

// listeners are the TCP ports of nodePorts that something listens on.
func listeners(ports []int) []int {
	var found []int
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(l)
			if len(f) < 4 || f[3] != "0A" { // LISTEN
				continue
			}
			i := strings.LastIndex(f[1], ":")
			port, err := strconv.ParseInt(f[1][i+1:], 16, 32)
			if err == nil && slices.Contains(ports, int(port)) && !slices.Contains(found, int(port)) {
				found = append(found, int(port))
			}
		}
	}
	return found
}

// teardown deletes the pods through the API (so that the kubelet runs CNI
// DEL: veths, addresses, network namespaces), stops every process, cleans
// what they leave on the host, then fails the test if anything is left.
func (n *Node) teardown() {
	t := n.t
	begin := time.Now()
	if t.Failed() {
		n.dumpLogs()
	}
	alive := func(name string) bool { p, ok := n.byName[name]; return ok && p.exited() == nil }
	if alive("kube-apiserver") && alive("kubelet") && alive("containerd") {
		// Orphan the pods, then delete them quickly (the apps' own grace
		// period is 30 s).
		_, _ = n.Kubectl("delete", "deployments,statefulsets,daemonsets,replicasets,jobs", "--all", "-A", "--cascade=orphan", "--wait=true", "--timeout=60s")
		if out, err := n.Kubectl("delete", "pods", "--all", "-A", "--grace-period=2", "--wait=true", "--timeout=120s"); err != nil {
			t.Logf("deleting the pods: %v %s", err, out)
		}
	}
	for i := len(n.procs) - 1; i >= 0; i-- {
		if p := n.procs[i]; p.name != "containerd" {
			p.stop(10 * time.Second)
		}
	}
	if alive("containerd") {
		// Whatever the kubelet did not stop.
		if out, err := n.ctr("tasks", "ls", "-q"); err == nil {
			for _, id := range strings.Fields(out) {
				_, _ = n.ctr("tasks", "kill", "-s", "KILL", id)
			}
			time.Sleep(time.Second)
			for _, id := range strings.Fields(out) {
				_, _ = n.ctr("tasks", "delete", "-f", id)
			}
		}
		if out, err := n.ctr("containers", "ls", "-q"); err == nil {
			for _, id := range strings.Fields(out) {
				_, _ = n.ctr("containers", "delete", id)
			}
		}
	}
	if p, ok := n.byName["containerd"]; ok {
		p.stop(10 * time.Second)
	}
	n.cleanHost(begin)
}

// Sweep removes what a node in dir left on the host when the process that
// started it ended before its teardown (killed): it kills the node's
// processes (those it started, from dir/pids, and any naming dir or bin or
// in a pod's cgroup), then cleans the host as teardown does, back to the
// state recorded at the start (dir/host.json). It fails t with what remains.
func Sweep(t kit.T, dir, bin string) {
	begin := time.Now()
	n := &Node{t: t, Dir: dir, Bin: bin, byName: map[string]*proc{}, containerd: filepath.Join(dir, "containerd/containerd.sock"),
		extraPorts: []int{redisPort, postgresPort, smtpPort}}
	if b, err := os.ReadFile(filepath.Join(dir, "host.json")); err == nil {
		if err := json.Unmarshal(b, &n.baseline); err != nil {
			t.Errorf("%s: %v", filepath.Join(dir, "host.json"), err)
		}
	} else {
		t.Logf("no record of the host before the node (%v): sysctls and paths stay as they are", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "pids")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				if pid, err := strconv.Atoi(f[1]); err == nil && pid > 1 {
					_ = syscall.Kill(-pid, syscall.SIGKILL) // its process group
				}
			}
		}
	}
	for range 3 {
		for _, p := range n.nodeProcesses() {
			if pid, err := strconv.Atoi(strings.Fields(p)[0]); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	n.cleanHost(begin)
}

// cleanHost removes what the node's processes leave behind once they are
// stopped, restores the sysctls, and fails the test with whatever is left.
func (n *Node) cleanHost(begin time.Time) {
	t := n.t
	// Shims run in their own sessions.
	for _, pid := range n.shims() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if _, err := os.Stat(filepath.Join(n.Dir, "kube-proxy.yaml")); err == nil {
		_ = exec.Command(n.bin("kube-proxy"), "--cleanup", "--config="+filepath.Join(n.Dir, "kube-proxy.yaml")).Run()
	}
	if _, err := exec.Command("iptables", "-n", "-L", isolationChain).Output(); err == nil {
		t.Logf("packets from the pod network to beyond the bridge, dropped: %s", n.Dropped())
	}
	cleanIptables()
	if n.baseline != nil {
		deleteNewEmptyNftTables(n.baseline.NftTables)
	}
	for _, m := range mountsUnder(n.Dir) {
		if err := syscall.Unmount(m, 0); err != nil {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	_ = exec.Command("ip", "link", "del", Bridge).Run()
	// Pod cgroups (cgroupfs driver): every v1 hierarchy and the unified one.
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	for _, d := range cgroups {
		removeCgroupTree(d)
	}
	if n.baseline != nil {
		for _, p := range hostPaths {
			if !n.baseline.Paths[p] {
				_ = os.RemoveAll(p)
			}
		}
		_ = setSysctl("net.ipv4.ip_forward", n.baseline.IPForward)
		_ = setSysctl("net.ipv4.conf.all.route_localnet", n.baseline.RouteLocalnet)
	}
	left := n.leftovers()
	if len(left) > 0 {
		t.Errorf("teardown left on the host:\n  %s", strings.Join(left, "\n  "))
	} else {
		t.Logf("teardown in %s: no process, mount, network namespace, link, iptables rule, cgroup or port left; sysctls restored", since(begin))
	}
}

// removeCgroupTree removes a cgroup directory and its children, deepest first.
func removeCgroupTree(root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i])
	}
}

// leftovers lists what of the node is still on the host.
func (n *Node) leftovers() []string {
	var left []string
	add := func(format string, args ...any) { left = append(left, fmt.Sprintf(format, args...)) }
	for _, p := range n.nodeProcesses() {
		add("process %s", p)
	}
	b := n.baseline
	if b == nil {
		return left
	}
	for m := range mountSet() {
		if !b.Mounts[m] {
			add("mount %s", m)
		}
	}
	for _, ns := range dirNames("/run/netns") {
		if !slices.Contains(b.Netns, ns) {
			add("network namespace /run/netns/%s", ns)
		}
	}
	for _, l := range links() {
		if !slices.Contains(b.Links, l) {
			add("link %s", l)
		}
	}
	if rules := kubeRules(); len(rules) > b.KubeRules {
		add("%d iptables lines naming KUBE-*/CNI-* (%d before), e.g. %s", len(rules), b.KubeRules, rules[0])
	}
	for _, tbl := range nftTables() {
		if !slices.Contains(b.NftTables, tbl) {
			add("nf_tables %s", tbl)
		}
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	for _, d := range cgroups {
		add("cgroup %s", d)
	}
	for _, p := range hostPaths {
		if _, err := os.Stat(p); err == nil && !b.Paths[p] {
			add("path %s", p)
		}
	}
	if v := sysctl("net.ipv4.ip_forward"); v != b.IPForward {
		add("net.ipv4.ip_forward = %s (was %s)", v, b.IPForward)
	}
	if v := sysctl("net.ipv4.conf.all.route_localnet"); v != b.RouteLocalnet {
		add("net.ipv4.conf.all.route_localnet = %s (was %s)", v, b.RouteLocalnet)
	}
	for _, port := range listeners(append(slices.Clone(nodePorts), n.extraPorts...)) {
		add("a listener on port %d", port)
	}
	return left
}

// dumpLogs prints the last warnings and errors of every process and copies
// the logs (and the pods') to logsOut.
func (n *Node) dumpLogs() {
	for _, p := range n.procs {
		if lines := kit.Tail(p.log.Name(), 5); lines != "" {
			n.t.Logf("--- %s, last warnings and errors:\n%s", p.name, lines)
		}
	}
	if n.logsOut == "" {
		return
	}
	_ = os.RemoveAll(n.logsOut)
	_ = os.MkdirAll(n.logsOut, 0o755)
	if n.Kubeconfig != "" {
		out, _ := n.Kubectl("get", "nodes,pods,services,endpointslices", "-A", "-o", "wide")
		events, _ := n.Kubectl("get", "events", "-A", "--sort-by=.lastTimestamp")
		_ = os.WriteFile(filepath.Join(n.logsOut, "cluster.txt"), []byte(out+"\n"+events), 0o644)
	}
	_ = exec.Command("cp", "-r", filepath.Join(n.Dir, "logs"), filepath.Join(n.Dir, "pod-logs"), n.logsOut).Run()
	n.t.Logf("the logs are in %s", n.logsOut)
}
