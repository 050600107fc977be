package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/harness"
)

// page fetches path through the gateway and parses it.
func page(t *testing.T, base, path string, header http.Header) (int, *goquery.Document, time.Duration) {
	t.Helper()
	start := time.Now()
	status, _, body := harness.Call(t, http.MethodGet, base+path, header, "")
	took := time.Since(start)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	require.NoError(t, err)
	return status, doc, took
}

// TestPagesWhenCatalogFails stops the catalog service: the home page still
// answers 200 with the fallback in the product grid's slot, fast, while a
// product page, which cannot do without the catalog, is a proper error page.
func TestPagesWhenCatalogFails(t *testing.T) {
	sys := harness.Start(t, harness.Options{Profile: "embedded", Services: []string{"catalog", "basket", "identity", "shell", "gateway"},
		Env: map[string]string{"GATEWAY_RATE_PER_SECOND": "1000"}})
	base := sys.App("gateway").AppURL()

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, doc, _ := page(t, base, "/", nil)
		require.Equal(c, http.StatusOK, status)
		assert.Equal(c, 12, doc.Find(".catalog-card").Length(), "product cards on the home page")
	}, 30*time.Second, harness.Poll)
	status, doc, _ := page(t, base, "/no/such/page", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "Page not found", doc.Find("#shell-error-title").Text())

	status, doc, _ = page(t, base, "/products/no-such-thing", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "Not found", doc.Find("#shell-error-title").Text())
	assert.Equal(t, 1, doc.Find(`[data-fragment="user-menu"]`).Length(), "the header is there on error pages")

	sys.App("catalog").StopApp()
	status, doc, took := page(t, base, "/?q=lamp", nil) // a query nobody asked before: nothing cached
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, doc.Find(".shell-fallback").Text(), "The products cannot be shown right now")
	assert.Zero(t, doc.Find(`[data-fragment="product-grid"]`).Length())
	// The categories were fetched before (public, cached for their max-age).
	assert.Equal(t, 1, doc.Find(`[data-fragment="categories"]`).Length(), "cached public fragments still show")
	assert.Equal(t, 1, doc.Find(`[data-fragment="mini-cart"]`).Length(), "the other services' fragments are there")
	assert.Less(t, took, mainTimeout, "the page waited longer than its slot's deadline")
	t.Logf("home page without the catalog answered in %s", took)

	status, doc, _ = page(t, base, "/products/headlamp", nil)
	assert.Equal(t, http.StatusBadGateway, status)
	assert.Equal(t, "Something went wrong", doc.Find("#shell-error-title").Text())
}

// TestSlowFragmentIsCutAtItsDeadline puts a stand-in for the catalog whose
// fragments take 3 s: the home page answers once the product grid's
// deadline passes, with the fallback, and a product page (whose detail is
// required) says the page took too long, no later.
func TestSlowFragmentIsCutAtItsDeadline(t *testing.T) {
	sys := harness.Start(t, harness.Options{Profile: "embedded", Services: []string{"basket", "identity", "shell", "gateway"},
		Extra: []compose.Service{harness.SlowFragments("catalog", 3*time.Second)},
		Env:   map[string]string{"GATEWAY_RATE_PER_SECOND": "1000"}})
	base := sys.App("gateway").AppURL()

	status, doc, took := page(t, base, "/", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, doc.Find(".shell-fallback").Text(), "The products cannot be shown right now")
	assert.GreaterOrEqual(t, took, mainTimeout, "the grid's deadline is its slot's, not the header's")
	assert.Less(t, took, mainTimeout+500*time.Millisecond, "the page waited past the slot's deadline")
	t.Logf("home page with a 3 s catalog answered in %s (deadline %s)", took, mainTimeout)

	status, doc, took = page(t, base, "/products/headlamp", nil)
	assert.Equal(t, http.StatusGatewayTimeout, status)
	assert.Equal(t, "This page is taking too long", doc.Find("#shell-error-title").Text())
	assert.Less(t, took, mainTimeout+500*time.Millisecond)
}
