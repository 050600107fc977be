// Command images builds one OCI image per Bazaar app with ko, without Docker
// and without pulling anything (issue 12, "Images"):
//
//   - it makes the base image here, from Debian's CA bundle plus passwd/group
//     entries for the non-root user (base.go);
//   - it serves a throwaway registry on loopback (go-containerregistry's
//     pkg/registry, the same handler as `crane registry serve`), because ko
//     reads its base from a registry and attaches each image's SBOM there;
//   - it runs `ko build` once per app against that registry;
//   - it copies every image and its SPDX SBOM into an OCI layout (-out,
//     bin/images), prints each image's name, digest and size, and stops the
//     registry.
//
// `make images` runs it; `make images-test` then checks the layout.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// apps are the import paths (relative to the repository root) that become
// images; an image is named after the last element.
var apps = []string{
	"./services/catalog",
	"./services/basket",
	"./services/ordering",
	"./services/payment",
	"./services/identity",
	"./services/notification",
	"./services/gateway",
	"./frontends/shell",
}

// Annotation keys on the layout's index entries: the short name tools like
// skopeo (oci:bin/images:catalog) look up, and which image an SBOM belongs to.
const (
	refNameKey = "org.opencontainers.image.ref.name"
	sbomForKey = "dev.bazaar.sbom-for"
	source     = "https://github.com/bazaar-shop/bazaar"
)

func main() {
	koBin := flag.String("ko", "bin/ko/ko", "the ko binary")
	out := flag.String("out", "bin/images", "OCI layout to (re)write")
	config := flag.String("config", "tools/ko/.ko.yaml", "ko's configuration (KO_CONFIG_PATH)")
	ca := flag.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle for the base image")
	logs := flag.String("logs", "bin/ko/logs", "folder for ko's output, one file per app")
	// A fixed address: ko writes the base's name, registry included, into
	// every manifest (org.opencontainers.image.base.name), so a random port
	// would change every image's digest on every run.
	addr := flag.String("registry", "127.0.0.1:5391", "loopback address for the throwaway registry")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("images: ")
	if err := run(*koBin, *out, *config, *ca, *logs, *addr); err != nil {
		log.Fatal(err)
	}
}

