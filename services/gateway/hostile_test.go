package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestHostileInputChangesNothing sends, to every operation of
// api/openapi.yaml that takes a JSON body, that body spoiled every way a
// hostile client would (each field missing, of the wrong type, a huge or
// negative number, a 1 MiB string, invalid UTF-8, given twice; an unknown
// field; no body, not JSON, not an object), and spoiled path and query
// values to every operation. Every answer must be a 4xx problem, never a
// 5xx, and afterwards the shop must be as it was: products, the user's
// basket and orders, and no account made.
func TestHostileInputChangesNothing(t *testing.T) {
	// api/openapi.yaml gives 311 hostile requests per profile (December
	// 2026); the floor sits a little below, so that the spec may lose an
	// operation or a field without a change here, but not the sweep.
	const minHostileRequests = 290
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			sys := harness.Start(t, harness.Options{Profile: profile,
				Env: map[string]string{"ORDERING_GRACE_PERIOD": "0s", "GATEWAY_RATE_PER_SECOND": "100000"}})
			base := sys.App("gateway").AppURL()
			contract := harness.LoadContract(t)
			users := harness.NewUsers(sys)
			buyer := users.Token(t, "hostile-buyer")
			admin := users.Admin(t)
			call := func(method, path, token, body string, header http.Header) (int, http.Header, []byte) {
				return fromOutside(t, base, method, path, token, body, header)
			}
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				status, _, body := call(http.MethodPut, "/api/basket/items/headlamp", buyer, `{"quantity":2}`, nil)
				assert.Equal(c, http.StatusOK, status, "%s", body)
			}, 30*time.Second, harness.Poll)
			snapshot := func() string {
				var out []string
				for _, r := range []struct{ path, token string }{
					{"/api/catalog/products?pageSize=100", ""}, {"/api/basket", buyer}, {"/api/ordering/orders", buyer},
				} {
					status, _, body := call(http.MethodGet, r.path, r.token, "", nil)
					require.Equal(t, http.StatusOK, status, "%s: %s", r.path, body)
					out = append(out, string(body))
				}
				return strings.Join(out, "\n")
			}
			before := snapshot()

			// A valid body per operation (which the sweep then spoils), who
			// sends it, and a path that names something that exists.
			valid := map[string]struct{ path, token, body string }{
				"POST /api/identity/register":       {"", "", `{"email":"hostile-new@example.com","password":"a long password 123","name":"New"}`},
				"POST /api/identity/login":          {"", "", `{"email":"nobody@example.com","password":"a long password 123"}`},
				"POST /api/catalog/products":        {"", admin, `{"name":"Hostile lamp","description":"d","category":"garden","price":{"amount":100,"currency":"EUR"},"stock":1}`},
				"PUT /api/catalog/products/{id}":    {"/api/catalog/products/headlamp", admin, `{"name":"Headlamp","description":"d","category":"outdoor","price":{"amount":100,"currency":"EUR"},"stock":1}`},
				"PUT /api/basket/items/{productId}": {"/api/basket/items/headlamp", buyer, `{"quantity":1}`},
				"POST /api/basket/checkout":         {"", buyer, `{"shippingAddress":{"name":"A","street":"B","city":"C","postalCode":"1","country":"FR"},"card":{"number":"4242424242424242","expiry":"12/39","cvc":"123"}}`},
			}
			sent, key := 0, 0
			send := func(t *testing.T, method, path, token, body, what string) {
				t.Helper()
				key++
				header := http.Header{"Idempotency-Key": {fmt.Sprintf("hostile-%08d", key)}, "If-Match": {`"1"`}}
				status, h, answer := call(method, path, token, body, header)
				sent++
				what = fmt.Sprintf("%s %.80s (%s)", method, path, what)
				if assert.True(t, status >= 400 && status < 500, "%s answered %d: %.200s", what, status, answer) {
					assert.True(t, strings.HasPrefix(h.Get("Content-Type"), "application/problem+json"), "%s answered %d as %s", what, status, h.Get("Content-Type"))
				}
				contract.Check(t, method, base+path, status, h, answer)
			}

			for _, path := range sortedPaths(contract.Doc) {
				item := contract.Doc.Paths.Value(path)
				for method, op := range item.Operations() {
					name := method + " " + path
					v, hasBody := valid[name]
					target := v.path
					if target == "" {
						target = path
					}
					if op.RequestBody != nil {
						require.True(t, hasBody, "no valid body for %s: add one to the sweep", name)
						schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
						spoiled := spoil(t, v.body, schema)
						require.NotEmpty(t, spoiled, "no spoiled bodies for %s", name)
						for what, body := range spoiled {
							send(t, method, target, v.token, body, what)
						}
					}
					// Spoiled path parameters: a name that is far too long, or
					// not text at all.
					if strings.Contains(path, "{") {
						for what, id := range map[string]string{"a 10 kB id": strings.Repeat("x", 10_000), "a 1 kB id": strings.Repeat("y", 1000), "an encoded NUL": "%00", "dots": "..%2F..%2Fsecrets"} {
							p := path[:strings.Index(path, "{")] + id + path[strings.Index(path, "}")+1:]
							send(t, method, p, v.token, v.body, what)
						}
					}
				}
			}
			for what, q := range map[string]string{
				"a page past the end of int64": "page=768614336404564652",
				"a negative page":              "page=-1",
				"a page in words":              "page=two",
				"a huge page size":             "pageSize=9223372036854775807",
				"a fractional page":            "page=1.5",
				"an unknown category":          "category=weapons",
			} {
				path := "/api/catalog/products?" + q
				status, h, answer := call(http.MethodGet, path, "", "", nil)
				sent++
				assert.True(t, status == http.StatusOK || status == http.StatusBadRequest, "GET %s (%s) answered %d: %.200s", path, what, status, answer)
				contract.Check(t, http.MethodGet, base+path, status, h, answer)
			}

			assert.Equal(t, before, snapshot(), "hostile input changed the shop")
			status, _, body := call(http.MethodPost, "/api/identity/login", "", `{"email":"hostile-new@example.com","password":"a long password 123"}`, nil)
			assert.Equal(t, http.StatusUnauthorized, status, "an account was made: %s", body)
			crashes := sys.Crashes()
			assert.Empty(t, crashes, "processes restarted")
			// A sweep that sends little proves little: one that lost its
			// operations (a spec or a spoiler that stopped yielding) must
			// fail, not pass quietly.
			assert.GreaterOrEqual(t, sent, minHostileRequests, "the sweep sent too few hostile requests")
			t.Logf("%s: %d hostile requests, every one refused with a 4xx problem", profile, sent)
		})
	}
}

