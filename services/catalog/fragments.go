package main

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/fragment"
	"github.com/bazaar-shop/bazaar/internal/money"
)

//go:embed static
var staticFiles embed.FS

// newFragments describes the catalog's fragments and loads its assets.
func newFragments() *fragment.Service {
	return fragment.NewService("catalog", staticFiles, "catalog.css",
		fragment.Spec{Name: "categories", Description: "category navigation", Params: []string{"category"}, Cache: fragment.Public},
		fragment.Spec{Name: "product-grid", Description: "products with search, category filter and paging", Params: []string{"category", "q", "page"}, Cache: fragment.Public},
		fragment.Spec{Name: "product-detail", Description: "one product, with its variant picker; announces catalog-variant-selected", Params: []string{"id", "sku"}, Cache: fragment.Public},
		fragment.Spec{Name: "recommendations", Description: "other products, the same category and price first; follows catalog-variant-selected", Params: []string{"id", "sku"}, Cache: fragment.Public},
		fragment.Spec{Name: "stock-badge", Description: "in stock, low or sold out", Params: []string{"id", "sku"}, Cache: fragment.Public},
		fragment.Spec{Name: "admin-products", Description: "edit prices and stock (admins)", Params: []string{"page"}, Cache: fragment.Personal, Actions: []string{"POST"}},
	)
}

func categoryTitle(c string) string {
	if c == "" {
		return ""
	}
	return strings.ToUpper(c[:1]) + c[1:]
}

func gridTitle(q Query) string {
	switch {
	case q.Text != "":
		return "Results for “" + q.Text + "”"
	case q.Category != "":
		return categoryTitle(q.Category)
	default:
		return "All products"
	}
}

func pages(p ProductPage) int { return (p.Total + p.PageSize - 1) / p.PageSize }

// pageURL is the home page URL that shows page n of the same query.
func (q Query) pageURL(n int) string {
	v := url.Values{}
	if q.Category != "" {
		v.Set("category", q.Category)
	}
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	v.Set("page", strconv.Itoa(n))
	return "/?" + v.Encode()
}

func ariaInvalid(msg string) string {
	if msg != "" {
		return "true"
	}
	return "false"
}

func categoriesHandler(f *fragment.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.URL.Query().Get("category")
		if !validCategory(c) {
			c = ""
		}
		f.Write(w, r, http.StatusOK, fragment.Public, categoriesFragment(c))
	})
}

func productGridHandler(log *slog.Logger, f *fragment.Service, c Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseQuery(r.URL.Query())
		if err != nil || len(q.Valid()) > 0 {
			// A hand-edited page number or category shows the first page of
			// everything, not an error.
			q = Query{Text: q.Text, Page: 1, PageSize: defaultPageSize}
			if validCategory(r.URL.Query().Get("category")) {
				q.Category = r.URL.Query().Get("category")
			}
		}
		page, err := c.Page(r.Context(), q)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Public, productGridFragment(q, page))
	})
}

// variantSelected is the event the product detail announces when the
// customer picks a variant, with the product's id and the variant's sku as
// its details. Basket's add-to-cart and the recommendations listen for it
// (the shell's events.js turns the details into their parameters).
const variantSelected = "catalog-variant-selected"

// productView is a product as its page shows it: with the variant chosen
// (the product itself when it has none).
type productView struct {
	contracts.Product
	Chosen contracts.Variant
}

// viewOf is p with the variant sku chosen; an unknown or missing sku
// chooses the default variant.
func viewOf(p contracts.Product, sku string) productView {
	v, ok := p.Variant(sku)
	if !ok {
		v = p.DefaultVariant()
	}
	return productView{Product: p, Chosen: v}
}

func productHandler(log *slog.Logger, f *fragment.Service, c Catalog, render func(productView) templ.Component) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p, _, err := c.Product(r.Context(), q.Get("id"))
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		v := viewOf(p, q.Get("sku"))
		if q.Get("sku") != "" && r.Header.Get("HX-Request") == "true" {
			// A variant picked on the page: the address follows it (so a
			// reload or a shared link shows the same variant), and the
			// fragments that depend on it are told.
			detail, _ := json.Marshal(map[string]map[string]string{variantSelected: {"id": p.ID, "sku": v.Chosen.SKU}})
			w.Header().Set("HX-Trigger", string(detail))
			w.Header().Set("HX-Push-Url", productURL(p.ID, v.Chosen.SKU))
		}
		f.Write(w, r, http.StatusOK, fragment.Public, render(v))
	})
}

