package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// fakeProducts is an in-memory Products and Shelf with ETags that change on
// save.
type fakeProducts struct {
	items map[string]Product
	etags map[string]string
	saves int
	// failChange, when set, fails Change for that product id.
	failChange map[string]error
}

func newFakeProducts() *fakeProducts {
	f := &fakeProducts{items: map[string]Product{}, etags: map[string]string{}}
	for _, p := range seedProducts() {
		f.items[p.ID], f.etags[p.ID] = p, "1"
	}
	return f
}

func (f *fakeProducts) List(context.Context) ([]Product, error) {
	var out []Product
	for _, p := range seedProducts() {
		out = append(out, f.items[p.ID])
	}
	return out, nil
}

func (f *fakeProducts) Get(_ context.Context, id string) (Product, string, error) {
	p, ok := f.items[id]
	if !ok {
		return Product{}, "", ErrNotFound
	}
	return p, f.etags[id], nil
}

func (f *fakeProducts) Create(_ context.Context, p Product) (string, error) {
	if _, ok := f.items[p.ID]; ok {
		return "", ErrExists
	}
	f.items[p.ID], f.etags[p.ID] = p, "1"
	return "1", nil
}

func (f *fakeProducts) Save(_ context.Context, p Product, etag string) (string, error) {
	if f.etags[p.ID] != etag {
		return "", ErrConflict
	}
	f.saves++
	f.items[p.ID], f.etags[p.ID] = p, etag+"1"
	return f.etags[p.ID], nil
}

func (f *fakeProducts) Change(_ context.Context, id string, change func(*Product) (bool, error)) error {
	if err := f.failChange[id]; err != nil {
		return err
	}
	p, ok := f.items[id]
	if !ok {
		return ErrNotFound
	}
	// change gets a copy, as it would from the store.
	p.Holds = maps.Clone(p.Holds)
	changed, err := change(&p)
	if err != nil || !changed {
		return err
	}
	f.items[id], f.etags[id] = p, f.etags[id]+"1"
	return nil
}

func serve(t *testing.T, f *fakeProducts, method, path string, header http.Header, body string) *httptest.ResponseRecorder {
	t.Helper()
	return serveWith(t, f, newFakeReservations(), method, path, header, body)
}

func serveWith(t *testing.T, f *fakeProducts, res *fakeReservations, method, path string, header http.Header, body string) *httptest.ResponseRecorder {
	t.Helper()
	h := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), daprapp.Config{AppToken: "tok"}, nil, f, f, res)
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r = r.WithContext(caller.WithClaims(r.Context(), authn.Claims{Roles: []string{"admin"}, RegisteredClaims: jwt.RegisteredClaims{Subject: "admin-1"}}))
	r.Header.Set("dapr-api-token", "tok")
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestListProducts(t *testing.T) {
	f := newFakeProducts()
	for _, tt := range []struct {
		query       string
		total, page int
		first       string
	}{
		{"", 24, 12, "cast-iron-skillet"},
		{"?category=workshop", 6, 6, "claw-hammer"},
		{"?q=ENAMEL", 2, 2, "enamel-dutch-oven"},
		{"?pageSize=5&page=5", 24, 4, "headlamp"},
		{"?page=9", 24, 0, ""},
	} {
		w := serve(t, f, http.MethodGet, "/products"+tt.query, nil, "")
		require.Equal(t, 200, w.Code, tt.query)
		var page ProductPage
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
		assert.Equal(t, tt.total, page.Total, tt.query)
		require.Len(t, page.Items, tt.page, tt.query)
		if tt.first != "" {
			assert.Equal(t, tt.first, page.Items[0].ID, tt.query)
		}
	}
	for _, query := range []string{
		"?page=0&pageSize=1000",
		"?page=768614336404564652&pageSize=1000", // issue 11: it overflowed and panicked
		"?page=9223372036854775807&pageSize=9223372036854775807",
		"?page=1000001&pageSize=0",
		"?page=x&pageSize=99999999999999999999",
	} {
		w := serve(t, f, http.MethodGet, "/products"+query, nil, "")
		assert.Equal(t, 400, w.Code, query)
		assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"), query)
		var problem struct {
			Code   string
			Fields map[string]string
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &problem), query)
		assert.Equal(t, "invalid_query", problem.Code, query)
		assert.Contains(t, problem.Fields, "page", query)
		assert.Contains(t, problem.Fields, "pageSize", query)
	}
	w := serve(t, f, http.MethodGet, "/products?page=1000000&pageSize=100", nil, "")
	require.Equal(t, 200, w.Code, "the last page allowed")
	assert.Contains(t, w.Body.String(), `"items":[]`)
}

