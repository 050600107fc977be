// Package kit is what the two Kubernetes tests share: the cluster's
// certificate authority and kubeconfigs, the processes' logs, and waiting
// for a condition. `make k8s-test` (this module's root package, a simulated
// node) and `make k8s-e2e` (package e2e, a real one) both use it.
package kit

import (
	"bufio"
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
	"os"
	"path/filepath"
	"strings"
	"time"
)

// T is what the kit and package e2e need of a test. A *testing.T has it;
// so does the command behind `make k8s-up` (cmd/localnode), which starts
// the same cluster outside a test.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Failed() bool
	Cleanup(func())
}

// CA is a cluster's certificate authority, and the files it signs, in Dir.
type CA struct {
	t    T
	Dir  string
	PEM  []byte // the CA's certificate
	cert *x509.Certificate
	key  crypto.Signer
}

// NewCA makes a CA named cn, writing ca.crt and ca.key into dir.
func NewCA(t T, dir, cn string) *CA {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := MustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c := &CA{t: t, Dir: dir, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	c.cert, _ = x509.ParseCertificate(der)
	WriteFile(t, c.File(), c.PEM)
	c.WriteKey("ca", key)
	return c
}

// File is the CA's certificate file.
func (c *CA) File() string { return filepath.Join(c.Dir, "ca.crt") }

// Issue writes name.crt, signed by the CA (a server's, or else a client's),
// and its key.
func (c *CA) Issue(name, cn string, orgs, dns []string, ips []net.IP, server bool) (certFile, keyFile string) {
	key := MustKey(c.t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     dns,
		IPAddresses:  ips,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		c.t.Fatal(err)
	}
	certFile = filepath.Join(c.Dir, name+".crt")
	WriteFile(c.t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return certFile, c.WriteKey(name, key)
}

// WriteKey writes name.key.
func (c *CA) WriteKey(name string, key *ecdsa.PrivateKey) string {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(c.Dir, name+".key")
	WriteFile(c.t, path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	return path
}

// ClientKubeconfig writes path, a kubeconfig for cluster at server with a
// client certificate of user in groups.
func (c *CA) ClientKubeconfig(path, cluster, server, user string, groups []string) string {
	certFile, keyFile := c.Issue(filepath.Base(strings.TrimSuffix(path, ".kubeconfig"))+"-client", user, groups, nil, nil, false)
	return c.Kubeconfig(path, cluster, server, user, fmt.Sprintf("    client-certificate: %s\n    client-key: %s\n", certFile, keyFile))
}

// Kubeconfig writes path, a kubeconfig for cluster at server, trusting the
// CA, with userFields (indented under user:) for user.
func (c *CA) Kubeconfig(path, cluster, server, user, userFields string) string {
	WriteFile(c.t, path, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority: %[3]s
users:
- name: %[4]s
  user:
%[5]scontexts:
- name: %[1]s
  context: {cluster: %[1]s, user: %[4]s}
current-context: %[1]s
`, cluster, server, c.File(), user, userFields)))
	return path
}

// MustKey makes a P-256 key.
func MustKey(t T) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// WriteFile writes a file only its owner reads.
func WriteFile(t T, path string, data []byte) {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Tail returns the last n lines of a log that are not informational.
func Tail(path string, n int) string {
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
		if Informational(line) {
			continue
		}
		if len(line) > 400 {
			line = line[:400] + "…"
		}
		lines = append(lines, line)
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Informational tells the info lines of klog, etcd, kwok, containerd and
// Dapr apart.
func Informational(line string) bool {
	for _, info := range []string{`"level":"info"`, `"level":"INFO"`, "level=info", `"level":"warn"`, "level=debug"} {
		if strings.Contains(line, info) {
			return true
		}
	}
	return strings.HasPrefix(line, "I") && len(line) > 5 && line[1] >= '0' && line[1] <= '9'
}

// WaitFor polls cond every 250 ms until it holds, fails or timeout passes.
func WaitFor(t T, timeout time.Duration, what string, cond func() (bool, error)) {
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
