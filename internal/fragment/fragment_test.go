package fragment

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/a-h/templ"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/cart": "/cart", "/orders/1?placed=1": "/orders/1?placed=1", "": "/", "cart": "/",
		"//evil.example/x": "/", "/\\evil.example": "/", "https://evil.example": "/", "javascript:alert(1)": "/",
		"/a\r\nSet-Cookie: x=1": "/",
	} {
		assert.Equal(t, want, LocalPath(in), in)
	}
}

func testService(t *testing.T) *Service {
	assets, err := NewAssets("demo", fstest.MapFS{"demo.css": {Data: []byte(".demo-x{}")}, "logo.svg": {Data: []byte("<svg/>")}})
	require.NoError(t, err)
	return &Service{Name: "demo", Assets: assets, Stylesheet: "demo.css", Specs: []Spec{{Name: "box", Cache: Public}}}
}

func TestAssetsAreHashedAndCachedForever(t *testing.T) {
	s := testService(t)
	url := s.Assets.URL("demo.css")
	assert.Regexp(t, `^/static/demo/demo\.[0-9a-f]{10}\.css$`, url)
	w := httptest.NewRecorder()
	s.Assets.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, url, nil))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, ".demo-x{}", w.Body.String())
	assert.Equal(t, "public, max-age=31536000, immutable", w.Header().Get("Cache-Control"))
	assert.Equal(t, "text/css; charset=utf-8", w.Header().Get("Content-Type"))
	w = httptest.NewRecorder()
	s.Assets.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/static/demo/demo.css", nil))
	assert.Equal(t, http.StatusNotFound, w.Code, "only hashed names are served")
	assert.Panics(t, func() { s.Assets.URL("missing.css") })
}

func box(text string) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		_, err := io.WriteString(w, "<div>"+text+"</div>")
		return err
	})
}

func TestWriteAndFormAnswers(t *testing.T) {
	s := testService(t)
	w := httptest.NewRecorder()
	s.Write(w, httptest.NewRequest(http.MethodGet, "/fragments/box", nil), http.StatusOK, Public, box("hi"))
	assert.Equal(t, "<div>hi</div>", w.Body.String())
	assert.Equal(t, Public, w.Header().Get("Cache-Control"))
	assert.Equal(t, "<"+s.Assets.URL("demo.css")+">; rel=stylesheet", w.Header().Get("Link"))

	t.Run("plain form: 303 to the page", func(t *testing.T) {
		w := httptest.NewRecorder()
		s.Done(w, httptest.NewRequest(http.MethodPost, "/fragments/box", nil), "https://evil.example/", box("x"), "demo-changed")
		assert.Equal(t, http.StatusSeeOther, w.Code)
		assert.Equal(t, "/", w.Header().Get("Location"))
	})
	t.Run("htmx: the fragment and its events", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/fragments/box", nil)
		r.Header.Set("HX-Request", "true")
		w := httptest.NewRecorder()
		s.Done(w, r, "/cart", box("new"), "demo-changed")
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, "<div>new</div>", w.Body.String())
		assert.Equal(t, "demo-changed", w.Header().Get("HX-Trigger"))
		assert.Equal(t, Personal, w.Header().Get("Cache-Control"))
	})
	t.Run("htmx without a fragment: navigate", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/fragments/box", nil)
		r.Header.Set("HX-Request", "true")
		w := httptest.NewRecorder()
		s.Done(w, r, "/orders/1", nil)
		assert.Equal(t, "/orders/1", w.Header().Get("HX-Redirect"))
	})
	t.Run("refused input is 422 with the fragment", func(t *testing.T) {
		w := httptest.NewRecorder()
		s.Invalid(w, httptest.NewRequest(http.MethodPost, "/fragments/box", nil), box("error"))
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		assert.Equal(t, "<div>error</div>", w.Body.String())
	})
	t.Run("manifest", func(t *testing.T) {
		w := httptest.NewRecorder()
		s.Manifest().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/fragments", nil))
		assert.JSONEq(t, `{"service":"demo","stylesheet":"`+s.Assets.URL("demo.css")+`","fragments":[{"name":"box","description":"","cache":"public, max-age=10, stale-if-error=300"}]}`, w.Body.String())
	})
}
