package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bazaar-shop/bazaar/internal/contracts"

	"github.com/a-h/templ"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// statusServices are the apps the status page asks, in its order.
var statusServices = []string{"gateway", "identity", "catalog", "basket", "ordering", "payment"}

type statusRow struct {
	Service, Version, Took string
	Up                     bool
}

// statusChecker asks each service for healthz through the sidecars, and
// the shell's own sidecar for the Dapr runtime's version.
type statusChecker struct {
	invoke   contracts.Invoker
	metadata string // the shell's sidecar's metadata URL
	apiToken string
}

func newStatusChecker(cfg daprapp.Config, invoke contracts.Invoker) *statusChecker {
	return &statusChecker{invoke: invoke, metadata: fmt.Sprintf("http://127.0.0.1:%d/v1.0/metadata", cfg.DaprHTTP), apiToken: cfg.APIToken}
}

func (c *statusChecker) check(ctx context.Context) ([]statusRow, string) {
	rows := make([]statusRow, len(statusServices))
	var wg sync.WaitGroup
	for i, name := range statusServices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[i] = c.one(ctx, name)
		}()
	}
	runtime := c.runtimeVersion(ctx)
	wg.Wait()
	return rows, runtime
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
		var runtime string
		var filled map[string]Filled
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows, runtime = s.status.check(r.Context())
		}()
		filled = s.composer.Fill(r, chrome(r))
		wg.Wait()
		status := http.StatusOK
		for _, row := range rows {
			if !row.Up {
				status = http.StatusServiceUnavailable
			}
		}
		s.write(w, r, status, "System status", filled, func(View) templ.Component { return statusMain(rows, runtime) })
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
