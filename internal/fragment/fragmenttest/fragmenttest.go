// Package fragmenttest checks rendered fragments against the contract of
// package fragment, for the render tests of every service.
package fragmenttest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile is a name that must come out as text, never as markup.
const Hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>"'&`

// Render renders c, checks it against the contract for service and
// fragment name, and returns it parsed.
func Render(t *testing.T, c templ.Component, service, name string) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, c.Render(context.Background(), &buf))
	return Check(t, buf.String(), service, name)
}

// Check checks one fragment's HTML:
//   - no page wrapper (<html>, <head>, <body>);
//   - one root element carrying data-boundary=service and data-fragment=name;
//   - every class and id prefixed with the service's name;
//   - no script, inline style or inline event handler (the shop's CSP
//     allows none), and no injected element.
func Check(t *testing.T, html, service, name string) *goquery.Document {
	t.Helper()
	lower := strings.ToLower(html)
	for _, tag := range []string{"<html", "<head", "<body", "<script", "<style"} {
		assert.NotContains(t, lower, tag, "%s/%s has %s", service, name, tag)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	require.NoError(t, err)
	roots := doc.Find("body").Children()
	require.Equal(t, 1, roots.Length(), "%s/%s has one root element", service, name)
	root := roots.First()
	assert.Equal(t, service, root.AttrOr("data-boundary", ""), "data-boundary of %s", name)
	assert.Equal(t, name, root.AttrOr("data-fragment", ""), "data-fragment of %s", name)
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, class := range strings.Fields(s.AttrOr("class", "")) {
			assert.True(t, strings.HasPrefix(class, service+"-"), "%s/%s: class %q is not prefixed", service, name, class)
		}
		if id, ok := s.Attr("id"); ok {
			assert.True(t, strings.HasPrefix(id, service+"-"), "%s/%s: id %q is not prefixed", service, name, id)
		}
		_, style := s.Attr("style")
		assert.False(t, style, "%s/%s: inline style", service, name)
		for _, a := range s.Nodes[0].Attr {
			assert.False(t, strings.HasPrefix(a.Key, "on"), "%s/%s: inline handler %s", service, name, a.Key)
		}
	})
	return doc
}

// ShowsText asserts that doc shows text literally (escaped, not parsed).
func ShowsText(t *testing.T, doc *goquery.Document, text string) {
	t.Helper()
	assert.Contains(t, doc.Text(), text)
	assert.Zero(t, doc.Find("img[onerror]").Length(), "markup was injected")
}
