package main

// The proof for `make images` (run by `make images-test`, which builds the
// images first): every image in the OCI layout is only its static app binary,
// the CA bundle and the non-root user's passwd/group entries, runs as that
// user, carries its labels and an SPDX SBOM, and its entrypoint binary, taken
// out of the layout and run here, is the real app.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const module = "github.com/bazaar-shop/bazaar"

// layoutDir is where `make images` wrote the images (BAZAAR_IMAGES overrides).
func layoutDir(t *testing.T) string {
	dir := os.Getenv("BAZAAR_IMAGES")
	if dir == "" {
		dir = "../../bin/images"
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		t.Fatalf("no OCI layout at %s (run `make images` first, or `make images-test`): %v", dir, err)
	}
	return dir
}

// image is one app's image as the tests see it: its config, manifest, every
// file in its layers, and the content of the files worth reading.
type image struct {
	app      string
	digest   v1.Hash
	size     int64
	manifest *v1.Manifest
	config   *v1.ConfigFile
	files    []tar.Header
	content  map[string][]byte // passwd, group, CA bundle, the app binary
}

func loadImages(t *testing.T) (map[string]*image, layout.Path, *v1.IndexManifest) {
	t.Helper()
	p, err := layout.FromPath(layoutDir(t))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]*image{}
	for _, d := range im.Manifests {
		if d.Annotations[sbomForKey] != "" {
			continue
		}
		app := d.Annotations[refNameKey]
		img, err := p.Image(d.Digest)
		if err != nil {
			t.Fatalf("%s: %v", app, err)
		}
		got, err := readImage(app, img)
		if err != nil {
			t.Fatalf("%s: %v", app, err)
		}
		images[app] = got
	}
	return images, p, im
}

func readImage(app string, img v1.Image) (*image, error) {
	out := &image{app: app, content: map[string][]byte{}}
	var err error
	if out.digest, err = img.Digest(); err != nil {
		return nil, err
	}
	if out.size, err = imageSize(img); err != nil {
		return nil, err
	}
	if out.manifest, err = img.Manifest(); err != nil {
		return nil, err
	}
	if out.config, err = img.ConfigFile(); err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{"etc/passwd": true, "etc/group": true, caBundle: true, "ko-app/" + app: true}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rc.Close()
				return nil, err
			}
			name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			h.Name = name
			out.files = append(out.files, *h)
			if keep[name] {
				if out.content[name], err = io.ReadAll(tr); err != nil {
					rc.Close()
					return nil, err
				}
			}
		}
		rc.Close()
	}
	return out, nil
}

// shells are names that must not exist anywhere in an image.
var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true, "csh": true, "tcsh": true, "busybox": true, "toybox": true}

// checkImage returns every way img breaks the rules; none means it is fine.
func checkImage(img *image) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	// A numeric, non-zero uid: Kubernetes' runAsNonRoot can only verify a
	// number, and the user must exist in /etc/passwd for tools that look it up.
	user := img.config.Config.User
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	switch {
	case err != nil:
		fail("user %q is not numeric", user)
	case n == 0:
		fail("user %q is root", user)
	case !bytes.Contains(img.content["etc/passwd"], []byte(fmt.Sprintf(":x:%d:", n))):
		fail("uid %d is not in /etc/passwd", n)
	}

	binary := "/ko-app/" + img.app
	if e := img.config.Config.Entrypoint; len(e) != 1 || e[0] != binary {
		fail("entrypoint %q, want [%s]", e, binary)
	}
	if len(img.config.Config.Cmd) > 0 {
		fail("cmd %q, want none", img.config.Config.Cmd)
	}

	// Nothing but the app, the CA bundle, passwd/group and the folders that
	// hold them (ko adds an empty /var/run/ko for kodata, which we don't use).
	allowed := map[string]bool{"etc/passwd": true, "etc/group": true, caBundle: true, "ko-app/" + img.app: true}
	dirs := map[string]bool{"etc": true, "etc/ssl": true, "etc/ssl/certs": true, "ko-app": true, "var": true, "var/run": true, "var/run/ko": true}
	for _, h := range img.files {
		if shells[path.Base(h.Name)] || strings.HasPrefix(h.Name, "bin/") || strings.HasPrefix(h.Name, "usr/bin/") || strings.HasPrefix(h.Name, "sbin/") {
			fail("%s: a shell or a system binary", h.Name)
			continue
		}
		switch {
		case h.Typeflag == tar.TypeDir && dirs[h.Name]:
		case h.Typeflag == tar.TypeReg && allowed[h.Name]:
		default:
			fail("unexpected %s (type %c)", h.Name, h.Typeflag)
		}
	}

	// The CA bundle: Go's crypto/tls reads exactly this file on Linux.
	ca := img.content[caBundle]
	certs := 0
	for rest := ca; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs++
		}
	}
	if certs < 50 {
		fail("CA bundle has %d certificates", certs)
	}

	bin := img.content["ko-app/"+img.app]
	if len(bin) == 0 {
		fail("no %s", binary)
	} else {
		errs = append(errs, checkStatic(img.app, bin)...)
	}

	// Labels on the config (what `docker inspect` and Kubernetes tools show)
	// and the same as annotations on the manifest (what registries show).
	for _, k := range []string{"org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.revision", "org.opencontainers.image.title"} {
		if img.config.Config.Labels[k] == "" {
			fail("label %s missing", k)
		}
		if img.manifest.Annotations[k] == "" {
			fail("annotation %s missing", k)
		}
	}
	if got := img.config.Config.Labels["org.opencontainers.image.title"]; got != "" && got != "bazaar/"+img.app {
		fail("title %q, want bazaar/%s", got, img.app)
	}
	return errs
}