func sortedPaths(doc *openapi3.T) []string {
	var out []string
	for p := range doc.Paths.Map() {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// spoil returns body spoiled every way, by what was done to it. It spoils
// the top-level fields and those of nested objects.
func spoil(t testing.TB, body string, schema *openapi3.Schema) map[string]string {
	var good map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &good))
	out := map[string]string{
		"no body":        "",
		"not JSON":       "quantity=1",
		"an array":       "[]",
		"null":           "null",
		"an extra field": withField(good, nil, "extra", "x"),
	}
	var walk func(prefix []string, obj map[string]any, schema *openapi3.Schema)
	walk = func(prefix []string, obj map[string]any, schema *openapi3.Schema) {
		for name, prop := range schema.Properties {
			path := append(slices.Clone(prefix), name)
			at := strings.Join(path, ".")
			if _, present := obj[name]; !present {
				continue
			}
			if slices.Contains(schema.Required, name) {
				out[at+" missing"] = withField(good, prefix, name, deleted{})
			}
			out[at+" as a list"] = withField(good, prefix, name, []any{1})
			out[at+" huge"] = withField(good, prefix, name, json.Number("1e400"))
			out[at+" past int64"] = withField(good, prefix, name, json.Number("9223372036854775808"))
			out[at+" negative"] = withField(good, prefix, name, -1)
			out[at+" 1 MiB"] = withField(good, prefix, name, strings.Repeat("a", 1<<20))
			if prop.Value != nil && !prop.Value.Type.Is("string") {
				out[at+" as text"] = withField(good, prefix, name, "12")
			}
			out[at+" invalid UTF-8"] = strings.Replace(withField(good, prefix, name, "UTF8HOLE"), "UTF8HOLE", "\xff\xfe", 1)
			out[at+" twice"] = strings.Replace(withField(good, prefix, name, "TWICEHOLE"), `"TWICEHOLE"`, `null,"`+name+`":`+mustJSON(t, value(good, path)), 1)
			if inner, ok := obj[name].(map[string]any); ok && prop.Value != nil {
				walk(path, inner, prop.Value)
			}
		}
	}
	walk(nil, good, schema)
	return out
}

type deleted struct{}

// withField is good with the field at prefix.name set to v (or removed).
func withField(good map[string]any, prefix []string, name string, v any) string {
	var copyOf func(map[string]any) map[string]any
	copyOf = func(m map[string]any) map[string]any {
		c := map[string]any{}
		for k, x := range m {
			if inner, ok := x.(map[string]any); ok {
				x = copyOf(inner)
			}
			c[k] = x
		}
		return c
	}
	root := copyOf(good)
	obj := root
	for _, p := range prefix {
		obj = obj[p].(map[string]any)
	}
	if _, ok := v.(deleted); ok {
		delete(obj, name)
	} else {
		obj[name] = v
	}
	b, _ := json.Marshal(root)
	return string(b)
}

func value(m map[string]any, path []string) any {
	var v any = m
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// fromOutside sends a JSON request to the gateway at base as a same-site
// browser or API client would, with token as bearer when there is one.
func fromOutside(t testing.TB, base, method, path, token, body string, header http.Header) (int, http.Header, []byte) {
	h := http.Header{"Origin": {base}, "Content-Type": {"application/json"}}
	for k, v := range header {
		h[k] = v
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return harness.Call(t, method, base+path, h, body)
}
