// Command probe is a test app for the integration harness: it subscribes to
// the topics in PROBE_TOPICS through its own sidecar and reports what it
// received at GET /received, so tests can count deliveries per app. With
// PROBE_FRAGMENT_DELAY it also stands in for a service whose fragments are
// slow: every GET /fragments/<name> answers after that delay. With
// PROBE_WORKFLOWS it hosts a workflow of no-op activities (workflows.go).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := daprapp.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
	telemetry.ServeProfiling(ctx, cfg.Listen, cfg.Profiling, log)
	var subs []daprapp.Subscription
	for _, t := range strings.Fields(strings.ReplaceAll(os.Getenv("PROBE_TOPICS"), ",", " ")) {
		subs = append(subs, daprapp.Subscription{PubsubName: "events", Topic: t, Route: "/events"})
	}
	// Received is an event and when it arrived, for latency measurements.
	type received struct {
		daprapp.Event
		At time.Time `json:"receivedAt"`
	}
	var mu sync.Mutex
	all := []received{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("GET /dapr/subscribe", daprapp.SubscribeHandler(subs))
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		var e daprapp.Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			daprapp.Answer(w, daprapp.Drop)
			return
		}
		mu.Lock()
		all = append(all, received{Event: e, At: time.Now()})
		mu.Unlock()
		daprapp.Answer(w, daprapp.Success)
	})
	if d := os.Getenv("PROBE_FRAGMENT_DELAY"); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "probe: PROBE_FRAGMENT_DELAY:", err)
			os.Exit(1)
		}
		mux.HandleFunc("GET /fragments/{name}", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<div data-boundary=%q data-fragment=%q>slow but here</div>`, cfg.AppID, r.PathValue("name"))
		})
	}
	if os.Getenv("PROBE_WORKFLOWS") != "" {
		if err := startChains(ctx, cfg, log, mux); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(1)
		}
	}
	mux.HandleFunc("GET /received", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(all)
	})
	if err := daprapp.Serve(ctx, cfg, daprapp.RequireAppToken(cfg.AppToken, "/healthz")(mux), log); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}
