package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/contracts"
)

// catalogClient implements Catalog: it asks the catalog service through the
// sidecars.
type catalogClient struct {
	invoke contracts.Invoker
	log    *slog.Logger
}

func (c *catalogClient) Product(ctx context.Context, id string) (contracts.Product, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, contracts.ProductPath(id), nil)
	if err != nil {
		return contracts.Product{}, err
	}
	resp, err := c.invoke.Do(ctx, contracts.CatalogApp, req)
	if err != nil {
		return contracts.Product{}, c.unavailable(ctx, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		return contracts.Product{}, ErrUnknownProduct
	case resp.StatusCode >= 500:
		// The sidecar answers 5xx when catalog is down or its circuit
		// breaker is open; catalog itself when it is failing.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return contracts.Product{}, c.unavailable(ctx, fmt.Errorf("%d %s", resp.StatusCode, body))
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return contracts.Product{}, fmt.Errorf("ask catalog: %d %s", resp.StatusCode, body)
	}
	var p contracts.Product
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p); err != nil {
		return contracts.Product{}, fmt.Errorf("decode catalog answer: %w", err)
	}
	return p, nil
}

// unavailable logs why catalog could not answer (the customer is told only
// that it did not) and says so to the domain.
func (c *catalogClient) unavailable(ctx context.Context, err error) error {
	c.log.WarnContext(ctx, "catalog unavailable", "err", err)
	return fmt.Errorf("%w: %w", ErrCatalogUnavailable, err)
}

// invoker is what paymentClient needs of the Dapr SDK.
type invoker interface {
	InvokeMethodWithContent(ctx context.Context, appID, method, verb string, content *dapr.DataContent) ([]byte, error)
}

// paymentClient implements Payments with the payment service's gRPC methods
// through the sidecars.
type paymentClient struct {
	dapr invoker
	log  *slog.Logger
}

func (p *paymentClient) Tokenize(ctx context.Context, req contracts.TokenizeRequest) (contracts.TokenizeResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return contracts.TokenizeResult{}, err
	}
	out, err := p.dapr.InvokeMethodWithContent(ctx, contracts.PaymentApp, contracts.Tokenize, http.MethodPost,
		&dapr.DataContent{ContentType: "application/json", Data: body})
	if err != nil {
		// Down, unreachable or failing: payment answers only plain gRPC
		// errors, and basket sends only valid cards, so none is the
		// customer's to fix.
		p.log.WarnContext(ctx, "payment unavailable", "err", err)
		return contracts.TokenizeResult{}, fmt.Errorf("%w: tokenize card: %w", ErrPaymentUnavailable, err)
	}
	var res contracts.TokenizeResult
	if err := json.Unmarshal(out, &res); err != nil {
		return contracts.TokenizeResult{}, fmt.Errorf("decode tokenize answer: %w", err)
	}
	if res.Token == "" && len(res.Errors) == 0 {
		return contracts.TokenizeResult{}, errors.New("tokenize card: empty answer")
	}
	return res, nil
}
