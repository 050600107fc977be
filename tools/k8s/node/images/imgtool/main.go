// Command imgtool writes docker-archive tarballs that `ctr images import`
// takes, for a node that can pull nothing:
//
//	imgtool bin <static binary> <ref> <out.tar>
//	    a one-layer image holding /<binary name>, its entrypoint
//	imgtool files <ref> <out.tar> <entrypoint> <src:dst>...
//	    a one-layer image of host files (dst relative, e.g. lib64/ld-linux-x86-64.so.2);
//	    $IMG_USER (e.g. 65532:65532) becomes the image's user
//	imgtool layout <OCI layout dir> <ref.name> <ref> <out.tar>
//	    the image of an OCI layout (bin/images) whose org.opencontainers.image.ref.name
//	    annotation is ref.name, tagged ref
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imgtool:", err)
		os.Exit(1)
	}
}

const usage = "usage: imgtool bin <binary> <ref> <out.tar> | imgtool files <ref> <out.tar> <entrypoint> <src:dst>... | imgtool layout <dir> <ref.name> <ref> <out.tar>"

func run(args []string) error {
	var (
		img      v1.Image
		ref, out string
		err      error
	)
	switch {
	case len(args) == 4 && args[0] == "bin":
		base := filepath.Base(args[1])
		img, err = filesImage("/"+base, "", []string{args[1] + ":" + base})
		ref, out = args[2], args[3]
	case len(args) >= 5 && args[0] == "files":
		img, err = filesImage(args[3], os.Getenv("IMG_USER"), args[4:])
		ref, out = args[1], args[2]
	case len(args) == 5 && args[0] == "layout":
		img, err = layoutImage(args[1], args[2])
		ref, out = args[3], args[4]
	default:
		return fmt.Errorf("%s", usage)
	}
	if err != nil {
		return err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(out, tag, img)
}

// filesImage is one layer of host files (src:dst pairs), with their parent
// directories, on an empty base; fixed timestamps keep digests stable.
func filesImage(entrypoint, user string, pairs []string) (v1.Image, error) {
	type file struct {
		name string
		data []byte
		mode int64
	}
	var files []file
	dirs := map[string]bool{}
	for _, p := range pairs {
		src, dst, ok := strings.Cut(p, ":")
		if !ok {
			return nil, fmt.Errorf("want src:dst, got %q", p)
		}
		data, err := os.ReadFile(src) // follows symlinks: the image gets the file
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(src)
		if err != nil {
			return nil, err
		}
		for d := filepath.Dir(dst); d != "." && d != "/"; d = filepath.Dir(d) {
			dirs[d] = true
		}
		files = append(files, file{dst, data, int64(fi.Mode().Perm())})
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	epoch := time.Unix(0, 0)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range ds {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = []string{entrypoint}
	cf.Config.User = user
	return mutate.ConfigFile(img, cf)
}

// layoutImage is the image of the OCI layout at dir annotated with refName.
func layoutImage(dir, refName string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == refName {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image %q in %s", refName, dir)
}
