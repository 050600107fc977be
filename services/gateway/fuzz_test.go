package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// FuzzHostileInput is the hostile sweep (TestHostileInputChangesNothing)
// handed to the fuzzer: it sends generated bodies to every operation of
// api/openapi.yaml that takes one, and generated query strings to the
// product listing, through the gateway of a real system (embedded
// profile). No answer may be a 5xx; every 4xx is a problem the contract
// declares, and leaves the shop as it was. A body the fuzzer makes valid
// may change the shop: the next input is then compared with the shop once
// it has settled.
//
// The seeds are the sweep's own spoiled bodies. `make fuzz` runs it with
// one worker (each worker process starts its own system).
func FuzzHostileInput(f *testing.F) {
	sys := harness.Start(f, harness.Options{Profile: "embedded",
		Env: map[string]string{"ORDERING_GRACE_PERIOD": "0s", "GATEWAY_RATE_PER_SECOND": "100000"}})
	base := sys.App("gateway").AppURL()
	contract := harness.LoadContract(f)
	users := harness.NewUsers(sys)
	buyer := users.Token(f, "fuzz-buyer")
	admin := users.Admin(f)
	call := func(t testing.TB, method, path, token, body string, header http.Header) (int, http.Header, []byte) {
		return fromOutside(t, base, method, path, token, body, header)
	}
	require.EventuallyWithT(f, func(c *assert.CollectT) {
		status, _, body := call(f, http.MethodPut, "/api/basket/items/headlamp", buyer, `{"quantity":2}`, nil)
		assert.Equal(c, http.StatusOK, status, "%s", body)
	}, 30*time.Second, harness.Poll)
	snapshot := func(t testing.TB) string {
		var out []string
		for _, r := range []struct{ path, token string }{
			{"/api/catalog/products?pageSize=100", ""}, {"/api/basket", buyer}, {"/api/ordering/orders", buyer},
		} {
			status, _, body := call(t, http.MethodGet, r.path, r.token, "", nil)
			require.Equal(t, http.StatusOK, status, "%s: %s", r.path, body)
			out = append(out, string(body))
		}
		return strings.Join(out, "\n")
	}
	// settled is the shop once nothing changes any more (a checkout's saga
	// and its events run on after the answer).
	settled := func(t testing.TB) string {
		last := snapshot(t)
		for range 40 {
			time.Sleep(250 * time.Millisecond)
			now := snapshot(t)
			if now == last {
				return now
			}
			last = now
		}
		t.Fatalf("the shop never settled")
		return ""
	}

	type operation struct{ method, path, token, valid string }
	ops := []operation{
		{http.MethodPost, "/api/identity/register", "", `{"email":"fuzz-new@example.com","password":"a long password 123","name":"New"}`},
		{http.MethodPost, "/api/identity/login", "", `{"email":"nobody@example.com","password":"a long password 123"}`},
		{http.MethodPost, "/api/catalog/products", admin, `{"name":"Fuzz lamp","description":"d","category":"garden","price":{"amount":100,"currency":"EUR"},"stock":1}`},
		{http.MethodPut, "/api/catalog/products/headlamp", admin, `{"name":"Headlamp","description":"d","category":"outdoor","price":{"amount":100,"currency":"EUR"},"stock":1}`},
		{http.MethodPut, "/api/basket/items/headlamp", buyer, `{"quantity":1}`},
		{http.MethodPost, "/api/basket/checkout", buyer, `{"shippingAddress":{"name":"A","street":"B","city":"C","postalCode":"1","country":"FR"},"card":{"number":"4242424242424242","expiry":"12/39","cvc":"123"}}`},
		{http.MethodGet, "/api/catalog/products?", "", "page=2&pageSize=5&category=garden"}, // the input is the query
	}
	// Every operation that takes a body is in ops: the contract says which.
	for _, path := range sortedPaths(contract.Doc) {
		for method, op := range contract.Doc.Paths.Value(path).Operations() {
			if op.RequestBody != nil {
				require.True(f, slices.ContainsFunc(ops, func(o operation) bool { return o.method == method && matches(path, o.path) }),
					"FuzzHostileInput sends nothing to %s %s: add it to ops", method, path)
			}
		}
	}
	for i, o := range ops {
		f.Add(uint8(i), o.valid)
		if o.method == http.MethodGet {
			for _, q := range []string{"page=768614336404564652", "pageSize=-1", "category=weapons", "q=%ff%fe", "page=1.5"} {
				f.Add(uint8(i), q)
			}
			continue
		}
		for _, body := range spoil(f, o.valid, schemaOf(f, contract, o.method, o.path)) {
			f.Add(uint8(i), body)
		}
	}

	key := 0
	before := settled(f)
	f.Fuzz(func(t *testing.T, which uint8, input string) {
		o := ops[int(which)%len(ops)]
		key++
		header := http.Header{"Idempotency-Key": {fmt.Sprintf("fuzz-%d-%08d", time.Now().UnixNano(), key)}, "If-Match": {`"1"`}}
		path, body := o.path, input
		if o.method == http.MethodGet {
			// What can be sent of it: parsed as far as it goes, encoded.
			q, _ := url.ParseQuery(input)
			path, body = o.path+q.Encode(), ""
		}
		status, h, answer := call(t, o.method, path, o.token, body, header)
		what := fmt.Sprintf("%s %.80s with %.120q", o.method, path, body)
		if status >= 500 {
			t.Fatalf("%s answered %d: %.200s", what, status, answer)
		}
		contract.Check(t, o.method, base+path, status, h, answer)
		if status >= 400 {
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("%s answered %d as %s", what, status, ct)
			}
			if after := snapshot(t); after != before {
				t.Fatalf("%s answered %d but changed the shop:\nbefore %s\nafter  %s", what, status, before, after)
			}
			return
		}
		before = settled(t)
	})
}

// matches reports whether target is a request path for the contract's path
// template (one {parameter} per segment).
func matches(template, target string) bool {
	a, b := strings.Split(template, "/"), strings.Split(strings.SplitN(target, "?", 2)[0], "/")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !strings.HasPrefix(a[i], "{") {
			return false
		}
	}
	return true
}

// schemaOf is the JSON schema of the request body of the operation that
// method and target (a request path) reach.
func schemaOf(t testing.TB, contract *harness.Contract, method, target string) *openapi3.Schema {
	for _, path := range sortedPaths(contract.Doc) {
		if op := contract.Doc.Paths.Value(path).GetOperation(method); op != nil && op.RequestBody != nil && matches(path, target) {
			return op.RequestBody.Value.Content.Get("application/json").Schema.Value
		}
	}
	t.Fatalf("the contract has no body for %s %s", method, target)
	return nil
}
