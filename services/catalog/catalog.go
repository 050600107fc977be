package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/bazaar-shop/bazaar/internal/money"
)

// The catalog's domain: products, the rules for listing and editing them,
// and its errors. The JSON API (handlers.go) and the fragments
// (fragments.go) both call it; it knows nothing of HTTP or Dapr.

// Product is one thing the shop sells.
type Product struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Category    string      `json:"category"`
	Price       money.Money `json:"price"`
	ImageURL    string      `json:"imageUrl"`
	Stock       int         `json:"stock"`
	// Holds is the stock held for orders being paid, by order id. It is
	// stored with the product but never shown (see public).
	Holds map[string]int `json:"holds,omitempty"`
}

// public is the product as the API shows it.
func (p Product) public() Product {
	p.Holds = nil
	return p
}

// Domain errors; errors.go maps them to HTTP, once for the API and the
// fragments.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict means the caller's ETag is stale: someone changed the
	// product since they read it.
	ErrConflict = errors.New("conflict")
	// ErrExists means a product with that id exists already.
	ErrExists = errors.New("exists")
)

// InvalidError lists what is wrong with an input, by field.
type InvalidError struct{ Fields map[string]string }

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid input: %v", e.Fields) }

// BadQueryError lists what is wrong with a listing's parameters.
type BadQueryError struct{ Fields map[string]string }

func (e *BadQueryError) Error() string { return fmt.Sprintf("invalid query: %v", e.Fields) }

// Products is the catalog's storage (store.go implements it over Dapr state).
type Products interface {
	List(ctx context.Context) ([]Product, error)
	Get(ctx context.Context, id string) (Product, string, error)
	Save(ctx context.Context, p Product, etag string) (string, error)
	Create(ctx context.Context, p Product) (string, error)
}

// Limits of a product and of a listing.
const (
	maxName, maxDescription = 120, 2000
	maxPriceCents           = 10_000_000
	maxStock                = 1_000_000
	defaultPageSize         = 12
	maxPageSize             = 100
	// maxPage is far beyond any real catalog and keeps the paging
	// arithmetic far from overflowing.
	maxPage = 1_000_000
)

var categories = []string{"kitchen", "garden", "workshop", "outdoor"}

func validCategory(c string) bool { return slices.Contains(categories, c) }

// ProductInput is a product as an admin writes it (PUT /products/{id},
// POST /products, the admin form).
type ProductInput struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Category    string      `json:"category"`
	Price       money.Money `json:"price"`
	// Stock is a pointer so that a missing stock is told apart from 0.
	Stock *int `json:"stock"`
}

// Valid lists what is wrong with the input, by field (httpapi.Validator).
func (u ProductInput) Valid(context.Context) map[string]string {
	p := map[string]string{}
	if n := utf8.RuneCountInString(strings.TrimSpace(u.Name)); n == 0 || n > maxName {
		p["name"] = fmt.Sprintf("must be 1 to %d characters", maxName)
	}
	if utf8.RuneCountInString(u.Description) > maxDescription {
		p["description"] = fmt.Sprintf("must be at most %d characters", maxDescription)
	}
	if !validCategory(u.Category) {
		p["category"] = fmt.Sprintf("must be one of %s", strings.Join(categories, ", "))
	}
	if u.Price.Currency != "EUR" {
		p["price.currency"] = "must be EUR"
	}
	if u.Price.Amount <= 0 || u.Price.Amount > maxPriceCents {
		p["price.amount"] = fmt.Sprintf("must be between 1 and %d minor units", maxPriceCents)
	}
	switch {
	case u.Stock == nil:
		p["stock"] = "is required"
	case *u.Stock < 0 || *u.Stock > maxStock:
		p["stock"] = fmt.Sprintf("must be between 0 and %d", maxStock)
	}
	return p
}

// inputOf is p as an admin would write it, to change part of it.
func inputOf(p Product) ProductInput {
	stock := p.Stock
	return ProductInput{Name: p.Name, Description: p.Description, Category: p.Category, Price: p.Price, Stock: &stock}
}

// Query asks for one page of products, filtered by category and text.
type Query struct {
	Category, Text string
	Page, PageSize int
}

// Valid lists what is wrong with the query, by parameter.
func (q Query) Valid() map[string]string {
	p := map[string]string{}
	if q.Page < 1 || q.Page > maxPage {
		p["page"] = fmt.Sprintf("must be a whole number from 1 to %d", maxPage)
	}
	if q.PageSize < 1 || q.PageSize > maxPageSize {
		p["pageSize"] = fmt.Sprintf("must be a whole number from 1 to %d", maxPageSize)
	}
	return p
}

