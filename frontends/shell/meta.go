package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// pageMeta is what a page's head says about it to search engines and link
// previews: its own title and description, its canonical address, and
// schema.org data (JSON-LD) when the page shows a thing such as a product.
type pageMeta struct {
	Title, Description, Canonical string
	Data                          string // JSON-LD, re-encoded by the shell; "" for none
}

// describedBy reads the data-page-* attributes of a fragment's root element
// (see catalog's productMeta): the way a service describes the page its
// fragment is the main part of. Only the page's own main slot may (Page.Meta).
func describedBy(fragment string) (title, description, data string) {
	z := html.NewTokenizer(strings.NewReader(fragment))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			for {
				key, val, more := z.TagAttr()
				switch string(key) {
				case "data-page-title":
					title = string(val)
				case "data-page-description":
					description = string(val)
				case "data-page-data":
					data = string(val)
				}
				if !more {
					return
				}
			}
		}
	}
}

// metaFor describes the page: the page's own defaults, then what its main
// slot's fragment says. The JSON-LD is parsed and encoded again, so that
// whatever a fragment sends stays data in the page's head (json.Marshal
// escapes <, > and &).
func metaFor(r *http.Request, p Page, filled map[string]Filled) pageMeta {
	m := pageMeta{Title: p.Title, Description: p.Description, Canonical: canonical(r)}
	if f, ok := filled[p.Meta]; ok && p.Meta != "" && f.OK() {
		title, description, data := describedBy(f.HTML)
		if title != "" {
			m.Title = title
		}
		if description != "" {
			m.Description = description
		}
		var v map[string]any
		if data != "" && json.Unmarshal([]byte(data), &v) == nil {
			b, _ := json.Marshal(v)
			m.Data = string(b)
		}
	}
	return m
}

// canonicalQuery are the parameters that make a different page of the
// listing; every other one (boundaries, return, placed) is dropped.
var canonicalQuery = []string{"category", "q", "page"}

// canonical is the page's one address: the origin the browser used (from
// the gateway) and the path with only the parameters that matter.
func canonical(r *http.Request) string {
	u, err := url.Parse(pagePath(r))
	if err != nil {
		return ""
	}
	q := url.Values{}
	for _, k := range canonicalQuery {
		if v := u.Query().Get(k); v != "" && !(k == "page" && v == "1") {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	proto, host := r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host")
	if !slices.Contains([]string{"http", "https"}, proto) || host == "" || strings.ContainsAny(host, "/\\@ ") {
		return u.RequestURI()
	}
	return proto + "://" + host + u.RequestURI()
}
