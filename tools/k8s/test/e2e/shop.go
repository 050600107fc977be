package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

// HostServices are the shop's servers, on this host, listening on the pod
// bridge's address only (the pods reach them through Services without
// selectors and their EndpointSlices: deploy/overlays/local-node). There is
// no image of Redis, PostgreSQL or Mailpit to be had here without a registry;
// Debian's servers and the project's Mailpit build are on the host already.
// The ports are the usual ones, which the base's NetworkPolicies allow.
type HostServices struct {
	RedisPassword    string
	PostgresPassword string
	MailAPI          string // Mailpit's API, on 127.0.0.1
}

const (
	redisPort    = 6379
	postgresPort = 5432
	smtpPort     = 587
)

// StartHostServices starts Redis, PostgreSQL and Mailpit on BridgeIP.
func (n *Node) StartHostServices(mailpit string) *HostServices {
	t := n.t
	t.Helper()
	begin := time.Now()
	hs := &HostServices{RedisPassword: secret(), PostgresPassword: secret()}
	for _, port := range []int{redisPort, postgresPort, smtpPort} {
		n.extraPorts = append(n.extraPorts, port)
		if l, err := net.Listen("tcp", net.JoinHostPort(BridgeIP, strconv.Itoa(port))); err != nil {
			t.Fatalf("port %d on %s: %v", port, BridgeIP, err)
		} else {
			l.Close()
		}
	}

	// Redis: password in a private file, nothing persisted.
	dir := filepath.Join(n.Dir, "redis")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "redis.conf")
	kit.WriteFile(t, conf, []byte(fmt.Sprintf("port %d\nbind %s\nprotected-mode yes\ndir %q\nsave \"\"\nappendonly no\ndatabases 16\nrequirepass %q\n",
		redisPort, BridgeIP, dir, hs.RedisPassword)))
	redis, err := server("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	n.StartHostProcess("redis", exec.Command(redis, conf))

	// PostgreSQL refuses to run as root: its cluster belongs to "postgres".
	initdb, err := server("initdb")
	if err != nil {
		t.Fatal(err)
	}
	// Debian's are under /usr/lib/postgresql/<version>/bin, with links.
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	pgDir := filepath.Join(n.Dir, "postgres")
	data := filepath.Join(pgDir, "data")
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal("PostgreSQL refuses to run as root and there is no 'postgres' user (Debian's postgresql package makes it)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if err := os.MkdirAll(pgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	_ = os.Chown(pgDir, uid, gid)
	pwfile := filepath.Join(pgDir, "pw")
	kit.WriteFile(t, pwfile, []byte(hs.PostgresPassword+"\n"))
	_ = os.Chown(pwfile, uid, gid)
	cmd := exec.Command(initdb, "-D", data, "-U", "bazaar", "--pwfile", pwfile, "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = pgDir
	out, err := cmd.CombinedOutput()
	os.Remove(pwfile)
	if err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	// initdb allows loopback only; the pods connect from the pod network.
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(hba, "host all all %s scram-sha-256\n", PodCIDR)
	hba.Close()
	postgres := filepath.Join(filepath.Dir(initdb), "postgres")
	pg := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(postgresPort), "-h", BridgeIP, "-k", pgDir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=100")
	pg.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	n.StartHostProcess("postgres", pg)

	// Mailpit: SMTP on the bridge, its API on loopback for the test.
	api := freePort(t)
	hs.MailAPI = fmt.Sprintf("http://127.0.0.1:%d", api)
	n.StartHostProcess("mailpit", exec.Command(mailpit, "--smtp", net.JoinHostPort(BridgeIP, strconv.Itoa(smtpPort)),
		"--listen", fmt.Sprintf("127.0.0.1:%d", api), "--database", filepath.Join(n.Dir, "mailpit.db"),
		"--quiet", "--disable-version-check"))

	for name, addr := range map[string]string{
		"redis":    net.JoinHostPort(BridgeIP, strconv.Itoa(redisPort)),
		"postgres": net.JoinHostPort(BridgeIP, strconv.Itoa(postgresPort)),
		"mailpit":  net.JoinHostPort(BridgeIP, strconv.Itoa(smtpPort)),
	} {
		kit.WaitFor(t, time.Minute, name+" on "+addr, func() (bool, error) {
			if err := n.Exited(name); err != nil {
				t.Fatal(err)
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return false, err
			}
			c.Close()
			return true, nil
		})
	}
	createdb := exec.Command(filepath.Join(filepath.Dir(initdb), "createdb"), "-h", BridgeIP, "-p", strconv.Itoa(postgresPort), "-U", "bazaar", "bazaar")
	createdb.Env = append(cleanEnv(), "PGPASSWORD="+hs.PostgresPassword)
	if out, err := createdb.CombinedOutput(); err != nil {
		t.Fatalf("createdb: %v: %s", err, out)
	}
	kit.WaitFor(t, time.Minute, "Mailpit's API", func() (bool, error) {
		resp, err := http.Get(hs.MailAPI + "/api/v1/info")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	t.Logf("Redis, PostgreSQL and Mailpit on %s in %s", BridgeIP, since(begin))
	return hs
}

// DeployShop installs Bazaar as docs/kubernetes.md says: the namespace, the
// generated Secrets (deploy/base/create-secrets.sh), the connection Secrets
// (the overlay leaves them to the installation: they hold passwords), then
// `kubectl apply -k` of the overlay; it waits for every Deployment.
func (n *Node) DeployShop(root, overlay string, hs *HostServices) {
	t := n.t
	t.Helper()
	begin := time.Now()
	n.MustKubectl("apply", "-f", filepath.Join(root, "deploy/base/namespace.yaml"))
	cmd := exec.Command("sh", filepath.Join(root, "deploy/base/create-secrets.sh"))
	cmd.Env = append(cleanEnv(), "KUBECONFIG="+n.Kubeconfig, "PATH="+n.Bin+":"+os.Getenv("PATH"), "ADMIN_EMAIL=admin@bazaar.local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create-secrets.sh: %v\n%s", err, out)
	}
	// From files (0600), not the command line, which every user can read.
	for name, kv := range map[string]string{
		"bazaar-redis": fmt.Sprintf("host=redis.bazaar.svc.cluster.local:%d\npassword=%s\n", redisPort, hs.RedisPassword),
		"bazaar-postgres": fmt.Sprintf("connection-string=host=postgresql.bazaar.svc.cluster.local port=%d user=bazaar password=%s dbname=bazaar sslmode=disable\n",
			postgresPort, hs.PostgresPassword),
	} {
		f := filepath.Join(n.Dir, name+".env")
		kit.WriteFile(t, f, []byte(kv))
		n.MustKubectl("-n", "bazaar", "create", "secret", "generic", name, "--from-env-file="+f)
		os.Remove(f)
	}
	n.MustKubectl("apply", "-k", overlay)
	timeout := 6 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("BAZAAR_K8S_SHOP_TIMEOUT")); err == nil {
		timeout = d
	}
	n.WaitWorkloadsReady("bazaar", timeout)
	t.Logf("Bazaar applied (%s) and every Deployment ready in %s", overlay, since(begin))
}

// server finds a Debian server binary (PostgreSQL's are not on PATH).
func server(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Strings(matches)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s is not installed (apt-get install redis-server postgresql)", name)
}

func secret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t interface{ Fatal(...any) }) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Memory sums the resident memory of the node's processes (control plane,
// containerd, kubelet, kube-proxy, shims, every container, the host servers
// and their children), in bytes, by process name.
func (n *Node) Memory() (total int64, byName map[string]int64) {
	type info struct {
		ppid, rss int64
		name      string
		ours      bool
	}
	all := map[int64]*info{}
	for _, pid := range dirNames("/proc") {
		id, err := strconv.ParseInt(pid, 10, 64)
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		args := string(cmdline)
		cgroup, _ := os.ReadFile("/proc/" + pid + "/cgroup")
		status, _ := os.ReadFile("/proc/" + pid + "/status")
		in := &info{ours: strings.Contains(args, n.Dir) || strings.Contains(args, n.Bin+"/") || strings.Contains(string(cgroup), "/kubepods")}
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "Name:"); ok {
				in.name = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "PPid:"); ok {
				in.ppid, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				in.rss = kb * 1024
			}
		}
		all[id] = in
	}
	for _, p := range n.procs {
		if in, ok := all[int64(p.cmd.Process.Pid)]; ok {
			in.ours = true
		}
	}
	for changed := true; changed; { // children of ours (postgres's backends)
		changed = false
		for _, in := range all {
			if parent, ok := all[in.ppid]; ok && parent.ours && !in.ours && in.ppid > 1 {
				in.ours, changed = true, true
			}
		}
	}
	byName = map[string]int64{}
	for _, in := range all {
		if in.ours {
			total += in.rss
			byName[in.name] += in.rss
		}
	}
	return total, byName
}
