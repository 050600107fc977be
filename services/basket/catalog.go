package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// Product is what basket needs to know of a catalog product.
type Product struct {
	ID    string      `json:"id"`
	Name  string      `json:"name"`
	Price money.Money `json:"price"`
	Stock int         `json:"stock"`
}

// ErrUnknownProduct means catalog has no such product.
var ErrUnknownProduct = errors.New("unknown product")

// Catalog looks products up.
type Catalog interface {
	Product(ctx context.Context, id string) (Product, error)
}

// catalogClient asks the catalog service through the sidecars.
type catalogClient struct{ invoke *daprapp.Invoker }

func (c *catalogClient) Product(ctx context.Context, id string) (Product, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/products/"+url.PathEscape(id), nil)
	if err != nil {
		return Product{}, err
	}
	resp, err := c.invoke.Do(ctx, "catalog", req)
	if err != nil {
		return Product{}, fmt.Errorf("ask catalog: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return Product{}, ErrUnknownProduct
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Product{}, fmt.Errorf("ask catalog: %d %s", resp.StatusCode, body)
	}
	var p Product
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p); err != nil {
		return Product{}, fmt.Errorf("decode catalog answer: %w", err)
	}
	return p, nil
}