// ProductPage is one page of a listing.
type ProductPage struct {
	Items    []Product `json:"items"`
	Total    int       `json:"total"`
	Page     int       `json:"page"`
	PageSize int       `json:"pageSize"`
}

// Catalog is the catalog's use cases over its storage.
type Catalog struct{ products Products }

// Page lists the products that match q.
func (c Catalog) Page(ctx context.Context, q Query) (ProductPage, error) {
	if problems := q.Valid(); len(problems) > 0 {
		return ProductPage{}, &BadQueryError{Fields: problems}
	}
	all, err := c.products.List(ctx)
	if err != nil {
		return ProductPage{}, err
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	matched := make([]Product, 0, len(all))
	for _, p := range all {
		if q.Category != "" && p.Category != q.Category {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(p.Name+" "+p.Description), text) {
			continue
		}
		matched = append(matched, p.public())
	}
	page := ProductPage{Items: []Product{}, Total: len(matched), Page: q.Page, PageSize: q.PageSize}
	// Both are bounded (Valid), so this cannot overflow.
	if from := (q.Page - 1) * q.PageSize; from < len(matched) {
		page.Items = matched[from:min(from+q.PageSize, len(matched))]
	}
	return page, nil
}

// All is every product as the public sees it.
func (c Catalog) All(ctx context.Context) ([]Product, error) {
	all, err := c.products.List(ctx)
	for i := range all {
		all[i] = all[i].public()
	}
	return all, err
}

// Product is one product as the public sees it, with its version (ETag).
func (c Catalog) Product(ctx context.Context, id string) (Product, string, error) {
	p, etag, err := c.products.Get(ctx, id)
	return p.public(), etag, err
}

// Create adds a product; its id comes from its name.
func (c Catalog) Create(ctx context.Context, in ProductInput) (Product, string, error) {
	if problems := in.Valid(ctx); len(problems) > 0 {
		return Product{}, "", &InvalidError{Fields: problems}
	}
	id := slug(in.Name)
	p := Product{ID: id, Name: strings.TrimSpace(in.Name), Description: in.Description, Category: in.Category,
		Price: in.Price, Stock: *in.Stock, ImageURL: "/static/catalog/products/" + id + ".svg"}
	etag, err := c.products.Create(ctx, p)
	return p, etag, err
}

// Update changes a product, provided it is still at version etag: two admins
// editing at once cannot lose each other's change. The stock held for
// orders being paid is kept.
func (c Catalog) Update(ctx context.Context, id, etag string, in ProductInput) (Product, string, error) {
	if problems := in.Valid(ctx); len(problems) > 0 {
		return Product{}, "", &InvalidError{Fields: problems}
	}
	current, _, err := c.products.Get(ctx, id)
	if err != nil {
		return Product{}, "", err
	}
	next := current
	next.Name, next.Description, next.Category = strings.TrimSpace(in.Name), in.Description, in.Category
	next.Price, next.Stock = in.Price, *in.Stock
	newETag, err := c.products.Save(ctx, next, etag)
	return next.public(), newETag, err
}

// Recommend picks n products to show beside product id.
func (c Catalog) Recommend(ctx context.Context, id string, n int) ([]Product, error) {
	all, err := c.All(ctx)
	if err != nil {
		return nil, err
	}
	return recommend(all, id, n), nil
}

// recommend picks n products other than id: its category first, then the
// rest, skipping what is sold out. Without an id it shows the best stocked.
func recommend(all []Product, id string, n int) []Product {
	var category string
	for _, p := range all {
		if p.ID == id {
			category = p.Category
		}
	}
	var same, other []Product
	for _, p := range all {
		switch {
		case p.ID == id || p.Stock == 0:
		case category != "" && p.Category == category:
			same = append(same, p.public())
		default:
			other = append(other, p.public())
		}
	}
	if category == "" {
		// One of each category reads better on the home page than four
		// of the first.
		seen := map[string]bool{}
		var picks []Product
		for _, p := range other {
			if !seen[p.Category] && len(picks) < n {
				seen[p.Category] = true
				picks = append(picks, p)
			}
		}
		return picks
	}
	return append(same, other...)[:min(n, len(same)+len(other))]
}
