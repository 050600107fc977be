package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/caller"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// The admin's Traces pages: recent traces from the local Jaeger's query API
// (BAZAAR_TRACES_URL), and one trace drawn as a waterfall. They are the
// shell's, like the status page: traces cross every service. Only admins
// see them (the shell verifies the token the gateway passes, as every
// service does), since spans name orders.

// traceReader reads Jaeger's query API.
type traceReader struct {
	base   string // "" when no Jaeger runs
	client *http.Client
}

func newTraceReader(base string) *traceReader {
	return &traceReader{base: strings.TrimSuffix(base, "/"), client: &http.Client{Timeout: 5 * time.Second}}
}

// jaegerSpan and jaegerTrace are what /api/traces answers.
type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64  `json:"startTime"` // µs since the epoch
	Duration  int64  `json:"duration"`  // µs
	ProcessID string `json:"processID"`
	Tags      []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

type jaegerTrace struct {
	TraceID   string       `json:"traceID"`
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

func (t traceReader) get(ctx context.Context, path string, q url.Values) ([]jaegerTrace, error) {
	if t.base == "" {
		return nil, errNoTraces
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jaeger answered %d", resp.StatusCode)
	}
	var out struct{ Data []jaegerTrace }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	return out.Data, nil
}

var errNoTraces = httpapi.Errorf(http.StatusServiceUnavailable, "no_traces", "tracing is off: no Jaeger runs")

// traceSummary is one line of the recent traces.
type traceSummary struct {
	ID, Root, Start string
	Services        []string
	Spans, Errors   int
	Took            time.Duration
}

// recent lists the last traces that went through the gateway (requests
// from outside), or those of one order's checkout.
func (t traceReader) recent(ctx context.Context, order string) ([]traceSummary, error) {
	// Jaeger's API takes the window's start in microseconds (it ignores a
	// "lookback"; without a start it searches the last 48 hours).
	since := func(d time.Duration) string { return strconv.FormatInt(time.Now().Add(-d).UnixMicro(), 10) }
	q := url.Values{"service": {"gateway"}, "limit": {"30"}, "start": {since(time.Hour)}}
	if order != "" {
		b, _ := json.Marshal(map[string]string{"order.id": order})
		q = url.Values{"service": {"ordering"}, "tags": {string(b)}, "limit": {"5"}, "start": {since(24 * time.Hour)}}
	}
	traces, err := t.get(ctx, "/api/traces", q)
	if err != nil {
		return nil, err
	}
	out := make([]traceSummary, 0, len(traces))
	for _, tr := range traces {
		w := waterfallOf(tr)
		if len(w.Rows) == 0 {
			continue
		}
		s := traceSummary{ID: tr.TraceID, Root: w.Rows[0].Service + " " + w.Rows[0].Name, Start: w.Start.Format("15:04:05.000"),
			Spans: len(w.Rows), Took: w.Took}
		for _, r := range w.Rows {
			if !slices.Contains(s.Services, r.Service) {
				s.Services = append(s.Services, r.Service)
			}
			if r.Error {
				s.Errors++
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b traceSummary) int { return strings.Compare(b.Start, a.Start) })
	return out, nil
}

// waterfall is one trace, its spans in tree order.
type waterfall struct {
	ID    string
	Start time.Time
	Took  time.Duration
	Rows  []waterfallRow
}

type waterfallRow struct {
	Depth         int
	Service, Name string
	Offset, Took  time.Duration
	Error         bool
	// X and W place the span's bar, in percent of the trace's duration.
	X, W float64
}

func (t traceReader) trace(ctx context.Context, id string) (waterfall, error) {
	traces, err := t.get(ctx, "/api/traces/"+url.PathEscape(id), nil)
	if err != nil || len(traces) == 0 {
		return waterfall{}, err
	}
	return waterfallOf(traces[0]), nil
}

// waterfallOf orders a trace's spans parent first, children by start.
func waterfallOf(tr jaegerTrace) waterfall {
	w := waterfall{ID: tr.TraceID}
	if len(tr.Spans) == 0 {
		return w
	}
	byID := map[string]jaegerSpan{}
	children := map[string][]jaegerSpan{}
	first, last := tr.Spans[0].StartTime, tr.Spans[0].StartTime+tr.Spans[0].Duration
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
		first, last = min(first, s.StartTime), max(last, s.StartTime+s.Duration)
	}
	var roots []jaegerSpan
	for _, s := range tr.Spans {
		parent := ""
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				parent = r.SpanID
			}
		}
		if _, ok := byID[parent]; parent != "" && ok {
			children[parent] = append(children[parent], s)
		} else {
			roots = append(roots, s) // a root, or a span whose parent is not (yet) in
		}
	}
	total := max(last-first, 1)
	w.Start, w.Took = time.UnixMicro(first).UTC(), time.Duration(total)*time.Microsecond
	byStart := func(a, b jaegerSpan) int { return int(a.StartTime - b.StartTime) }
	var walk func(s jaegerSpan, depth int)
	walk = func(s jaegerSpan, depth int) {
		row := waterfallRow{Depth: min(depth, 12), Service: tr.Processes[s.ProcessID].ServiceName, Name: s.OperationName,
			Offset: time.Duration(s.StartTime-first) * time.Microsecond, Took: time.Duration(s.Duration) * time.Microsecond,
			X: 100 * float64(s.StartTime-first) / float64(total), W: max(0.3, 100*float64(s.Duration)/float64(total))}
		for _, tag := range s.Tags {
			if tag.Key == "error" && tag.Value == true || tag.Key == "otel.status_code" && tag.Value == "ERROR" {
				row.Error = true
			}
		}
		w.Rows = append(w.Rows, row)
		kids := children[s.SpanID]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	slices.SortFunc(roots, byStart)
	for _, r := range roots {
		walk(r, 0)
	}
	return w
}

