package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// The catalog's JSON API: decode, call the domain (catalog.go), encode.

func listProducts(log *slog.Logger, c Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseQuery(r.URL.Query())
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		page, err := c.Page(r.Context(), q)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, page)
	})
}

// parseQuery reads a listing's query parameters; the domain checks their
// bounds.
func parseQuery(v url.Values) (Query, error) {
	q := Query{Category: v.Get("category"), Text: v.Get("q"), Page: 1, PageSize: defaultPageSize}
	fields := map[string]string{}
	for name, dst := range map[string]*int{"page": &q.Page, "pageSize": &q.PageSize} {
		if s := v.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				fields[name] = "must be a whole number"
				continue
			}
			*dst = n
		}
	}
	if len(fields) > 0 {
		return q, &BadQueryError{Fields: fields}
	}
	return q, nil
}

func getProduct(log *slog.Logger, c Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, etag, err := c.Product(r.Context(), mux.Vars(r)["id"])
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		w.Header().Set("ETag", strconv.Quote(etag))
		httpapi.JSON(w, http.StatusOK, p)
	})
}

// updateProduct changes a product. It needs If-Match with the ETag from a
// GET, so that two admins editing at once cannot lose each other's change.
func updateProduct(log *slog.Logger, c Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := caller.RequireAdmin(r); err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		etag, err := strconv.Unquote(r.Header.Get("If-Match"))
		if err != nil || etag == "" {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusPreconditionRequired, "if_match_required", "send If-Match with the ETag of the product you edited"))
			return
		}
		in, err := httpapi.Decode[ProductInput](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		p, newETag, err := c.Update(r.Context(), mux.Vars(r)["id"], etag, in)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		w.Header().Set("ETag", strconv.Quote(newETag))
		httpapi.JSON(w, http.StatusOK, p)
	})
}

// createProduct adds a product (admins only).
func createProduct(log *slog.Logger, c Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := caller.RequireAdmin(r); err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		in, err := httpapi.Decode[ProductInput](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		p, etag, err := c.Create(r.Context(), in)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		w.Header().Set("ETag", strconv.Quote(etag))
		w.Header().Set("Location", contracts.ProductPath(p.ID))
		httpapi.JSON(w, http.StatusCreated, p)
	})
}

// reserveStock and settleReservation serve the checkout saga (ordering),
// with the rules of reservations.go.
func reserveStock(log *slog.Logger, stock Stock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := httpapi.Decode[ReservationRequest](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		// A rejection is an answer (status rejected), not a failure: Dapr's
		// resiliency counts every non-2xx as a fault, and a run of
		// rejections would open the circuit breaker in front of catalog.
		res, err := stock.Reserve(r.Context(), req)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, res)
	})
}

func settleReservation(log *slog.Logger, settle func(ctx context.Context, orderID string) (Reservation, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := settle(r.Context(), mux.Vars(r)["orderId"])
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, res)
	})
}
