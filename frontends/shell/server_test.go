package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// fakeServices stands in for the services behind the shell's sidecar: one
// handler per app, and a record of what each fragment request carried.
type fakeServices struct {
	mu       sync.Mutex
	apps     map[string]http.Handler
	requests []*http.Request
}

func (f *fakeServices) Do(ctx context.Context, app string, req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	h, ok := f.apps[app]
	f.requests = append(f.requests, req.Clone(ctx))
	f.mu.Unlock()
	if !ok {
		// What Dapr answers when the app cannot be reached.
		return &http.Response{StatusCode: http.StatusInternalServerError, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
	}
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(w, req.WithContext(ctx)); close(done) }()
	select {
	case <-done:
		return w.Result(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *fakeServices) seen(path string) []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*http.Request
	for _, r := range f.requests {
		if r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// fragmentApp answers every /fragments/<name> with a root naming it, public
// and cacheable unless the request carries a token.
func fragmentApp(service string, delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/fragments/")
		cache := "public, max-age=60, stale-if-error=600"
		if r.Header.Get("Authorization") != "" {
			cache = "private, no-store"
		}
		w.Header().Set("Cache-Control", cache)
		w.Header().Set("Link", "</static/"+service+"/"+service+".abc.css>; rel=stylesheet, </static/other/x.css>; rel=stylesheet")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<div data-boundary="`+service+`" data-fragment="`+name+`">`+service+"/"+name+" "+r.URL.RawQuery+"</div>")
	})
}

func newFakeServices(delay time.Duration) *fakeServices {
	f := &fakeServices{apps: map[string]http.Handler{}}
	for _, s := range []string{"catalog", "basket", "ordering", "identity"} {
		f.apps[s] = fragmentApp(s, delay)
	}
	return f
}

func shellFor(f *fakeServices) http.Handler {
	cfg := daprapp.Config{AppToken: "app-token"}
	return NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, f, newStatusChecker(cfg, f, nameResolutionRoster(""), ""), nil, newTraceReader(""), newMailReader(""))
}

func get(t *testing.T, h http.Handler, path string, header http.Header) (*httptest.ResponseRecorder, *goquery.Document) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	r.Header.Set("dapr-api-token", "app-token")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(w.Body.String()))
	require.NoError(t, err)
	return w, doc
}

// TestHomePageWithoutItsSlash: Dapr 1.18 cleans an invoked path, so the
// gateway's /pages/ reaches the shell as /pages; it is still the home page
// (it was a 404 page on 1.18 before).
func TestHomePageWithoutItsSlash(t *testing.T) {
	f := newFakeServices(0)
	for _, path := range []string{"/pages", "/pages?category=garden"} {
		w, doc := get(t, shellFor(f), path, nil)
		require.Equal(t, http.StatusOK, w.Code, path)
		assert.Equal(t, 1, doc.Find(`[data-fragment="product-grid"]`).Length(), path)
		assert.Contains(t, doc.Find(`[data-fragment="user-menu"]`).Text(), "page=%2F", "the page is passed as the browser knows it")
	}
}

func TestHomePageComposesFiveFragments(t *testing.T) {
	f := newFakeServices(0)
	w, doc := get(t, shellFor(f), "/pages/?category=garden", nil)
	require.Equal(t, http.StatusOK, w.Code)
	for _, name := range []string{"user-menu", "mini-cart", "categories", "product-grid", "recommendations"} {
		assert.Equal(t, 1, doc.Find(`[data-fragment="`+name+`"]`).Length(), name)
	}
	assert.Contains(t, doc.Find(`[data-fragment="product-grid"]`).Text(), "category=garden")
	assert.Contains(t, doc.Find(`[data-fragment="user-menu"]`).Text(), "page=%2F%3Fcategory%3Dgarden", "the page is passed as the browser knows it")
	var styles []string
	doc.Find(`link[rel="stylesheet"]`).Each(func(_ int, s *goquery.Selection) { styles = append(styles, s.AttrOr("href", "")) })
	assert.Regexp(t, `^/static/shell/shell\.[0-9a-f]{10}\.css$`, styles[0])
	assert.Equal(t, []string{"/static/catalog/catalog.abc.css", "/static/basket/basket.abc.css", "/static/identity/identity.abc.css"}, styles[1:],
		"each service's stylesheet once, none of another service's")
	assert.Regexp(t, `^/static/shell/htmx\.min\.[0-9a-f]{10}\.js$`, doc.Find("script").AttrOr("src", ""))
	assert.Equal(t, SharedPage, w.Header().Get("Cache-Control"), "every fragment public: the page may be shared")
}

func TestOnlyAPageTheSameForEveryoneMayBeShared(t *testing.T) {
	f := newFakeServices(0)
	w, _ := get(t, shellFor(f), "/pages/", nil)
	assert.Equal(t, SharedPage, w.Header().Get("Cache-Control"))
	w, _ = get(t, shellFor(f), "/pages/", http.Header{"Authorization": {"Bearer x"}})
	assert.Equal(t, "private, no-store", w.Header().Get("Cache-Control"), "signed in")
	w, _ = get(t, shellFor(f), "/pages/", http.Header{"Cookie": {"basket_cart=1"}})
	assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"), "a cookie may make it personal")
	w, _ = get(t, shellFor(f), "/pages/no/such/page", nil)
	assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"), "an error page")

	personal := newFakeServices(0)
	personal.apps["basket"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, no-store")
		_, _ = io.WriteString(w, `<div data-boundary="basket" data-fragment="mini-cart">0</div>`)
	})
	w, _ = get(t, shellFor(personal), "/pages/", nil)
	assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"), "a fragment that is not public")

	failing := newFakeServices(0)
	failing.apps["catalog"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	w, doc := get(t, shellFor(failing), "/pages/", nil)
	require.Equal(t, http.StatusOK, w.Code)
	require.NotZero(t, doc.Find(".shell-fallback").Length(), "a degraded page")
	assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"), "a degraded page is never kept")
}

func TestSlotsAreFetchedInParallel(t *testing.T) {
	f := newFakeServices(100 * time.Millisecond)
	start := time.Now()
	w, _ := get(t, shellFor(f), "/pages/", nil)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Less(t, time.Since(start), 250*time.Millisecond, "five slots of 100 ms each")
}

func TestOptionalSlotFallsBack(t *testing.T) {
	f := newFakeServices(0)
	delete(f.apps, "catalog")
	w, doc := get(t, shellFor(f), "/pages/", nil)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, doc.Find(".shell-fallback").Text(), "The products cannot be shown right now")
	assert.Equal(t, 1, doc.Find(`[data-fragment="mini-cart"]`).Length())
}

func TestLateSlotIsCutAtItsDeadline(t *testing.T) {
	f := newFakeServices(0)
	f.apps["catalog"] = fragmentApp("catalog", 5*time.Second)
	start := time.Now()
	w, doc := get(t, shellFor(f), "/pages/", nil)
	took := time.Since(start)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, 1, doc.Find(".shell-fallback").Length())
	assert.GreaterOrEqual(t, took, mainTimeout)
	assert.Less(t, took, mainTimeout+200*time.Millisecond)
}

func TestRequiredSlotFailures(t *testing.T) {
	for _, tt := range []struct {
		name     string
		app      http.Handler
		status   int
		title    string
		location string
	}{
		{"not found", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }), 404, "Not found", ""},
		{"forbidden", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }), 403, "Not for you", ""},
		{"broken", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }), 502, "Something went wrong", ""},
		{"too slow", fragmentApp("ordering", 5*time.Second), 504, "This page is taking too long", ""},
		{"signed out", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }), 303, "", "/sign-in?return=%2Forders%3Fboundaries%3D1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServices(0)
			f.apps["ordering"] = tt.app
			w, doc := get(t, shellFor(f), "/pages/orders?boundaries=1", nil)
			assert.Equal(t, tt.status, w.Code)
			if tt.location != "" {
				assert.Equal(t, "/sign-in?return=%2Forders", w.Header().Get("Location"), "the toggle is not part of the return address")
				return
			}
			assert.Equal(t, tt.title, doc.Find("#shell-error-title").Text())
			assert.Equal(t, 1, doc.Find(`[data-fragment="user-menu"]`).Length(), "the header is on error pages too")
		})
	}
}

func TestSeveralRequiredSlotsFailingGiveOneStatus(t *testing.T) {
	answer := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
	}
	for _, tt := range []struct {
		name              string
		ordering, catalog int
		status            int
		title             string
	}{
		{"forbidden beats broken", 403, 500, 403, "Not for you"},
		{"not found beats broken", 500, 404, 404, "Not found"},
		{"forbidden beats not found", 404, 403, 403, "Not for you"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Map order differs between runs: ask often enough to see it.
			for range 20 {
				f := newFakeServices(0)
				f.apps["ordering"] = answer(tt.ordering)
				catalog := f.apps["catalog"]
				f.apps["catalog"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/fragments/admin-products" {
						w.WriteHeader(tt.catalog)
						return
					}
					catalog.ServeHTTP(w, r)
				})
				w, doc := get(t, shellFor(f), "/pages/admin", nil)
				require.Equal(t, tt.status, w.Code)
				require.Equal(t, tt.title, doc.Find("#shell-error-title").Text())
			}
		})
	}
}

func TestOnlyTheAllowListReachesFragments(t *testing.T) {
	f := newFakeServices(0)
	get(t, shellFor(f), "/pages/cart", http.Header{
		"Authorization": {"Bearer tok"}, "Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"Accept-Language": {"fr"}, "X-Secret": {"no"}, "Cookie": {"basket_guest=g; identity_session=s; catalog_x=1"}})
	reqs := f.seen("/fragments/cart")
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
	assert.Equal(t, "fr", r.Header.Get("Accept-Language"))
	assert.NotEmpty(t, r.Header.Get("Traceparent"))
	assert.Empty(t, r.Header.Get("X-Secret"))
	assert.Equal(t, "basket_guest=g", r.Header.Get("Cookie"), "a service sees only its own cookies")
	assert.Equal(t, "identity_session=s", f.seen("/fragments/user-menu")[0].Header.Get("Cookie"))
	categories := f.seen("/fragments/categories")[0]
	assert.Empty(t, categories.Header.Get("Cookie"), "a fragment that is the same for everyone gets no cookie")
	assert.Empty(t, categories.Header.Get("Authorization"), "nor the token")
}

func TestPublicFragmentsAreSharedPersonalNever(t *testing.T) {
	f := newFakeServices(0)
	h := shellFor(f)
	get(t, h, "/pages/", nil)
	get(t, h, "/pages/", nil)
	assert.Len(t, f.seen("/fragments/product-grid"), 1, "the second anonymous page came from the cache")
	assert.Len(t, f.seen("/fragments/mini-cart"), 1)
	get(t, h, "/pages/", http.Header{"Authorization": {"Bearer tok"}})
	get(t, h, "/pages/", http.Header{"Authorization": {"Bearer tok"}})
	assert.Len(t, f.seen("/fragments/mini-cart"), 3, "a personal slot never uses the shared cache")
	for _, r := range f.seen("/fragments/mini-cart")[1:] {
		assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
	}
	get(t, h, "/pages/", http.Header{"Cookie": {"basket_guest=g"}})
	assert.Len(t, f.seen("/fragments/mini-cart"), 4, "nor does a request with the service's cookie")
	assert.Len(t, f.seen("/fragments/product-grid"), 1, "the same-for-everyone fragments still come from the cache")
}

func TestFormsAreRelayedToTheirFragment(t *testing.T) {
	f := newFakeServices(0)
	var got url.Values
	f.apps["basket"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			fragmentApp("basket", 0).ServeHTTP(w, r)
			return
		}
		_ = r.ParseForm()
		got = r.PostForm
		switch r.PostForm.Get("quantity") {
		case "1":
			http.SetCookie(w, &http.Cookie{Name: "basket_guest", Value: "g"})
			http.SetCookie(w, &http.Cookie{Name: "identity_session", Value: "forged"})
			http.Redirect(w, r, "/products/headlamp", http.StatusSeeOther)
		case "2":
			http.Redirect(w, r, "https://evil.example/", http.StatusSeeOther)
		default:
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `<div data-boundary="basket" data-fragment="add-to-cart"><p role="alert">Too many</p></div>`)
		}
	})
	h := shellFor(f)
	post := func(quantity string) *httptest.ResponseRecorder {
		form := url.Values{"_fragment": {"add-to-cart"}, "id": {"headlamp"}, "quantity": {quantity}}
		r := httptest.NewRequest(http.MethodPost, "/pages/products/headlamp", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("dapr-api-token", "app-token")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := post("1")
	assert.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/products/headlamp", w.Header().Get("Location"))
	assert.Equal(t, []string{"basket_guest=g"}, w.Header().Values("Set-Cookie"), "a service sets only its own cookies")
	assert.Equal(t, url.Values{"id": {"headlamp"}, "quantity": {"1"}}, got)

	w = post("2")
	assert.Equal(t, "/", w.Header().Get("Location"), "never a redirect off the shop")

	w = post("99")
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
	doc, _ := goquery.NewDocumentFromReader(w.Body)
	assert.Equal(t, "Too many", doc.Find(`[data-fragment="add-to-cart"] [role="alert"]`).Text(), "the refused form in place")
	assert.Equal(t, 1, doc.Find(`[data-fragment="product-detail"]`).Length(), "with the rest of the page around it")

	r := httptest.NewRequest(http.MethodPost, "/pages/products/headlamp", strings.NewReader("_fragment=checkout-form"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("dapr-api-token", "app-token")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusBadRequest, w.Code, "a fragment that is not on the page")
}

func TestBoundaryToggle(t *testing.T) {
	_, doc := get(t, shellFor(newFakeServices(0)), "/pages/cart?boundaries=1", nil)
	assert.True(t, doc.Find("body").HasClass("shell-boundaries"))
	assert.Equal(t, "/cart", doc.Find(".shell-footer a").Last().AttrOr("href", ""))
	_, doc = get(t, shellFor(newFakeServices(0)), "/pages/cart", nil)
	assert.False(t, doc.Find("body").HasClass("shell-boundaries"))
	assert.Equal(t, "/cart?boundaries=1", doc.Find(".shell-footer a").Last().AttrOr("href", ""))
}

func TestOnlyTheSidecarMayCall(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/pages/", nil)
	w := httptest.NewRecorder()
	shellFor(newFakeServices(0)).ServeHTTP(w, r)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}

func TestSharedFor(t *testing.T) {
	for in, want := range map[string][2]time.Duration{
		"public, max-age=10": {10 * time.Second, 0}, "max-age=10": {}, "public, no-store, max-age=10": {},
		"private, max-age=10": {}, "public": {}, "PUBLIC, MAX-AGE=5": {5 * time.Second, 0}, "": {},
		"public, max-age=10, stale-if-error=300": {10 * time.Second, 300 * time.Second},
		"public, stale-if-error=300":             {},
	} {
		age, stale := sharedFor(in)
		assert.Equal(t, want, [2]time.Duration{age, stale}, in)
	}
}

// A public fragment past its max-age still shows while its service fails,
// for its stale-if-error; after that the slot's fallback does.
func TestStaleFragmentStandsInForAFailure(t *testing.T) {
	f := newFakeServices(0)
	s := newShell(slog.New(slog.NewTextHandler(io.Discard, nil)), f, nil)
	clock := time.Now()
	s.composer.cache.now = func() time.Time { return clock }
	h := s.routes(daprapp.Config{AppToken: "app-token"})
	_, doc := get(t, h, "/pages/", nil)
	require.Equal(t, 1, doc.Find(`[data-fragment="product-grid"]`).Length())
	clock = clock.Add(time.Minute) // past max-age (60 s), within stale-if-error (600 s)
	f.mu.Lock()
	delete(f.apps, "catalog")
	f.mu.Unlock()
	w, doc := get(t, h, "/pages/", nil)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, 1, doc.Find(`[data-fragment="product-grid"]`).Length(), "the last answer stands in")
	clock = clock.Add(time.Hour)
	_, doc = get(t, h, "/pages/", nil)
	assert.Zero(t, doc.Find(`[data-fragment="product-grid"]`).Length())
	assert.Equal(t, 1, doc.Find(".shell-fallback").Length(), "too old: the fallback")
}
