package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// origin answers every request with a page numbered by how many it has
// answered, with the headers given.
type origin struct {
	calls  int
	header http.Header
	status int
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.calls++
	for k, v := range o.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if o.status != 0 {
		w.WriteHeader(o.status)
	}
	_, _ = w.Write([]byte(strings.Repeat("x", 10) + " page " + r.URL.RequestURI() + " #" + string(rune('0'+o.calls))))
}

func TestPageCacheKeepsOnlyWhatIsOfferedToSharedCaches(t *testing.T) {
	clock := time.Unix(1000, 0)
	ask := func(h http.Handler, path string, header http.Header) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		for k, v := range header {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	newCache := func() *pageCache {
		c := newPageCache(1 << 20)
		c.now = func() time.Time { return clock }
		return c
	}
	shared := http.Header{"Cache-Control": {"public, max-age=0, s-maxage=2"}}

	t.Run("a shared page is answered from the cache until its s-maxage", func(t *testing.T) {
		o := &origin{header: shared}
		h := newCache().middleware(o)
		first := ask(h, "/?category=garden", nil)
		second := ask(h, "/?category=garden", nil)
		assert.Equal(t, 1, o.calls, "the second came from the cache")
		assert.Equal(t, first.Body.String(), second.Body.String())
		assert.Equal(t, "text/html; charset=utf-8", second.Header().Get("Content-Type"))
		assert.Equal(t, "public, max-age=0, s-maxage=2", second.Header().Get("Cache-Control"))
		assert.Equal(t, "0", second.Header().Get("Age"))
		ask(h, "/?category=kitchen", nil)
		assert.Equal(t, 2, o.calls, "another address is another page")
		ask(h, "/?category=garden", http.Header{"Accept-Language": {"fr"}})
		assert.Equal(t, 3, o.calls, "another language is another page")
		clock = clock.Add(2 * time.Second)
		third := ask(h, "/?category=garden", nil)
		assert.Equal(t, 4, o.calls, "expired")
		assert.NotEqual(t, first.Body.String(), third.Body.String())
	})
	t.Run("anything personal passes by", func(t *testing.T) {
		o := &origin{header: shared}
		h := newCache().middleware(o)
		for _, header := range []http.Header{{"Cookie": {"identity_session=x"}}, {"Authorization": {"Bearer x"}}, {"Hx-Request": {"true"}}} {
			ask(h, "/", header)
			ask(h, "/", header)
		}
		assert.Equal(t, 6, o.calls)
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		h.ServeHTTP(httptest.NewRecorder(), r)
		h.ServeHTTP(httptest.NewRecorder(), r)
		assert.Equal(t, 8, o.calls, "only GETs")
	})
	for name, o := range map[string]*origin{
		"no s-maxage (a fragment's max-age is for browsers and the shell)": {header: http.Header{"Cache-Control": {"public, max-age=10"}}},
		"private":         {header: http.Header{"Cache-Control": {"private, no-store"}}},
		"no-cache":        {header: http.Header{"Cache-Control": {"no-cache"}}},
		"a cookie set":    {header: http.Header{"Cache-Control": {"public, s-maxage=2"}, "Set-Cookie": {"basket_cart=1"}}},
		"varies by more":  {header: http.Header{"Cache-Control": {"public, s-maxage=2"}, "Vary": {"Accept-Language, Cookie"}}},
		"not a 200":       {header: shared, status: http.StatusNotFound},
		"a server error":  {header: shared, status: http.StatusBadGateway},
		"without headers": {},
	} {
		t.Run("not kept: "+name, func(t *testing.T) {
			h := newCache().middleware(o)
			ask(h, "/", nil)
			ask(h, "/", nil)
			assert.Equal(t, 2, o.calls)
		})
	}
	t.Run("bounded in bytes", func(t *testing.T) {
		c := newPageCache(200)
		c.now = func() time.Time { return clock }
		h := c.middleware(&origin{header: shared})
		for i := range 50 {
			ask(h, "/?q="+strings.Repeat("a", i), nil)
			require.LessOrEqual(t, c.bytes, 200)
		}
	})
}
