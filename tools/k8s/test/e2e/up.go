package e2e

import (
	_ "embed"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/bazaar-shop/bazaar/tools/k8s/test/kit"
)

// Apps are Bazaar's services, each an image in bin/images.
var Apps = []string{"catalog", "basket", "ordering", "payment", "identity", "notification", "shell", "gateway"}

// daprImages are the images Dapr's chart names (global.registry/<name>:tag),
// written by make k8s-node-images as bin/k8s/images/dapr-<name>.tar.
var daprImages = []string{"daprd", "operator", "placement", "sentry", "scheduler", "injector"}

// ShopURL is the gateway's NodePort on loopback (deploy/overlays/local-node).
const ShopURL = "http://127.0.0.1:30080"

// corednsManifest is the cluster DNS on ClusterDNS, from the image
// bazaar.local/coredns that make k8s-node-images writes.
//
//go:embed coredns.yaml
var corednsManifest []byte

// Paths say where the node's binaries and images, the apps' images, the
// overlay, Mailpit and Dapr's chart are.
type Paths struct {
	Root      string // the repository
	Bin       string // bin/k8s: the cluster's binaries
	Images    string // bin/k8s/images: pause, CoreDNS, Dapr's control plane and daprd
	AppImages string // bin/images: ko's OCI layout of the apps
	Overlay   string // deploy/overlays/local-node
	Mailpit   string // bin/mailpit
	Chart     string // Dapr's chart, from the module cache
}

// DefaultPaths are the paths under the repository at root, each of which
// BAZAAR_K8S_BIN, BAZAAR_K8S_IMAGES, BAZAAR_K8S_OVERLAY and BAZAAR_DAPR_CHART
// can change; it fails, saying which make target makes it, when one is
// missing.
func DefaultPaths(root string) (Paths, error) {
	abs := func(env, fallback string) string {
		p := fallback
		if v := os.Getenv(env); v != "" {
			p = v
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	root = abs("BAZAAR_ROOT", root)
	p := Paths{
		Root:      root,
		Bin:       abs("BAZAAR_K8S_BIN", filepath.Join(root, "bin/k8s")),
		Images:    abs("BAZAAR_K8S_IMAGES", filepath.Join(root, "bin/k8s/images")),
		AppImages: filepath.Join(root, "bin/images"),
		Overlay:   abs("BAZAAR_K8S_OVERLAY", filepath.Join(root, "deploy/overlays/local-node")),
		Mailpit:   filepath.Join(root, "bin/mailpit"),
		Chart:     os.Getenv("BAZAAR_DAPR_CHART"),
	}
	if p.Chart == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return p, fmt.Errorf("go env GOMODCACHE: %v", err)
		}
		p.Chart = filepath.Join(strings.TrimSpace(string(out)), "github.com/dapr/dapr@v"+DaprVersion+"/charts/dapr")
	}
	for file, target := range map[string]string{
		filepath.Join(p.AppImages, "index.json"): "make images",
		p.Mailpit:                                "make tools",
		p.Chart:                                  "make dapr",
		filepath.Join(p.Overlay, "kustomization.yaml"): "the repository's deploy/",
	} {
		if !exists(file) {
			return p, fmt.Errorf("%s is missing (%s)", file, target)
		}
	}
	return p, nil
}

// Shop is Bazaar on a running one-node cluster.
type Shop struct {
	*Node
	Host *HostServices
}

// StartShop starts the node (o), imports the images, installs CoreDNS and
// Dapr's chart, starts Redis, PostgreSQL and Mailpit on the host, deploys
// the overlay, and waits until the home page answers on ShopURL. What
// `make k8s-e2e` tests and `make k8s-up` leaves running.
func StartShop(t kit.T, p Paths, o Options) *Shop {
	t.Helper()
	names := []string{"pause", "coredns", "web"}
	for _, d := range daprImages {
		names = append(names, "dapr-"+d)
	}
	tars, err := ImageTars(p.Images, names...)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if o.Bin == "" {
		o.Bin = p.Bin
	}
	n := StartNode(t, o)
	n.ImportTars(tars...)
	n.ImportLayout(p.AppImages, "bazaar.local/bazaar/app", Apps, func(app string) string { return "bazaar.local/bazaar/" + app + ":local-node" })
	manifest := filepath.Join(n.Dir, "coredns.yaml")
	kit.WriteFile(t, manifest, corednsManifest)
	n.InstallCoreDNS(manifest)
	n.InstallDapr(p.Chart)
	hs := n.StartHostServices(p.Mailpit)
	n.DeployShop(p.Root, p.Overlay, hs)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	kit.WaitFor(t, time.Minute, "the home page on "+ShopURL, func() (bool, error) {
		resp, err := client.Get(ShopURL + "/")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("GET /: %s", resp.Status)
	})
	t.Logf("the shop answers on %s, %s after the start", ShopURL, since(begin))
	return &Shop{Node: n, Host: hs}
}