// checkStatic checks that bin is a static linux/amd64 executable built with
// CGO_ENABLED=0 from the app's own package.
func checkStatic(app string, bin []byte) []error {
	var errs []error
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return []error{fmt.Errorf("binary: %w", err)}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			errs = append(errs, errors.New("binary has a dynamic loader (PT_INTERP): not static"))
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		errs = append(errs, fmt.Errorf("binary needs shared libraries %q", libs))
	}
	if f.Machine != elf.EM_X86_64 {
		errs = append(errs, fmt.Errorf("binary is for %s", f.Machine))
	}
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		return append(errs, fmt.Errorf("build info: %w", err))
	}
	want := module + "/services/" + app
	if app == "shell" {
		want = module + "/frontends/shell"
	}
	if info.Path != want {
		errs = append(errs, fmt.Errorf("binary is %s, want %s", info.Path, want))
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" {
		errs = append(errs, fmt.Errorf("CGO_ENABLED=%q, want 0", settings["CGO_ENABLED"]))
	}
	if settings["GOOS"] != "linux" || settings["GOARCH"] != "amd64" {
		errs = append(errs, fmt.Errorf("built for %s/%s", settings["GOOS"], settings["GOARCH"]))
	}
	return errs
}

func TestImages(t *testing.T) {
	images, p, im := loadImages(t)
	if len(images) != len(apps) {
		t.Errorf("%d images in the layout, want %d", len(images), len(apps))
	}
	for _, a := range apps {
		app := path.Base(a)
		img := images[app]
		if img == nil {
			t.Errorf("no image for %s", app)
			continue
		}
		t.Run(app, func(t *testing.T) {
			for _, err := range checkImage(img) {
				t.Error(err)
			}
			checkSBOM(t, p, im, img)
			t.Logf("bazaar/%-13s %s  %s (%d files, user %s)", app, img.digest, human(img.size), len(img.files), img.config.Config.User)
		})
	}
}

// checkSBOM finds img's SBOM in the layout (the attachment ko pushed) and
// checks it is SPDX describing the app's module with its dependencies.
func checkSBOM(t *testing.T, p layout.Path, im *v1.IndexManifest, img *image) {
	t.Helper()
	for _, d := range im.Manifests {
		if d.Annotations[sbomForKey] != img.digest.String() {
			continue
		}
		sb, err := p.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := sb.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("SBOM has %d layers: %v", len(layers), err)
		}
		mt, _ := layers[0].MediaType()
		if !strings.Contains(string(mt), "spdx") {
			t.Errorf("SBOM media type %q", mt)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
			Packages    []struct {
				Name string `json:"name"`
			} `json:"packages"`
		}
		if err := json.NewDecoder(rc).Decode(&doc); err != nil {
			t.Fatalf("SBOM: %v", err)
		}
		names := map[string]bool{}
		for _, p := range doc.Packages {
			names[p.Name] = true
		}
		if !strings.HasPrefix(doc.SPDXVersion, "SPDX-") || !names[module] || len(doc.Packages) < 5 {
			t.Errorf("SBOM is %q with %d packages (module listed: %v)", doc.SPDXVersion, len(doc.Packages), names[module])
		}
		return
	}
	t.Errorf("no SBOM for %s in the layout", img.digest)
}