func run(koBin, out, config, ca, logs, addr string) error {
	start := time.Now()
	base, err := baseImage(ca)
	if err != nil {
		return err
	}
	version, revision := gitVersion()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("the registry needs %s (another `make images` running?; IMAGES_REGISTRY=127.0.0.1:<port> picks another): %w", addr, err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	host := ln.Addr().String()
	fmt.Printf("registry: http://%s (loopback, for this run only)\n", host)

	baseRef, err := name.ParseReference(host + "/bazaar/base:latest")
	if err != nil {
		return err
	}
	if err := remote.Write(baseRef, base); err != nil {
		return fmt.Errorf("pushing the base image: %w", err)
	}
	baseDigest, err := base.Digest()
	if err != nil {
		return err
	}
	baseSize, err := imageSize(base)
	if err != nil {
		return err
	}
	fmt.Printf("base: %s (%s)\n", baseDigest, human(baseSize))

	// Build into a fresh folder and swap it in at the end, so a failed run
	// never leaves a half-written layout behind.
	tmp := out + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	lp, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	absConfig, err := filepath.Abs(config)
	if err != nil {
		return err
	}
	env := append(os.Environ(),
		"KO_DOCKER_REPO="+host+"/bazaar",
		"KO_CONFIG_PATH="+absConfig,
		"KO_DEFAULTBASEIMAGE="+host+"/bazaar/base@"+baseDigest.String(),
		// ko keeps the last binary of each app here (about 20 MB each), so
		// `go build` can skip linking when nothing changed.
		"KOCACHE="+filepath.Join(filepath.Dir(logs), "cache"),
	)

	type result struct {
		app    string
		digest v1.Hash
		size   int64
	}
	var results []result
	for _, app := range apps {
		short := path.Base(app)
		t := time.Now()
		ref, err := koBuild(koBin, app, short, env, filepath.Join(logs, short+".log"), filepath.Join(tmp, "sbom"), version, revision)
		if err != nil {
			return err
		}
		img, err := remote.Image(ref)
		if err != nil {
			return fmt.Errorf("%s: reading back %s: %w", short, ref, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return err
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{refNameKey: short})); err != nil {
			return fmt.Errorf("%s: writing the layout: %w", short, err)
		}
		// ko attaches the SPDX SBOM as the cosign-style tag sha256-<hex>.sbom.
		sbomRef := ref.Context().Tag(strings.Replace(digest.String(), ":", "-", 1) + ".sbom")
		sbom, err := remote.Image(sbomRef)
		if err != nil {
			return fmt.Errorf("%s: no SBOM at %s: %w", short, sbomRef, err)
		}
		if err := lp.AppendImage(sbom, layout.WithAnnotations(map[string]string{refNameKey: short + ".sbom", sbomForKey: digest.String()})); err != nil {
			return err
		}
		size, err := imageSize(img)
		if err != nil {
			return err
		}
		results = append(results, result{short, digest, size})
		log.Printf("built %s in %s", short, time.Since(t).Round(100*time.Millisecond))
	}

	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	fmt.Printf("\n%d images in %s (OCI layout, with an SPDX SBOM each; version %s) in %s:\n",
		len(results), out, version, time.Since(start).Round(100*time.Millisecond))
	fmt.Printf("%-20s %-72s %s\n", "IMAGE", "DIGEST", "SIZE (compressed)")
	var total int64
	for _, r := range results {
		fmt.Printf("%-20s %-72s %s\n", "bazaar/"+r.app, r.digest, human(r.size))
		total += r.size
	}
	fmt.Printf("%-20s %-72s %s (the base layer, %s, is shared)\n", "total", "", human(total), human(baseSize))
	return nil
}

// koBuild builds one app and returns the digest reference ko pushed.
func koBuild(koBin, app, short string, env []string, logFile, sbomDir, version, revision string) (name.Digest, error) {
	lf, err := os.Create(logFile)
	if err != nil {
		return name.Digest{}, err
	}
	defer lf.Close()
	args := []string{"build", app,
		"--base-import-paths", "--tags=latest", "--platform=linux/amd64",
		"--sbom=spdx", "--sbom-dir=" + sbomDir,
	}
	for _, l := range []string{
		"org.opencontainers.image.title=bazaar/" + short,
		// No commas: ko splits label flags on them.
		"org.opencontainers.image.description=Bazaar " + short + " (" + app + ") for Dapr",
		"org.opencontainers.image.source=" + source,
		"org.opencontainers.image.version=" + version,
		"org.opencontainers.image.revision=" + revision,
		"org.opencontainers.image.vendor=Bazaar",
	} {
		args = append(args, "--image-label="+l, "--image-annotation="+l)
	}
	var stdout bytes.Buffer
	cmd := exec.Command(koBin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, lf
	if err := cmd.Run(); err != nil {
		tail, _ := os.ReadFile(logFile)
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return name.Digest{}, fmt.Errorf("ko build %s: %w\n%s", app, err, tail)
	}
	ref := strings.TrimSpace(stdout.String())
	d, err := name.NewDigest(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("ko build %s printed %q, not a digest reference: %w", app, ref, err)
	}
	return d, nil
}

// gitVersion is the short commit (with "+dirty" when the tree has changes)
// and the full one, like the apps' own /healthz; "dev" outside git.
func gitVersion() (version, revision string) {
	b, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "dev", "unknown"
	}
	revision = strings.TrimSpace(string(b))
	version = revision[:min(12, len(revision))]
	if st, err := exec.Command("git", "status", "--porcelain").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		version += "+dirty"
	}
	return version, revision
}

// imageSize is what a pull transfers: manifest, config and compressed layers.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	if n <= 0 {
		return 0, errors.New("empty image")
	}
	return n, nil
}

func human(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
