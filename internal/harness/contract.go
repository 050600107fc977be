package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Contract is the public API's contract, api/openapi.yaml, for checking
// what the gateway really answers.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
}

var (
	contractOnce sync.Once
	contract     *Contract
	contractErr  error
)

// LoadContract reads and validates api/openapi.yaml once per test binary.
func LoadContract(t testing.TB) *Contract {
	t.Helper()
	contractOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(Root(), "api", "openapi.yaml"))
		if err != nil {
			contractErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contractErr = err
			return
		}
		// Tests reach the gateway on a free port, not the documented one.
		doc.Servers = openapi3.Servers{{URL: "/"}}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			contractErr = err
			return
		}
		contract = &Contract{Doc: doc, router: router}
	})
	if contractErr != nil {
		t.Fatalf("api/openapi.yaml: %v", contractErr)
	}
	return contract
}

// Check fails t unless the answer (status, headers, body) to a request for
// an operation of the contract is one the contract declares for it, with a
// body that matches its schema. Requests for paths the contract does not
// cover (pages, fragments, files) are not checked.
func (c *Contract) Check(t testing.TB, method, url string, status int, header http.Header, body []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Errorf("contract: %v", err)
		return
	}
	if !strings.Contains(req.URL.Path, "/api/") {
		return
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// Not part of the API: it must not exist publicly.
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Errorf("contract: %s %s is not in api/openapi.yaml but answered %d", method, req.URL.Path, status)
		}
		return
	}
	if anyOperation[status] && route.Operation.Responses.Status(status) == nil {
		// Answers any operation may give (the contract's description lists
		// them): a problem, as always.
		c.checkProblem(t, method, req.URL.Path, status, header, body)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("contract: %s %.80s answered %d against api/openapi.yaml: %v\nbody: %.300s", method, req.URL.Path, status, err, body)
	}
}

// anyOperation are the answers any operation may give: the decoder's (400,
// 415), an unknown path or id (404), and the gateway's own.
var anyOperation = map[int]bool{http.StatusBadRequest: true, http.StatusNotFound: true, http.StatusUnsupportedMediaType: true, http.StatusRequestURITooLong: true,
	http.StatusForbidden: true, http.StatusRequestEntityTooLarge: true, http.StatusTooManyRequests: true,
	http.StatusBadGateway: true, http.StatusServiceUnavailable: true, http.StatusGatewayTimeout: true}

func (c *Contract) checkProblem(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("contract: %s %s answered %d as %q, not a problem", method, path, status, ct)
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("contract: %s %s answered %d with a broken problem: %v", method, path, status, err)
		return
	}
	if err := c.Doc.Components.Schemas["Problem"].Value.VisitJSON(v); err != nil {
		t.Errorf("contract: %s %s answered %d with a problem against the schema: %v", method, path, status, err)
	}
}

// CheckService checks an answer of a service's public API reached through
// sidecars (app, and path as the service sees it: "orders/x",
// "basket/items/y") against the contract, at the path the gateway gives it
// ("/api/ordering/orders/x", "/api/basket/items/y").
func (c *Contract) CheckService(t testing.TB, app, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	if status >= 500 {
		// A sidecar's own failure while the service is down (fault tests):
		// the gateway turns these into its 502/503/504 problems, which
		// TestNoEmptySuccessWhileServicesDie and TestThroughTheGateway check.
		return
	}
	path = strings.TrimPrefix(path, "/")
	if path == app || strings.HasPrefix(path, app+"/") {
		path = strings.TrimPrefix(strings.TrimPrefix(path, app), "/") // basket's own prefix
	}
	c.Check(t, method, strings.TrimSuffix("http://gateway/api/"+app+"/"+path, "/"), status, header, body)
}