// TestEntrypointsRun takes every image's entrypoint binary out of the layout
// and runs it here, in an empty folder, with no sidecar:
//   - with no settings, it must refuse to start and name what is missing
//     (the real program's configuration check, with its own name);
//   - with the settings the Dapr sidecar injector gives it, it must start
//     and answer its health check with the version the image's labels claim
//     (GET /healthz; payment is a gRPC app, so there it is the "healthz"
//     invocation over Dapr's AppCallback API, as its sidecar would call it);
//   - every app with a static/ folder must serve each of its files, byte for
//     byte, from what go:embed put in the binary (the image holds no other
//     copy, and the binary runs in an empty folder), and refuse them
//     without the app token, as the real guard does.
//
// The apps connect to their sidecar lazily, so no sidecar is needed to start.
func TestEntrypointsRun(t *testing.T) {
	images, _, _ := loadImages(t)
	for _, a := range apps {
		app := path.Base(a)
		img := images[app]
		if img == nil {
			t.Errorf("no image for %s", app)
			continue
		}
		t.Run(app, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, app)
			if err := os.WriteFile(bin, img.content["ko-app/"+app], 0o755); err != nil {
				t.Fatal(err)
			}

			// No settings: the configuration error, from the app itself.
			cmd := exec.Command(bin)
			cmd.Dir, cmd.Env = dir, []string{}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("without settings: %v, want exit status 1\n%s", err, out)
			}
			if !strings.HasPrefix(string(out), app+": ") || !strings.Contains(string(out), "APP_PORT is required") || !strings.Contains(string(out), "APP_API_TOKEN is required") {
				t.Errorf("without settings it said %q", out)
			}

			port, sidecarHTTP, sidecarGRPC := freePort(t), freePort(t), freePort(t)
			token := randomToken(t)
			var logs bytes.Buffer
			cmd = exec.Command(bin)
			cmd.Dir = dir
			cmd.Env = []string{
				"APP_ID=" + app,
				"APP_PORT=" + strconv.Itoa(port),
				"DAPR_HTTP_PORT=" + strconv.Itoa(sidecarHTTP),
				"DAPR_GRPC_PORT=" + strconv.Itoa(sidecarGRPC),
				"APP_API_TOKEN=" + token,
			}
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case err := <-exited:
					if err != nil {
						t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
					}
				case <-time.After(10 * time.Second):
					_ = cmd.Process.Kill()
					t.Errorf("still running 10 s after SIGTERM\n%s", logs.String())
				}
			}()
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			var body string
			if app == "payment" {
				waitFor(t, exited, &logs, func() error {
					var err error
					body, err = grpcHealthz(addr, token)
					return err
				})
				if _, err := grpcHealthz(addr, "wrong"); status.Code(err) != codes.Unauthenticated {
					t.Errorf("with a wrong app token: %v, want Unauthenticated", err)
				}
			} else {
				waitFor(t, exited, &logs, func() error {
					code, b, err := get("http://"+addr+"/healthz", "")
					body = b
					if err == nil && code != http.StatusOK {
						err = fmt.Errorf("status %d", code)
					}
					return err
				})
			}
			if want := "ok " + img.config.Config.Labels["org.opencontainers.image.version"] + "\n"; body != want {
				t.Errorf("/healthz says %q, the image's version label %q", body, want)
			}
			checkEmbeddedAssets(t, a, app, "http://"+addr, token)
		})
	}
}