func TestUpdateProduct(t *testing.T) {
	good := `{"name":"Headlamp","description":"","category":"outdoor","price":{"amount":3100,"currency":"EUR"},"stock":3}`
	t.Run("needs If-Match", func(t *testing.T) {
		f := newFakeProducts()
		w := serve(t, f, http.MethodPut, "/products/headlamp", nil, good)
		assert.Equal(t, http.StatusPreconditionRequired, w.Code)
		assert.Zero(t, f.saves)
	})
	t.Run("invalid fields lose nothing", func(t *testing.T) {
		f := newFakeProducts()
		bad := `{"name":"","description":"","category":"toys","price":{"amount":-1,"currency":"USD"},"stock":-2}`
		w := serve(t, f, http.MethodPut, "/products/headlamp", http.Header{"If-Match": {`"1"`}}, bad)
		require.Equal(t, http.StatusUnprocessableEntity, w.Code)
		for _, field := range []string{"name", "category", "price.amount", "price.currency", "stock"} {
			assert.Contains(t, w.Body.String(), `"`+field+`"`)
		}
		assert.Zero(t, f.saves)
	})
	t.Run("unknown product", func(t *testing.T) {
		w := serve(t, newFakeProducts(), http.MethodPut, "/products/nope", http.Header{"If-Match": {`"1"`}}, good)
		assert.Equal(t, http.StatusNotFound, w.Code)
	})
	t.Run("stale ETag", func(t *testing.T) {
		w := serve(t, newFakeProducts(), http.MethodPut, "/products/headlamp", http.Header{"If-Match": {`"0"`}}, good)
		assert.Equal(t, http.StatusConflict, w.Code)
	})
	t.Run("saved", func(t *testing.T) {
		f := newFakeProducts()
		w := serve(t, f, http.MethodPut, "/products/headlamp", http.Header{"If-Match": {`"1"`}}, good)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, `"11"`, w.Header().Get("ETag"))
		assert.Equal(t, int64(3100), f.items["headlamp"].Price.Amount)
		assert.Equal(t, imageURL("headlamp"), f.items["headlamp"].ImageURL, "fields not in the update are kept")
	})
}

func TestProductImages(t *testing.T) {
	for _, p := range seedProducts() {
		d, ok := illustrations[p.ID]
		require.True(t, ok, "%s has a drawing", p.ID)
		body := strings.ToLower(string(d.body))
		for _, banned := range []string{"<script", "href", "<foreignobject", "<image", " on"} {
			assert.NotContains(t, body, banned, "%s: a drawing is shapes only", p.ID)
		}
		assert.Contains(t, body, "<title>", "%s has a title", p.ID)
		assert.Equal(t, imagesPath+d.name, p.ImageURL)

		w := serve(t, newFakeProducts(), http.MethodGet, p.ImageURL, nil, "")
		require.Equal(t, 200, w.Code)
		assert.Equal(t, "image/svg+xml", w.Header().Get("Content-Type"))
		assert.Equal(t, "public, max-age=31536000, immutable", w.Header().Get("Cache-Control"), "a hashed name never changes")
		assert.Equal(t, string(d.body), w.Body.String())
	}
	w := serve(t, newFakeProducts(), http.MethodGet, imagesPath+"headlamp.svg", nil, "")
	require.Equal(t, 200, w.Code, "the name products stored before the drawings still works")
	assert.Equal(t, "public, max-age=86400", w.Header().Get("Cache-Control"))
	assert.Equal(t, string(illustrations["headlamp"].body), w.Body.String())
	w = serve(t, newFakeProducts(), http.MethodGet, imageURL("garden-hose"), nil, "")
	require.Equal(t, 200, w.Code)
	assert.Contains(t, w.Body.String(), "No picture yet", "a product nobody drew")
	w = serve(t, newFakeProducts(), http.MethodGet, imagesPath+"headlamp.png", nil, "")
	assert.Equal(t, 404, w.Code)
}

func TestCreateProduct(t *testing.T) {
	f := newFakeProducts()
	body := `{"name":"Garden Hose","description":"25 m","category":"garden","price":{"amount":3900,"currency":"EUR"},"stock":7}`
	w := serve(t, f, http.MethodPost, "/products", nil, body)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "/products/garden-hose", w.Header().Get("Location"))
	assert.Equal(t, 7, f.items["garden-hose"].Stock)
	w = serve(t, f, http.MethodPost, "/products", nil, body)
	assert.Equal(t, http.StatusConflict, w.Code)
}

func TestAdminOnly(t *testing.T) {
	f := newFakeProducts()
	h := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), daprapp.Config{AppToken: "tok"}, nil, f, f, newFakeReservations())
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/products", strings.NewReader(`{}`)),
		httptest.NewRequest(http.MethodPut, "/products/headlamp", strings.NewReader(`{}`)),
	} {
		req.Header.Set("dapr-api-token", "tok")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		assert.Equal(t, http.StatusUnauthorized, w.Code, "anonymous %s", req.Method)
		req = req.WithContext(caller.WithClaims(req.Context(), authn.Claims{Roles: []string{"customer"}, RegisteredClaims: jwt.RegisteredClaims{Subject: "ann"}}))
		w = httptest.NewRecorder()
		h.ServeHTTP(w, req)
		assert.Equal(t, http.StatusForbidden, w.Code, "customer %s", req.Method)
	}
}
