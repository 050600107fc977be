package main

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// Product pictures: one SVG drawn for each seeded product
// (static/products/<id>.svg), served under a name that carries a hash of
// its content, so that browsers keep it for a year and a new drawing gets
// a new address. A product without a drawing (one an admin added) shows a
// neutral placeholder. SVG scales to every size, so there is no srcset.

//go:embed static/products/*.svg
var drawings embed.FS

type illustration struct {
	name string // <id>.<hash>.svg
	body []byte
}

// illustrations are the drawings by product id.
var illustrations = func() map[string]illustration {
	out := map[string]illustration{}
	files, _ := fs.Glob(drawings, "static/products/*.svg")
	for _, f := range files {
		body, err := drawings.ReadFile(f)
		if err != nil {
			panic(err) // embedded at build time
		}
		id := strings.TrimSuffix(path.Base(f), ".svg")
		sum := sha256.Sum256(body)
		out[id] = illustration{name: id + "." + hex.EncodeToString(sum[:5]) + ".svg", body: body}
	}
	return out
}()

const imagesPath = "/static/catalog/products/"

// imageURL is where a product's picture is served: its drawing's hashed
// name, or the placeholder.
func imageURL(id string) string {
	if d, ok := illustrations[id]; ok {
		return imagesPath + d.name
	}
	return imagesPath + "placeholder.svg"
}

// placeholder is the picture of a product nobody has drawn yet.
const placeholder = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" role="img"><title>No picture yet</title>` +
	`<rect width="400" height="300" fill="#efeae1"/><path d="M150 120h100l-10 90h-80z" fill="none" stroke="#8f877a" stroke-width="6" stroke-linejoin="round"/>` +
	`<path d="M175 120a25 25 0 0 1 50 0" fill="none" stroke="#8f877a" stroke-width="6"/></svg>`

// productImages serves the drawings: by hashed name for a year; by plain
// name (<id>.svg, what products stored before the drawings point to) for a
// day; the placeholder for anything else named .svg.
func productImages() http.Handler {
	byName := map[string][]byte{}
	for _, d := range illustrations {
		byName[d.name] = d.body
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file := mux.Vars(r)["file"]
		body, hashed := byName[file]
		cache := "public, max-age=31536000, immutable"
		if !hashed {
			id, ok := strings.CutSuffix(file, ".svg")
			if !ok {
				http.NotFound(w, r)
				return
			}
			cache = "public, max-age=86400"
			if d, ok := illustrations[id]; ok {
				body = d.body
			} else {
				body = []byte(placeholder)
			}
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", cache)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, file, time.Time{}, bytes.NewReader(body))
	})
}
