package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// The catalog's domain: products, the rules for listing and editing them,
// and its errors. The JSON API (handlers.go) and the fragments
// (fragments.go) both call it; it knows nothing of HTTP or Dapr. Stock
// reservations are in reservations.go.

// Product is one thing the shop sells, as catalog stores it: what everyone
// may see (contracts.Product, embedded so that the stored JSON is that
// shape plus holds) and the stock held for orders.
type Product struct {
	contracts.Product
	// Holds is the stock held for orders being paid, by order id. It is
	// stored with the product but never shown (see public).
	Holds map[string]int `json:"holds,omitempty"`
}

// variant is what sku orders of p and its index in p.Variants (-1 for a
// product without variants); see contracts.Product.Variant.
func (p Product) variant(sku string) (contracts.Variant, int, bool) {
	v, ok := p.Variant(sku)
	return v, slices.IndexFunc(p.Variants, func(v contracts.Variant) bool { return v.SKU == sku }), ok
}

// restock adds n (or takes -n) to the stock of variant i, or of a product
// without variants (i is -1), and to the product's own count.
func (p *Product) restock(i, n int) {
	if i >= 0 {
		p.Variants[i].Stock += n
	}
	p.Stock += n
}

// public is the product as the API and the pages show it.
func (p Product) public() contracts.Product { return p.Product }

// Domain errors; errors.go maps them to HTTP, once for the API and the
// fragments.
var (
	// ErrNotFound means there is no product with that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the caller's ETag is stale: someone changed the
	// product since they read it.
	ErrConflict = errors.New("conflict")
	// ErrExists means a product with that id exists already.
	ErrExists = errors.New("exists")
)

// InvalidError lists what is wrong with an input, by field, so that a form
// can show each message beside its field.
type InvalidError struct{ Fields map[string]string }

// Error lists the fields, for logs.
func (e *InvalidError) Error() string { return fmt.Sprintf("invalid input: %v", e.Fields) }

// BadQueryError lists what is wrong with a listing's parameters. It is not
// an InvalidError because the API answers it as a bad request (400), not as
// a refused body (422).
type BadQueryError struct{ Fields map[string]string }

// Error lists the parameters, for logs.
func (e *BadQueryError) Error() string { return fmt.Sprintf("invalid query: %v", e.Fields) }

// Products is where the products live (store.go keeps them in Dapr state).
// A version (ETag) comes with each product read, so that a write can be
// refused when someone else wrote in between.
type Products interface {
	// List is every product, in the catalog's order.
	List(ctx context.Context) ([]Product, error)
	// Get is one product and its version, or ErrNotFound.
	Get(ctx context.Context, id string) (Product, string, error)
	// Save replaces p if it is still at version etag (else ErrConflict),
	// announces the change, and returns the new version.
	Save(ctx context.Context, p Product, etag string) (string, error)
	// Create adds p unless its id is taken (ErrExists) and returns its
	// version.
	Create(ctx context.Context, p Product) (string, error)
}

// Limits of a product and of a listing.
const (
	maxName, maxDescription = 120, 2000
	maxPriceCents           = 10_000_000
	maxStock                = 1_000_000
	defaultPageSize         = 12
	maxPageSize             = 100
	// maxPage is far beyond any real catalog; a larger page is a typo or
	// a probe, and the API says so instead of answering an empty page.
	maxPage = 1_000_000
)

var categories = []string{"kitchen", "garden", "workshop", "outdoor"}

func validCategory(c string) bool { return slices.Contains(categories, c) }

// ProductInput is a product as an admin writes it (PUT /products/{id},
// POST /products, the admin form). A product either has a price and stock
// of its own, or variants, each with its price and stock.
type ProductInput struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Category    string      `json:"category"`
	Price       money.Money `json:"price"`
	// Stock is a pointer so that a missing stock is told apart from 0.
	Stock    *int           `json:"stock"`
	Variants []VariantInput `json:"variants,omitempty"`
}

// VariantInput is one variant as an admin writes it; its SKU comes from
// the product's id and the label (contracts.VariantSKU).
type VariantInput struct {
	Label string      `json:"label"`
	Price money.Money `json:"price"`
	Stock *int        `json:"stock"`
}

// Limits of variants.
const maxVariants, maxLabel = 12, 40

// Valid lists what is wrong with the input, by field. It is the only place
// the limits of a product are checked: httpapi.Decode calls it for the API,
// and every edit through Catalog does.
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
	if len(u.Variants) > 0 {
		// The product's price and stock follow from its variants.
		if u.Price != (money.Money{}) {
			p["price"] = "must be left out: each variant has its price"
		}
		if u.Stock != nil {
			p["stock"] = "must be left out: each variant has its stock"
		}
		if len(u.Variants) > maxVariants {
			p["variants"] = fmt.Sprintf("must be at most %d", maxVariants)
		}
		seen := map[string]bool{}
		for i, v := range u.Variants {
			field := fmt.Sprintf("variants[%d].", i)
			part := slug(v.Label)
			switch n := utf8.RuneCountInString(strings.TrimSpace(v.Label)); {
			case n == 0 || n > maxLabel || part == "":
				p[field+"label"] = fmt.Sprintf("must be 1 to %d characters with a letter or a digit", maxLabel)
			case seen[part]:
				p[field+"label"] = "names the same variant as another label"
			}
			seen[part] = true
			checkPriceAndStock(p, field, v.Price, v.Stock)
		}
		return p
	}
	checkPriceAndStock(p, "", u.Price, u.Stock)
	return p
}