// checkEmbeddedAssets fetches every file of the app's static/ folder (and
// catalog's product drawings) under the content-hashed name the app gives it
// (internal/fragment, services/catalog/images.go) and compares it with the
// source file.
func checkEmbeddedAssets(t *testing.T, src, app, base, token string) {
	t.Helper()
	dir := filepath.Join("../..", src, "static")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return // gateway, payment, notification: nothing to serve
	}
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() {
			files = append(files, e.Name())
		}
	}
	if app == "catalog" {
		svgs, _ := filepath.Glob(filepath.Join(dir, "products", "*.svg"))
		for _, f := range svgs {
			files = append(files, filepath.Join("products", filepath.Base(f)))
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s has no static files", dir)
	}
	for i, f := range files {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(want)
		ext := path.Ext(f)
		url := base + "/static/" + app + "/" + strings.TrimSuffix(filepath.ToSlash(f), ext) + "." + hex.EncodeToString(sum[:5]) + ext
		code, got, err := get(url, token)
		if err != nil || code != http.StatusOK || got != string(want) {
			t.Errorf("embedded %s: status %d, %d bytes (want %d), %v", f, code, len(got), len(want), err)
		}
		if i == 0 {
			if code, _, err := get(url, ""); err != nil || code != http.StatusUnauthorized {
				t.Errorf("%s without the app token: status %d, %v; want 401", f, code, err)
			}
		}
	}
	t.Logf("%d embedded files served from the binary", len(files))
}

// waitFor retries check for up to 15 s, failing early if the app exits.
func waitFor(t *testing.T, exited chan error, logs *bytes.Buffer, check func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case e := <-exited:
			exited <- e
			t.Fatalf("exited before it answered: %v\n%s", e, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer in 15 s: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// grpcHealthz calls payment's "healthz" the way its sidecar does:
// dapr.proto.runtime.v1.AppCallback/OnInvoke with an InvokeRequest whose
// method is "healthz". The messages are two fields each, so they are
// encoded by hand rather than pulling Dapr's protos into this module.
func grpcHealthz(addr, token string) (string, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "dapr-api-token", token), 3*time.Second)
	defer cancel()
	req := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "healthz") // InvokeRequest.method
	var resp []byte
	if err := conn.Invoke(ctx, "/dapr.proto.runtime.v1.AppCallback/OnInvoke", &req, &resp, grpc.ForceCodec(rawCodec{})); err != nil {
		return "", err
	}
	data := field(resp, 1)             // InvokeResponse.data, a google.protobuf.Any
	return string(field(data, 2)), nil // Any.value
}

// field returns the first length-delimited field num of a protobuf message.
func field(msg []byte, num protowire.Number) []byte {
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return nil
		}
		msg = msg[l:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				return nil
			}
			if n == num {
				return v
			}
			msg = msg[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(n, typ, msg)
		if m < 0 {
			return nil
		}
		msg = msg[m:]
	}
	return nil
}

// rawCodec sends and receives already-encoded protobuf bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func get(url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("dapr-api-token", token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomToken(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestChecksCatchBadImages makes sure checkImage is not a rubber stamp: the
// real base with a shell added, run as root, with a foreign entrypoint and
// no labels must be refused on each count.
func TestChecksCatchBadImages(t *testing.T) {
	// The images themselves are built on this bundle: without it there is
	// nothing to check, which is a failure, not a reason to skip.
	base, err := baseImage("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal("the base image needs Debian's CA bundle:", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"bin/sh", []byte("#!")}, {"usr/local/bin/busybox", []byte("x")}, {"ko-app/catalog", []byte("not an ELF")}} {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o755, Size: int64(len(f.data))})
		_, _ = tw.Write(f.data)
	}
	_ = tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	bad, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := bad.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.Config.User = "0"
	cfg.Config.Entrypoint = []string{"/bin/sh", "-c"}
	if bad, err = mutate.ConfigFile(bad, cfg); err != nil {
		t.Fatal(err)
	}
	img, err := readImage("catalog", bad)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, e := range checkImage(img) {
		all = append(all, e.Error())
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{"is root", "entrypoint", "bin/sh: a shell", "busybox: a shell", "binary:", "label org.opencontainers.image.source missing"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no complaint containing %q; got:\n%s", want, joined)
		}
	}
	// And the base alone passes the checks that concern it (user, CA
	// bundle, no stray files), so the complaints above are about the additions.
	good, err := readImage("catalog", base)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range checkImage(good) {
		if s := e.Error(); strings.Contains(s, "user") || strings.Contains(s, "CA bundle") || strings.Contains(s, "unexpected") {
			t.Errorf("the base itself fails: %v", e)
		}
	}
}
