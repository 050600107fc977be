package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ImportTars imports docker-archive tarballs (tools/k8s/node/images/imgtool
// writes them: pause, CoreDNS, Dapr's images) into the node's containerd.
func (n *Node) ImportTars(tars ...string) {
	n.t.Helper()
	begin := time.Now()
	for _, tar := range tars {
		if _, err := n.ctr("images", "import", tar); err != nil {
			n.t.Fatal(err)
		}
	}
	n.t.Logf("imported %d image archives in %s", len(tars), since(begin))
}

// ImportLayout imports every image of an OCI layout (ko's bin/images) as
// baseName:<its org.opencontainers.image.ref.name>, then tags each app as
// tag(app) (the name the overlay gives it). The layout is streamed to ctr as
// a tar: nothing is written.
func (n *Node) ImportLayout(dir, baseName string, apps []string, tag func(app string) string) {
	n.t.Helper()
	begin := time.Now()
	tar := exec.Command("tar", "-C", dir, "-cf", "-", ".")
	imp := exec.Command(n.bin("ctr"), "--address", n.containerd, "-n", "k8s.io", "images", "import", "--base-name", baseName, "-")
	pipe, err := tar.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	imp.Stdin = pipe
	var tarErr strings.Builder
	tar.Stderr = &tarErr
	if err := tar.Start(); err != nil {
		n.t.Fatal(err)
	}
	out, err := imp.CombinedOutput()
	if werr := tar.Wait(); werr != nil {
		n.t.Fatalf("tar of %s: %v %s", dir, werr, tarErr.String())
	}
	if err != nil {
		n.t.Fatalf("ctr images import %s: %v\n%s", dir, err, out)
	}
	for _, app := range apps {
		if _, err := n.ctr("images", "tag", "--force", baseName+":"+app, tag(app)); err != nil {
			n.t.Fatal(err)
		}
	}
	n.t.Logf("imported the %d apps' images from %s in %s", len(apps), dir, since(begin))
}

// ImageTars lists dir/*.tar, failing when dir has none of want.
func ImageTars(dir string, want ...string) ([]string, error) {
	var tars []string
	for _, w := range want {
		p := filepath.Join(dir, w+".tar")
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%v (make k8s-node-images)", err)
		}
		tars = append(tars, p)
	}
	return tars, nil
}