// checkPriceAndStock adds what is wrong with a price and a stock to p, the
// fields prefixed with prefix.
func checkPriceAndStock(p map[string]string, prefix string, price money.Money, stock *int) {
	if price.Currency != "EUR" {
		p[prefix+"price.currency"] = "must be EUR"
	}
	if price.Amount <= 0 || price.Amount > maxPriceCents {
		p[prefix+"price.amount"] = fmt.Sprintf("must be between 1 and %d minor units", maxPriceCents)
	}
	switch {
	case stock == nil:
		p[prefix+"stock"] = "is required"
	case *stock < 0 || *stock > maxStock:
		p[prefix+"stock"] = fmt.Sprintf("must be between 0 and %d", maxStock)
	}
}

// inputOf is p as an admin would write it, to change part of it.
func inputOf(p Product) ProductInput {
	in := ProductInput{Name: p.Name, Description: p.Description, Category: p.Category}
	if len(p.Variants) == 0 {
		stock := p.Stock
		in.Price, in.Stock = p.Price, &stock
	}
	for _, v := range p.Variants {
		stock := v.Stock
		in.Variants = append(in.Variants, VariantInput{Label: v.Label, Price: v.Price, Stock: &stock})
	}
	return in
}

// apply sets what in says of p: its text, and its price and stock, or its
// variants (whose stock held for orders stays with them: a variant keeps
// its SKU while its label names it).
func (in ProductInput) apply(p *Product) {
	p.Name, p.Description, p.Category = strings.TrimSpace(in.Name), in.Description, in.Category
	if len(in.Variants) == 0 {
		p.Variants = nil
		p.Price, p.Stock = in.Price, *in.Stock
		return
	}
	p.Variants = make([]contracts.Variant, len(in.Variants))
	for i, v := range in.Variants {
		p.Variants[i] = contracts.Variant{SKU: contracts.VariantSKU(p.ID, slug(v.Label)),
			Label: strings.TrimSpace(v.Label), Price: v.Price, Stock: *v.Stock}
	}
	p.summarize()
}

// summarize sets the price and stock of a product with variants from
// them: its lowest price ("from") and all their stock.
func (p *Product) summarize() {
	if len(p.Variants) == 0 {
		return
	}
	p.Price, p.Stock = p.Variants[0].Price, 0
	for _, v := range p.Variants {
		if v.Price.Amount < p.Price.Amount {
			p.Price = v.Price
		}
		p.Stock += v.Stock
	}
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
	if q.Category != "" && !validCategory(q.Category) {
		p["category"] = fmt.Sprintf("must be one of %s", strings.Join(categories, ", "))
	}
	return p
}

// ProductPage is one page of a listing: the answer of GET /products.
type ProductPage struct {
	Items    []contracts.Product `json:"items"`
	Total    int                 `json:"total"`
	Page     int                 `json:"page"`
	PageSize int                 `json:"pageSize"`
}

// pageBounds is the part [from, to) of n items that page (counted from 1)
// shows with size items a page; empty past the end or for a page or size
// below 1. It divides instead of computing (page-1)*size, so that no page
// number, however large, can overflow (issue 11: page=768614336404564652
// wrapped around and panicked).
func pageBounds(n, page, size int) (from, to int) {
	if n <= 0 || page < 1 || size < 1 || page-1 > (n-1)/size {
		return 0, 0
	}
	from = (page - 1) * size // at most n-1 here
	return from, from + min(size, n-from)
}

// Catalog is the catalog's use cases over its storage: what the JSON API
// and the fragments both call.
type Catalog struct{ products Products }

// Page lists the products that match q, or a BadQueryError.
func (c Catalog) Page(ctx context.Context, q Query) (ProductPage, error) {
	if problems := q.Valid(); len(problems) > 0 {
		return ProductPage{}, &BadQueryError{Fields: problems}
	}
	all, err := c.products.List(ctx)
	if err != nil {
		return ProductPage{}, err
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	matched := make([]contracts.Product, 0, len(all))
	for _, p := range all {
		if q.Category != "" && p.Category != q.Category {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(p.Name+" "+p.Description), text) {
			continue
		}
		matched = append(matched, p.public())
	}
	from, to := pageBounds(len(matched), q.Page, q.PageSize)
	return ProductPage{Items: matched[from:to], Total: len(matched), Page: q.Page, PageSize: q.PageSize}, nil
}

// Versioned is a product with its version (ETag), for an edit form that
// must send the version back.
type Versioned struct {
	Product contracts.Product
	ETag    string
}

// Editable is every product with its version, for the admin page.
func (c Catalog) Editable(ctx context.Context) ([]Versioned, error) {
	all, err := c.products.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Versioned, 0, len(all))
	for _, p := range all {
		// The list has no versions; this read has, and it is the newer.
		current, etag, err := c.products.Get(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, Versioned{Product: current.public(), ETag: etag})
	}
	return out, nil
}

