package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// ProductPage is the answer to GET /products.
type ProductPage struct {
	Items    []Product `json:"items"`
	Total    int       `json:"total"`
	Page     int       `json:"page"`
	PageSize int       `json:"pageSize"`
}

func listProducts(log *slog.Logger, products Products) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		all, err := products.List(r.Context())
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, q.apply(all))
	})
}

type listQuery struct {
	category, text string
	page, pageSize int
}

func parseListQuery(r *http.Request) (listQuery, error) {
	v := r.URL.Query()
	q := listQuery{category: v.Get("category"), text: strings.ToLower(strings.TrimSpace(v.Get("q"))), page: 1, pageSize: 12}
	fields := map[string]string{}
	for name, dst := range map[string]*int{"page": &q.page, "pageSize": &q.pageSize} {
		s := v.Get(name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fields[name] = "must be a whole number of at least 1"
			continue
		}
		*dst = n
	}
	if q.pageSize > 100 {
		fields["pageSize"] = "must be at most 100"
	}
	if len(fields) > 0 {
		return q, &httpapi.Error{Status: http.StatusBadRequest, Code: "invalid_query", Detail: "some query parameters are not valid", Fields: fields}
	}
	return q, nil
}

func (q listQuery) apply(all []Product) ProductPage {
	matched := make([]Product, 0, len(all))
	for _, p := range all {
		if q.category != "" && p.Category != q.category {
			continue
		}
		if q.text != "" && !strings.Contains(strings.ToLower(p.Name+" "+p.Description), q.text) {
			continue
		}
		matched = append(matched, p)
	}
	page := ProductPage{Items: []Product{}, Total: len(matched), Page: q.page, PageSize: q.pageSize}
	from := (q.page - 1) * q.pageSize
	if from < len(matched) {
		for _, p := range matched[from:min(from+q.pageSize, len(matched))] {
			page.Items = append(page.Items, p.public())
		}
	}
	return page
}

func getProduct(log *slog.Logger, products Products) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, etag, err := products.Get(r.Context(), mux.Vars(r)["id"])
		if err != nil {
			fail(w, r, log, err)
			return
		}
		w.Header().Set("ETag", strconv.Quote(etag))
		httpapi.JSON(w, http.StatusOK, p.public())
	})
}

// ProductUpdate is the body of PUT /products/{id}.
type ProductUpdate struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Category    string      `json:"category"`
	Price       money.Money `json:"price"`
	Stock       int         `json:"stock"`
}

// Valid implements httpapi.Validator.
func (u ProductUpdate) Valid(context.Context) map[string]string {
	p := map[string]string{}
	if n := utf8.RuneCountInString(strings.TrimSpace(u.Name)); n == 0 || n > 120 {
		p["name"] = "must be 1 to 120 characters"
	}
	if utf8.RuneCountInString(u.Description) > 2000 {
		p["description"] = "must be at most 2000 characters"
	}
	if !validCategory(u.Category) {
		p["category"] = fmt.Sprintf("must be one of %s", strings.Join(categories, ", "))
	}
	if u.Price.Currency != "EUR" {
		p["price.currency"] = "must be EUR"
	}
	if u.Price.Amount <= 0 || u.Price.Amount > 10_000_000 {
		p["price.amount"] = "must be between 1 and 10000000 minor units"
	}
	if u.Stock < 0 || u.Stock > 1_000_000 {
		p["stock"] = "must be between 0 and 1000000"
	}
	return p
}

// updateProduct changes a product. It needs If-Match with the ETag from a
// GET, so that two admins editing at once cannot lose each other's change.
func updateProduct(log *slog.Logger, products Products) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := caller.RequireAdmin(r); err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		id := mux.Vars(r)["id"]
		etag, err := strconv.Unquote(r.Header.Get("If-Match"))
		if err != nil || etag == "" {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusPreconditionRequired, "if_match_required", "send If-Match with the ETag of the product you edited"))
			return
		}
		u, err := httpapi.Decode[ProductUpdate](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		current, _, err := products.Get(r.Context(), id)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		next := current
		next.Name, next.Description, next.Category = strings.TrimSpace(u.Name), u.Description, u.Category
		next.Price, next.Stock = u.Price, u.Stock
		newETag, err := products.Save(r.Context(), next, etag)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		w.Header().Set("ETag", strconv.Quote(newETag))
		httpapi.JSON(w, http.StatusOK, next.public())
	})
}

// createProduct adds a product (admins only); its id comes from its name.
func createProduct(log *slog.Logger, products Products) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := caller.RequireAdmin(r); err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		u, err := httpapi.Decode[ProductUpdate](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		id := slug(u.Name)
		p := Product{ID: id, Name: strings.TrimSpace(u.Name), Description: u.Description, Category: u.Category,
			Price: u.Price, Stock: u.Stock, ImageURL: "/static/catalog/products/" + id + ".svg"}
		etag, err := products.Create(r.Context(), p)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		w.Header().Set("ETag", strconv.Quote(etag))
		w.Header().Set("Location", "/products/"+id)
		httpapi.JSON(w, http.StatusCreated, p)
	})
}

// fail maps the catalog's domain errors to HTTP; everything else is a 500.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		err = httpapi.Errorf(http.StatusNotFound, "product_not_found", "no such product")
	case errors.Is(err, ErrExists):
		err = httpapi.Errorf(http.StatusConflict, "product_exists", "a product with this name exists")
	case errors.Is(err, ErrConflict):
		err = httpapi.Errorf(http.StatusConflict, "etag_mismatch", "the product changed since you read it; read it again and retry")
	}
	httpapi.Fail(w, r, log, err)
}
