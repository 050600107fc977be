package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bazaar-shop/bazaar/internal/contracts"

	"github.com/a-h/templ"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

type statusRow struct {
	Service, Version, Took string
	Up                     bool
	// Replicas are the app's sidecars that Dapr's name resolution lists.
	Replicas []replicaRow
	// Live figures from Prometheus over the last minute ("—" without it).
	Rate, P99, Errors string
}

// replicaRow is one replica: its sidecar's address and how long ago it
// last told the name resolution that it lives.
type replicaRow struct{ Address, Renewed string }

// statusChecker lists the apps that run and their replicas (roster), asks
// each app for healthz through the sidecars, the shell's own sidecar for
// the Dapr runtime's version, and Prometheus (when one runs) for each
// app's live figures.
type statusChecker struct {
	invoke     contracts.Invoker
	roster     roster
	metadata   string // the shell's sidecar's metadata URL
	apiToken   string
	prometheus string // its base URL, or ""
}

func newStatusChecker(cfg daprapp.Config, invoke contracts.Invoker, running roster, prometheus string) *statusChecker {
	return &statusChecker{invoke: invoke, roster: running, metadata: fmt.Sprintf("http://127.0.0.1:%d/v1.0/metadata", cfg.DaprHTTP), apiToken: cfg.APIToken,
		prometheus: strings.TrimSuffix(prometheus, "/")}
}

// check answers a row per app that runs, in app id order, and the Dapr
// runtime's version; problem says why the apps could not be listed.
func (c *statusChecker) check(ctx context.Context) (rows []statusRow, runtime, problem string) {
	replicas, err := c.roster(ctx)
	if err != nil {
		problem = "Which apps run is unknown: " + err.Error()
	}
	now := time.Now()
	for _, r := range replicas {
		if len(rows) == 0 || rows[len(rows)-1].Service != r.AppID {
			rows = append(rows, statusRow{Service: r.AppID})
		}
		ago := max(0, now.Sub(r.Renewed).Round(time.Second))
		last := &rows[len(rows)-1]
		last.Replicas = append(last.Replicas, replicaRow{Address: r.Address, Renewed: ago.String() + " ago"})
	}
	var wg sync.WaitGroup
	for i := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicas := rows[i].Replicas
			rows[i] = c.one(ctx, rows[i].Service)
			rows[i].Replicas = replicas
		}()
	}
	var figures map[string]map[string]float64
	wg.Add(1)
	go func() {
		defer wg.Done()
		figures = c.figures(ctx)
	}()
	runtime = c.runtimeVersion(ctx)
	wg.Wait()
	for i := range rows {
		f := func(what, format string, scale float64) string {
			v, ok := figures[what][rows[i].Service]
			if !ok {
				return "—"
			}
			return fmt.Sprintf(format, v*scale)
		}
		rows[i].Rate, rows[i].P99, rows[i].Errors = f("rate", "%.2f/s", 1), f("p99", "%.1f ms", 1000), f("errors", "%.2f/s", 1)
	}
	return rows, runtime, problem
}

// liveQueries are the status page's figures per service, over the last
// minute: requests a second, the 99th percentile, failures (5xx) a second.
var liveQueries = map[string]string{
	"rate":   `sum by (service) (rate(bazaar_http_request_duration_seconds_count[1m]))`,
	"p99":    `histogram_quantile(0.99, sum by (service, le) (rate(bazaar_http_request_duration_seconds_bucket[1m])))`,
	"errors": `sum by (service) (rate(bazaar_http_request_duration_seconds_count{code=~"5..|Internal|Unavailable|Unknown"}[1m]))`,
}

// figures asks Prometheus for liveQueries: figure → service → value. It
// answers nothing when no Prometheus runs or it fails.
func (c *statusChecker) figures(ctx context.Context) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	if c.prometheus == "" {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for what, q := range liveQueries {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.prometheus+"/api/v1/query?query="+url.QueryEscape(q), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return out
		}
		var answer struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer)
		resp.Body.Close()
		if err != nil {
			continue
		}
		out[what] = map[string]float64{}
		for _, r := range answer.Data.Result {
			text, _ := r.Value[1].(string)
			if v, err := strconv.ParseFloat(text, 64); err == nil && !math.IsNaN(v) {
				out[what][r.Metric["service"]] = v
			}
		}
	}
	return out
}

func (c *statusChecker) one(ctx context.Context, name string) statusRow {
	row := statusRow{Service: name, Version: "—", Took: "—"}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil)
	resp, err := c.invoke.Do(ctx, name, req)
	if err != nil {
		return row
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode != http.StatusOK {
		return row
	}
	row.Up, row.Took = true, strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', 1, 64)+" ms"
	if v, ok := strings.CutPrefix(strings.TrimSpace(string(body)), "ok "); ok {
		row.Version = v
	}
	return row
}

func (c *statusChecker) runtimeVersion(ctx context.Context) string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.metadata, nil)
	req.Header.Set("dapr-api-token", c.apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "unknown"
	}
	defer resp.Body.Close()
	var m struct {
		RuntimeVersion string `json:"runtimeVersion"`
	}
	if json.NewDecoder(resp.Body).Decode(&m) != nil || m.RuntimeVersion == "" {
		return "unknown"
	}
	return m.RuntimeVersion
}

func (s *Shell) statusPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rows []statusRow
		var runtime, problem string
		var filled map[string]Filled
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows, runtime, problem = s.status.check(r.Context())
		}()
		filled = s.composer.Fill(r, chrome(r))
		wg.Wait()
		status := http.StatusOK
		if problem != "" || len(rows) == 0 {
			status = http.StatusServiceUnavailable
		}
		for _, row := range rows {
			if !row.Up {
				status = http.StatusServiceUnavailable
			}
		}
		s.write(w, r, status, pageMeta{Title: "System status", Description: "Whether each of Bazaar's services is up, with its version and live figures."}, filled, func(View) templ.Component { return statusMain(rows, runtime, problem) })
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
