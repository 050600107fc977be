package fragment

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// Assets are a service's static files, served under /static/<service>/
// with the first bytes of their SHA-256 in the name. A changed file gets a
// new URL, so browsers may keep every URL for a year.
type Assets struct {
	service string
	urls    map[string]string // file name → hashed URL
	files   map[string][]byte // hashed file name → content
}

// NewAssets reads every file of fsys (flat) for service.
func NewAssets(service string, fsys fs.FS) (*Assets, error) {
	a := &Assets{service: service, urls: map[string]string{}, files: map[string][]byte{}}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("%s assets: %w", service, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("%s assets: %w", service, err)
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:5]) + ext
		a.files[hashed] = body
		a.urls[e.Name()] = "/static/" + service + "/" + hashed
	}
	return a, nil
}

// URL is the hashed URL of the file name; it panics on a name that is not
// there, a programming error that every render test would catch.
func (a *Assets) URL(name string) string {
	u, ok := a.urls[name]
	if !ok {
		panic(fmt.Sprintf("%s has no asset %q", a.service, name))
	}
	return u
}

// Handler serves the hashed files; mount it at /static/<service>/{file}.
func (a *Assets) Handler() http.Handler {
	prefix := "/static/" + a.service + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, prefix)
		body, ok := a.files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}