// productURL is the product page, showing the variant sku when the product
// has variants.
func productURL(id, sku string) string {
	if sku == "" || sku == id {
		return "/products/" + url.PathEscape(id)
	}
	return "/products/" + url.PathEscape(id) + "?" + url.Values{"sku": {sku}}.Encode()
}

func recommendationsHandler(log *slog.Logger, f *fragment.Service, c Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		picks, err := c.Recommend(r.Context(), q.Get("id"), q.Get("sku"), 4)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Public, recommendationsFragment(q.Get("id"), picks))
	})
}

// adminRow is one product, or one variant of it, in the admin form, with
// what was typed and the errors when a save was refused.
type adminRow struct {
	Product contracts.Product
	// SKU is what the row edits: the product's id, or a variant's SKU
	// (Label names the variant).
	SKU, Label   string
	ETag         string
	Price, Stock string
	Errors       map[string]string
	Saved        bool
}

func adminProductsHandler(log *slog.Logger, f *fragment.Service, c Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := caller.RequireAdmin(r); err != nil {
			f.Fail(w, r, log, err)
			return
		}
		rows, err := adminRows(r, c)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, adminProductsFragment(rows, fragment.Page(r)))
	})
}

func adminRows(r *http.Request, c Catalog) ([]adminRow, error) {
	all, err := c.Editable(r.Context())
	if err != nil {
		return nil, err
	}
	rows := make([]adminRow, 0, len(all))
	for _, v := range all {
		if len(v.Product.Variants) == 0 {
			rows = append(rows, adminRow{Product: v.Product, SKU: v.Product.ID, ETag: v.ETag, Price: decimal(v.Product.Price), Stock: strconv.Itoa(v.Product.Stock)})
		}
		for _, variant := range v.Product.Variants {
			rows = append(rows, adminRow{Product: v.Product, SKU: variant.SKU, Label: variant.Label, ETag: v.ETag,
				Price: decimal(variant.Price), Stock: strconv.Itoa(variant.Stock)})
		}
	}
	return rows, nil
}

// saveAdminProduct takes one row of the admin form: price and stock, under
// the ETag the form was rendered with. The catalog's rules decide, as for
// the API; only reading the typed text is the form's.
func saveAdminProduct(log *slog.Logger, f *fragment.Service, c Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := caller.RequireAdmin(r); err != nil {
			f.Fail(w, r, log, err)
			return
		}
		sku, page := r.PostFormValue("id"), fragment.Page(r)
		rows, err := adminRows(r, c)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		i := slices.IndexFunc(rows, func(row adminRow) bool { return row.SKU == sku })
		if i < 0 {
			f.Invalid(w, r, adminProductsFragment(rows, page))
			return
		}
		row := &rows[i]
		row.Price, row.Stock, row.Errors = strings.TrimSpace(r.PostFormValue("price")), strings.TrimSpace(r.PostFormValue("stock")), map[string]string{}
		price, err := parseEuros(row.Price)
		if err != nil {
			row.Errors["price"] = err.Error()
		}
		stock, err := strconv.Atoi(row.Stock)
		if err != nil {
			row.Errors["stock"] = "must be a whole number"
		}
		if len(row.Errors) > 0 {
			f.Invalid(w, r, adminProductsFragment(rows, page))
			return
		}
		_, _, err = c.SetPriceAndStock(r.Context(), sku, r.PostFormValue("etag"), price, stock)
		var invalid *InvalidError
		switch {
		case errors.As(err, &invalid):
			for field, msg := range invalid.Fields {
				switch field {
				case "price.amount", "price.currency":
					row.Errors["price"] = errPrice.Error()
				case "stock", "variants[" + strconv.Itoa(variantIndex(row)) + "].stock":
					row.Errors["stock"] = msg
				case "variants[" + strconv.Itoa(variantIndex(row)) + "].price.amount":
					row.Errors["price"] = errPrice.Error()
				default: // the stored product breaks a rule that changed since
					row.Errors["form"] = field + " " + msg
				}
			}
			f.Invalid(w, r, adminProductsFragment(rows, page))
			return
		case errors.Is(err, ErrConflict):
			current, _, _ := c.Product(r.Context(), row.Product.ID)
			now, _ := current.Variant(sku)
			row.Errors["form"] = "someone changed this product since you opened the page; here is what it is now"
			row.Price, row.Stock = decimal(now.Price), strconv.Itoa(now.Stock)
			f.Invalid(w, r, adminProductsFragment(rows, page))
			return
		case err != nil:
			f.Fail(w, r, log, problem(err))
			return
		}
		rows, err = adminRows(r, c)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		for j := range rows {
			rows[j].Saved = rows[j].SKU == sku
		}
		f.Done(w, r, page+"#catalog-admin-"+sku, adminProductsFragment(rows, page))
	})
}