var traceIDRE = regexp.MustCompile(`^[0-9a-f]{16,32}$`)

// admin answers a 401 or 403 unless the request carries an admin's token.
func (s *Shell) admin(r *http.Request) error {
	if s.verifier == nil {
		return httpapi.Errorf(http.StatusForbidden, "admin_only", "only an admin may do this")
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return httpapi.Errorf(http.StatusUnauthorized, "sign_in_required", "sign in first")
	}
	c, err := s.verifier.Verify(r.Context(), token)
	if err != nil {
		return httpapi.Errorf(http.StatusUnauthorized, "invalid_token", "sign in again")
	}
	return caller.RequireAdmin(r.WithContext(caller.WithClaims(r.Context(), c)))
}

// adminPage draws main for admins, and sends anyone else to sign in or
// tells them it is not for them.
func (s *Shell) adminPage(title string, main func(r *http.Request) (templ.Component, int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.admin(r); err != nil {
			var e *httpapi.Error
			if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
				http.Redirect(w, r, "/sign-in?return="+url.QueryEscape(withoutBoundaries(r)), http.StatusSeeOther)
				return
			}
			s.write(w, r, http.StatusForbidden, pageMeta{Title: "Not for you"}, s.composer.Fill(r, chrome(r)),
				errorView(http.StatusForbidden, "Not for you", "This page is for the shop's admins."))
			return
		}
		c, status := main(r)
		s.write(w, r, status, pageMeta{Title: title}, s.composer.Fill(r, chrome(r)), func(View) templ.Component { return c })
	})
}

func (s *Shell) tracesPage() http.Handler {
	return s.adminPage("Traces", func(r *http.Request) (templ.Component, int) {
		order := r.URL.Query().Get("order")
		if len(order) > 64 {
			order = order[:64]
		}
		list, err := s.traces.recent(r.Context(), order)
		if err != nil {
			s.log.WarnContext(r.Context(), "traces", "err", err)
			return tracesMain(nil, order, "Traces cannot be read right now: is tracing on (compose.yaml) and Jaeger running?"), http.StatusServiceUnavailable
		}
		if order != "" && len(list) == 1 {
			w, err := s.traces.trace(r.Context(), list[0].ID)
			if err == nil && len(w.Rows) > 0 {
				return traceMain(w, order), http.StatusOK
			}
		}
		return tracesMain(list, order, ""), http.StatusOK
	})
}

func (s *Shell) tracePage() http.Handler {
	return s.adminPage("Trace", func(r *http.Request) (templ.Component, int) {
		id := mux.Vars(r)["id"]
		if !traceIDRE.MatchString(id) {
			return errorMain(http.StatusNotFound, "No such trace", "A trace id is 32 hexadecimal digits."), http.StatusNotFound
		}
		w, err := s.traces.trace(r.Context(), id)
		if err != nil {
			s.log.WarnContext(r.Context(), "trace", "err", err)
			return tracesMain(nil, "", "Traces cannot be read right now: is tracing on (compose.yaml) and Jaeger running?"), http.StatusServiceUnavailable
		}
		if len(w.Rows) == 0 {
			return errorMain(http.StatusNotFound, "No such trace", "Jaeger keeps traces in memory: it may be gone."), http.StatusNotFound
		}
		return traceMain(w, ""), http.StatusOK
	})
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func pct(f float64) string { return fmt.Sprintf("%.2f", f) }
