package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

// jaegerTrace is a trace as Jaeger's query API (/api/traces) gives it.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		StartTime int64  `json:"startTime"` // µs
		Duration  int64  `json:"duration"`  // µs
		ProcessID string `json:"processID"`
		Tags      []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"processes"`
}

// span describes a span of a trace: its service, whether the app made it
// (or its sidecar), and its parent.
type span struct {
	id, parent, service, name string
	ours                      bool
	start, end                int64
}

func (tr jaegerTrace) spans() map[string]span {
	out := map[string]span{}
	for _, s := range tr.Spans {
		sp := span{id: s.SpanID, service: tr.Processes[s.ProcessID].ServiceName, name: s.OperationName,
			start: s.StartTime, end: s.StartTime + s.Duration}
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				sp.parent = r.SpanID
			}
		}
		for _, t := range tr.Processes[s.ProcessID].Tags {
			if t.Key == string(telemetry.Component.Key) && t.Value == telemetry.Component.Value.AsString() {
				sp.ours = true
			}
		}
		out[sp.id] = sp
	}
	return out
}

// ancestors lists the spans above id, nearest first.
func ancestors(all map[string]span, id string) []span {
	var out []span
	for p := all[id].parent; p != ""; p = all[p].parent {
		s, ok := all[p]
		if !ok {
			break
		}
		out = append(out, s)
	}
	return out
}

// findTraces asks Jaeger for the traces of service with an operation and
// tags, until there is one (spans are exported in batches).
func findTraces(t *testing.T, traces, service, operation string, tags map[string]string) []jaegerTrace {
	t.Helper()
	q := url.Values{"service": {service}, "operation": {operation}, "limit": {"20"}}
	if len(tags) > 0 {
		b, _ := json.Marshal(tags)
		q.Set("tags", string(b))
	}
	var found []jaegerTrace
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := harness.Call(t, http.MethodGet, traces+"/api/traces?"+q.Encode(), nil, "")
		require.Equal(c, http.StatusOK, status, "jaeger: %s", body)
		var out struct{ Data []jaegerTrace }
		require.NoError(c, json.Unmarshal(body, &out))
		require.NotEmpty(c, out.Data, "no trace of %s %q with %v yet", service, operation, tags)
		found = out.Data
	}, 30*time.Second, harness.Poll)
	return found
}

// TestTracesAndMetrics places an order and loads a page with Jaeger and
// Prometheus running, and reads back what they recorded.
func TestTracesAndMetrics(t *testing.T) {
	sys := harness.Start(t, harness.Options{Profile: "embedded", Tracing: true, Metrics: true,
		// Every page view traced, for the page's trace below (the sampling
		// decision itself: internal/telemetry's tests).
		Env: map[string]string{"ORDERING_GRACE_PERIOD": "0s", "TRACE_PAGES_PER_SECOND": "1000000"}})
	require.NotEmpty(t, sys.TracesURL)
	base := sys.App("gateway").AppURL()
	users := harness.NewUsers(sys)
	token := users.Token(t, "traced-customer")
	call := func(method, path, body string, extra ...string) (int, []byte) {
		h := http.Header{"Authorization": {"Bearer " + token}, "Origin": {base}, "Content-Type": {"application/json"}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		status, _, answer := harness.Call(t, method, base+path, h, body)
		return status, answer
	}

	t.Run("a checkout is one trace through every service", func(t *testing.T) {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			status, body := call(http.MethodPut, "/api/basket/items/headlamp", `{"quantity":1}`)
			assert.Equal(c, http.StatusOK, status, "%s", body)
		}, 30*time.Second, harness.Poll)
		status, body := call(http.MethodPost, "/api/basket/checkout",
			`{"shippingAddress":{"name":"Tracy","street":"1 Span St","city":"Lyon","postalCode":"69001","country":"FR"},"card":{"number":"4242424242424242","expiry":"12/39","cvc":"123"}}`,
			"Idempotency-Key", "traced-checkout-1")
		require.Equal(t, http.StatusAccepted, status, "%s", body)
		var placed struct{ OrderID string }
		require.NoError(t, json.Unmarshal(body, &placed))
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			_, body := call(http.MethodGet, "/api/ordering/orders/"+placed.OrderID, "")
			assert.Contains(c, string(body), `"status":"paid"`)
		}, 30*time.Second, harness.Poll)

		tr := findTraces(t, sys.TracesURL, "ordering", "saga take-payment", map[string]string{"order.id": placed.OrderID})[0]
		// The rest of the trace arrives in the exporters' next batches.
		var all map[string]span
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			all = trace(t, sys.TracesURL, tr.TraceID)
			for _, service := range []string{"gateway", "basket", "ordering", "catalog", "payment"} {
				var app, sidecar bool
				for _, s := range all {
					if s.service == service {
						app, sidecar = app || s.ours, sidecar || !s.ours
					}
				}
				assert.True(c, app && sidecar, "%s: spans of the app %v, of the sidecar %v", service, app, sidecar)
			}
		}, 30*time.Second, harness.Poll)
		var root, reserve, payment span
		for _, s := range all {
			switch {
			case s.parent == "":
				root = s
			case s.name == "saga reserve-stock":
				reserve = s
			case s.name == "saga take-payment":
				payment = s
			}
		}
		assert.Equal(t, "gateway", root.service, "the trace starts at the gateway")
		assert.Equal(t, "POST /api/basket", root.name)
		for _, step := range []span{reserve, payment} {
			require.NotEmpty(t, step.id)
			chain := ancestors(all, step.id)
			require.NotEmpty(t, chain)
			assert.Equal(t, root.id, chain[len(chain)-1].id, "%s descends from the customer's request", step.name)
			assert.True(t, slices.ContainsFunc(chain, func(s span) bool { return s.service == "basket" && s.ours }),
				"%s descends from basket's checkout", step.name)
		}
		// Catalog's and payment's apps answered within their steps.
		for service, step := range map[string]span{"catalog": reserve, "payment": payment} {
			assert.True(t, slices.ContainsFunc(mapsValues(all), func(s span) bool {
				return s.service == service && s.ours && slices.ContainsFunc(ancestors(all, s.id), func(a span) bool { return a.id == step.id })
			}), "%s's app span is below %s", service, step.name)
		}
		t.Logf("checkout trace %s: %d spans", tr.TraceID, len(all))
	})

	t.Run("a page's slots are parallel children", func(t *testing.T) {
		status, _, body := harness.Call(t, http.MethodGet, base+"/", nil, "")
		require.Equal(t, http.StatusOK, status, "%s", body)
		id := findTraces(t, sys.TracesURL, "shell", "slot catalog/product-grid", nil)[0].TraceID
		var slots []span
		var all map[string]span
		// The gateway's and the sidecars' spans arrive in their next batches.
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			all, slots = trace(t, sys.TracesURL, id), nil
			for _, s := range all {
				if strings.HasPrefix(s.name, "slot ") {
					slots = append(slots, s)
				}
			}
			require.GreaterOrEqual(c, len(slots), 3, "slots")
			chain := ancestors(all, slots[0].id)
			assert.True(c, len(chain) > 0 && chain[len(chain)-1].service == "gateway" && chain[len(chain)-1].parent == "",
				"the page's trace does not reach the gateway yet")
		}, 30*time.Second, harness.Poll)
		latestStart, earliestEnd := slots[0].start, slots[0].end
		for _, s := range slots {
			assert.Equal(t, slots[0].parent, s.parent, "%s shares the page's parent", s.name)
			assert.True(t, all[s.id].ours, "%s is the shell's", s.name)
			latestStart, earliestEnd = max(latestStart, s.start), min(earliestEnd, s.end)
		}
		assert.Less(t, latestStart, earliestEnd, "the slots were fetched at the same time")
		t.Logf("page trace %s: %d slots in parallel", id, len(slots))
	})

	t.Run("Prometheus scrapes every app and sidecar", func(t *testing.T) {
		require.NotEmpty(t, sys.MetricsURL)
		want := len(sys.Apps) * 2
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			status, _, body := harness.Call(t, http.MethodGet, sys.MetricsURL+"/api/v1/query?query=up", nil, "")
			require.Equal(c, http.StatusOK, status, "%s", body)
			var out struct {
				Data struct {
					Result []struct {
						Metric map[string]string `json:"metric"`
						Value  []any             `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			require.NoError(c, json.Unmarshal(body, &out))
			up := 0
			var down []string
			for _, r := range out.Data.Result {
				if len(r.Value) == 2 && r.Value[1] == "1" {
					up++
				} else {
					down = append(down, r.Metric["job"]+"/"+r.Metric["replica"])
				}
			}
			assert.Equal(c, want, up, "targets up (down: %v)", down)
		}, 30*time.Second, harness.Poll)
		// The status page shows each service's live figures from Prometheus
		// (a rate needs two scrapes).
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			_, _, body := harness.Call(t, http.MethodGet, base+"/status", nil, "")
			row := string(body)
			if i := strings.Index(row, ">gateway<"); i >= 0 {
				row = row[i:min(len(row), i+600)]
			}
			assert.True(c, strings.Contains(row, "/s</td>") && strings.Contains(row, " ms</td>"), "no live figures for the gateway yet: %s", row)
		}, 45*time.Second, harness.Poll)
		// The apps' own metrics are there: requests per route, saga steps.
		for _, q := range []string{`bazaar_http_request_duration_seconds_count{service="gateway"}`, `bazaar_saga_step_duration_seconds_count`, `bazaar_orders_total{status="paid"}`} {
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				_, _, body := harness.Call(t, http.MethodGet, sys.MetricsURL+"/api/v1/query?query="+url.QueryEscape(q), nil, "")
				assert.Contains(c, string(body), `"result":[{`, "%s", q)
			}, 30*time.Second, harness.Poll)
		}
	})
}

// trace reads one trace's spans from Jaeger.
func trace(t *testing.T, traces, id string) map[string]span {
	t.Helper()
	status, _, body := harness.Call(t, http.MethodGet, traces+"/api/traces/"+id, nil, "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var out struct{ Data []jaegerTrace }
	require.NoError(t, json.Unmarshal(body, &out))
	require.Len(t, out.Data, 1)
	return out.Data[0].spans()
}

func mapsValues(m map[string]span) []span {
	out := make([]span, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	return out
}