// title names the row's product, and its variant.
func (row adminRow) title() string {
	if row.Label == "" {
		return row.Product.Name
	}
	return row.Product.Name + " (" + row.Label + ")"
}

// fromPrice is a listing's price: "from" the lowest for a product whose
// variants differ in price.
func fromPrice(p contracts.Product) string {
	for _, v := range p.Variants {
		if v.Price != p.Price {
			return "from " + p.Price.String()
		}
	}
	return p.Price.String()
}

// variantIndex is the index of the row's variant among its product's
// (-1 for a product without variants), as the catalog's errors name it.
func variantIndex(row *adminRow) int {
	return slices.IndexFunc(row.Product.Variants, func(v contracts.Variant) bool { return v.SKU == row.SKU })
}

func decimal(m money.Money) string {
	return strconv.FormatInt(m.Amount/100, 10) + "." + strconv.FormatInt(100+m.Amount%100, 10)[1:]
}

// errPrice is what the admin form says of a price it cannot take, in the
// euros it is typed in; the limit is the catalog's (maxPriceCents).
var errPrice = fmt.Errorf("must be an amount in euros such as 12.50, from 0.01 to %d", maxPriceCents/100)

// parseEuros reads "12", "12.5" or "12.50" (a comma works too) as cents.
// Whether the amount is allowed is the catalog's to say.
func parseEuros(s string) (money.Money, error) {
	whole, frac, _ := strings.Cut(strings.ReplaceAll(s, ",", "."), ".")
	if len(frac) > 2 || whole == "" || strings.HasPrefix(whole, "-") {
		return money.Money{}, errPrice
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	c, err2 := strconv.ParseUint(frac, 10, 64)
	// The bound on w keeps w*100 from wrapping around into a small price.
	if err1 != nil || err2 != nil || w > (math.MaxInt64-99)/100 {
		return money.Money{}, errPrice
	}
	return money.EUR(w*100 + int64(c)), nil
}

// Page metadata: a fragment describes the page it is the main part of in
// its root's data-page-* attributes (title, description, and schema.org
// data as JSON-LD), which the shell puts into the page's head.

// gridMeta describes a listing page.
func gridMeta(q Query) templ.Attributes {
	description := "Kitchen, garden, workshop and outdoor goods made to last: cast iron, steel, wood and wool, sent across Europe."
	if q.Category != "" {
		description = categoryDescriptions[q.Category]
	}
	return templ.Attributes{"data-page-title": gridTitle(q), "data-page-description": description}
}

var categoryDescriptions = map[string]string{
	"kitchen":  "Kitchen tools that last: cast iron skillets, chef's knives, pour-over coffee sets, linen aprons and walnut boards.",
	"garden":   "Garden tools and kit: pruning shears, watering cans, raised beds, kneelers, seed trays and compost bins.",
	"workshop": "Workshop hand tools: claw hammers, block planes, chisels, folding rules, vises and tool rolls.",
	"outdoor":  "Outdoor gear: trail backpacks, camping stoves, headlamps, insulated bottles, wool blankets and enamel mugs.",
}

// productMeta describes a product page, with its schema.org Product data:
// one offer per variant.
func productMeta(v productView) templ.Attributes {
	p := v.Product
	offer := func(v contracts.Variant) map[string]any {
		availability := "https://schema.org/InStock"
		if v.Stock <= 0 {
			availability = "https://schema.org/OutOfStock"
		}
		return map[string]any{"@type": "Offer", "sku": v.SKU, "priceCurrency": v.Price.Currency,
			"price": fmt.Sprintf("%d.%02d", v.Price.Amount/100, v.Price.Amount%100), "availability": availability}
	}
	data := map[string]any{
		"@context": "https://schema.org", "@type": "Product",
		"sku": p.ID, "name": p.Name, "description": p.Description, "category": p.Category, "image": p.ImageURL,
		"offers": offer(v.Chosen),
	}
	if len(p.Variants) > 0 {
		offers := make([]map[string]any, len(p.Variants))
		for i, variant := range p.Variants {
			offers[i] = offer(variant)
		}
		data["offers"] = offers
	}
	body, _ := json.Marshal(data)
	return templ.Attributes{"data-page-title": v.title(), "data-page-description": p.Description, "data-page-data": string(body)}
}

// title names the product and the variant shown.
func (v productView) title() string {
	if v.Chosen.Label == "" {
		return v.Name
	}
	return v.Name + " (" + v.Chosen.Label + ")"
}