// Product is one product as the public sees it, with its version (ETag),
// or ErrNotFound.
func (c Catalog) Product(ctx context.Context, id string) (contracts.Product, string, error) {
	p, etag, err := c.products.Get(ctx, id)
	if err != nil {
		return contracts.Product{}, "", err
	}
	return p.public(), etag, nil
}

// Create adds a product; its id comes from its name, so a name that gives
// no id (no letter or digit) is refused, as is a name already taken
// (ErrExists).
func (c Catalog) Create(ctx context.Context, in ProductInput) (contracts.Product, string, error) {
	problems := in.Valid(ctx)
	id := slug(in.Name)
	if id == "" && problems["name"] == "" {
		problems["name"] = "must contain a letter or a digit"
	}
	if len(problems) > 0 {
		return contracts.Product{}, "", &InvalidError{Fields: problems}
	}
	p := Product{Product: contracts.Product{ID: id, ImageURL: imageURL(id)}}
	in.apply(&p)
	etag, err := c.products.Create(ctx, p)
	if err != nil {
		return contracts.Product{}, "", err
	}
	return p.public(), etag, nil
}

// Update replaces what an admin may change of a product, provided it is
// still at version etag: two admins editing at once cannot lose each
// other's change (the second gets ErrConflict).
func (c Catalog) Update(ctx context.Context, id, etag string, in ProductInput) (contracts.Product, string, error) {
	return c.edit(ctx, id, etag, func(Product, ProductInput) (ProductInput, error) { return in, nil })
}

// SetPriceAndStock changes only the price and stock of what sku orders (a
// product without variants, or one variant; the admin page's form), under
// the same rules and version check as Update.
func (c Catalog) SetPriceAndStock(ctx context.Context, sku, etag string, price money.Money, stock int) (contracts.Product, string, error) {
	return c.edit(ctx, contracts.ProductOfSKU(sku), etag, func(p Product, in ProductInput) (ProductInput, error) {
		if len(in.Variants) == 0 {
			if sku != p.ID {
				return in, ErrNotFound
			}
			in.Price, in.Stock = price, &stock
			return in, nil
		}
		for i, v := range p.Variants {
			if v.SKU == sku {
				in.Variants[i].Price, in.Variants[i].Stock = price, &stock
				return in, nil
			}
		}
		return in, ErrNotFound
	})
}

// edit applies change to the product as an admin sees it, checks the
// result and saves it under etag. The stock held for orders being paid is
// kept.
func (c Catalog) edit(ctx context.Context, id, etag string, change func(Product, ProductInput) (ProductInput, error)) (contracts.Product, string, error) {
	current, _, err := c.products.Get(ctx, id)
	if err != nil {
		return contracts.Product{}, "", err
	}
	in, err := change(current, inputOf(current))
	if err != nil {
		return contracts.Product{}, "", err
	}
	if problems := in.Valid(ctx); len(problems) > 0 {
		return contracts.Product{}, "", &InvalidError{Fields: problems}
	}
	next := current
	in.apply(&next)
	newETag, err := c.products.Save(ctx, next, etag)
	if err != nil {
		return contracts.Product{}, "", err
	}
	return next.public(), newETag, nil
}

// Recommend picks n products to show beside product id (or on the home
// page, without one). With a variant's sku, the picks are those closest to
// its price: a larger size brings the dearer things of its kind forward.
func (c Catalog) Recommend(ctx context.Context, id, sku string, n int) ([]contracts.Product, error) {
	all, err := c.products.List(ctx)
	if err != nil {
		return nil, err
	}
	return recommend(all, id, sku, n), nil
}

// recommend picks n products other than id: its category first, nearest
// in price to what is shown (the variant sku, else the product), then the
// rest, skipping what is sold out. Without an id it shows one of each
// category.
func recommend(all []Product, id, sku string, n int) []contracts.Product {
	var category string
	var price int64
	for _, p := range all {
		if p.ID == id {
			category, price = p.Category, p.Price.Amount
			if v, ok := p.Variant(sku); ok {
				price = v.Price.Amount
			}
		}
	}
	var same, other []contracts.Product
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
		var picks []contracts.Product
		for _, p := range other {
			if !seen[p.Category] && len(picks) < n {
				seen[p.Category] = true
				picks = append(picks, p)
			}
		}
		return picks
	}
	distance := func(p contracts.Product) int64 { return max(p.Price.Amount-price, price-p.Price.Amount) }
	slices.SortStableFunc(same, func(a, b contracts.Product) int { return cmp.Compare(distance(a), distance(b)) })
	return append(same, other...)[:min(n, len(same)+len(other))]
}
