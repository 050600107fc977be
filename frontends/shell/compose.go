package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

// Slot is one place on a page that a service's fragment fills.
type Slot struct {
	Service, Fragment string
	// Params are the fragment's parameters for this request.
	Params func(r *http.Request) url.Values
	// Timeout is the slot's deadline: the page never waits longer for it.
	Timeout time.Duration
	// Personal slots show something of the user's: only they get the
	// user's token and the service's cookies. The others are the same for
	// everyone, so the shell may share their answers (least privilege, and
	// a signed-in page reuses what anonymous pages fetched).
	Personal bool
	// Required slots make the page: if one fails, the page is an error
	// page with a status that says why. An optional slot that fails or is
	// late shows Fallback (nothing if nil) and the page still answers 200.
	Required bool
	Fallback templ.Component
}

// Filled is what came of one slot.
type Filled struct {
	Slot
	HTML   string
	Status int // the fragment's status; 0 when it did not answer
	// Location is where a form post sent the browser (303).
	Location string
	Err      error
	Elapsed  time.Duration
	Styles   []string // stylesheet URLs from the fragment's Link header
	Cookies  []string // Set-Cookie values of the fragment's own cookies

	cacheControl string // the fragment's Cache-Control
	// shared: the same for everyone and fresh (a public answer, from the
	// cache or just asked); a page made only of those may be shared too.
	shared bool
}

// OK reports whether the fragment answered with something to show.
func (f Filled) OK() bool { return f.Err == nil && f.Status < 300 }

// Component is the slot's content: the fragment, else its fallback.
func (f Filled) Component() templ.Component {
	if f.OK() || f.Status == http.StatusUnprocessableEntity {
		return templ.Raw(f.HTML)
	}
	if f.Fallback != nil {
		return f.Fallback
	}
	return templ.NopComponent
}

// Composer fetches a page's slots in parallel, each within its deadline.
type Composer struct {
	invoke contracts.Invoker
	cache  *fragmentCache
}

// contextHeaders is the request context a fragment may see: trace context,
// language, the request id and the client's address. A personal slot (and
// every form post) also gets the verified token, which the gateway puts in
// Authorization. Nothing else of the browser's request reaches a fragment.
var contextHeaders = []string{"Traceparent", "Tracestate", "Accept-Language", "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto"}

// ownCookies returns the request's cookies that belong to service: each
// service sees only cookies named "<service>_...".
func ownCookies(r *http.Request, service string) string {
	var out []string
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, service+"_") {
			out = append(out, c.Name+"="+c.Value)
		}
	}
	return strings.Join(out, "; ")
}

// Fill fetches every slot at once and returns when each has answered or
// reached its deadline.
func (c *Composer) Fill(r *http.Request, slots map[string]Slot) map[string]Filled {
	out := make(map[string]Filled, len(slots))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := c.fetch(r, s, http.MethodGet, nil)
			mu.Lock()
			out[name] = f
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// fetch asks one fragment; body is a form post relayed to it (no deadline
// but the request's own: a write must not be cut off half way).
func (c *Composer) fetch(r *http.Request, s Slot, method string, body url.Values) (f Filled) {
	start := time.Now()
	// One span per slot: the page's trace shows them side by side, each
	// with its deadline and whether the cache answered.
	ctx, span := telemetry.Tracer().Start(r.Context(), "slot "+s.Service+"/"+s.Fragment, trace.WithAttributes(
		attribute.String("slot.deadline", s.Timeout.String()), attribute.Bool("slot.personal", s.Personal)))
	r = r.WithContext(ctx)
	cache := "none" // not shareable
	defer func() {
		span.SetAttributes(attribute.String("slot.cache", cache), attribute.Int("http.response.status_code", f.Status))
		if f.Err != nil {
			span.SetStatus(codes.Error, f.Err.Error())
		}
		span.End()
	}()
	query := url.Values{}
	if s.Params != nil {
		query = s.Params(r)
	}
	target := "/fragments/" + s.Fragment
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	// A form post acts for the user, so it always carries who they are.
	personal := s.Personal || method != http.MethodGet
	token, cookies := "", ""
	if personal {
		token, cookies = r.Header.Get("Authorization"), ownCookies(r, s.Service)
	}
	shared := method == http.MethodGet && token == "" && cookies == ""
	key := s.Service + " " + target + " " + r.Header.Get("Accept-Language")
	var stale *cacheEntry
	if shared {
		cache = "miss"
		if e, ok, fresh := c.cache.get(key); fresh {
			cache = "hit"
			return Filled{Slot: s, HTML: e.html, Status: http.StatusOK, Styles: e.styles, Elapsed: time.Since(start), shared: true}
		} else if ok {
			stale = &e
		}
	}
	f = c.ask(r, s, method, target, token, cookies, body)
	f.Elapsed = time.Since(start)
	switch {
	case shared && f.OK():
		if ttl, staleFor := sharedFor(f.cacheControl); ttl > 0 {
			c.cache.put(key, f.HTML, f.Styles, ttl, staleFor)
			f.shared = len(f.Cookies) == 0
		}
	case stale != nil && (f.Err != nil && f.Status == 0 || f.Status >= 500):
		// The service fails: show what it said last, while it may stand.
		f.HTML, f.Status, f.Styles, f.Err = stale.html, http.StatusOK, stale.styles, nil
		cache = "stale"
	}
	return f
}

// ask sends one request for the slot's fragment, with the request context
// the slot may see, within its deadline (a GET's).
func (c *Composer) ask(r *http.Request, s Slot, method, target, token, cookies string, body url.Values) Filled {
	f := Filled{Slot: s}
	ctx, cancel := r.Context(), context.CancelFunc(func() {})
	if method == http.MethodGet {
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
	}
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		f.Err = err
		return f
	}
	for _, h := range contextHeaders {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.invoke.Do(ctx, s.Service, req)
	if err != nil {
		f.Err = err
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			f.Err = fmt.Errorf("%s/%s: no answer within %s", s.Service, s.Fragment, s.Timeout)
		}
		return f
	}
	defer resp.Body.Close()
	html, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	f.HTML, f.Status, f.Err = string(html), resp.StatusCode, err
	f.Location = resp.Header.Get("Location")
	f.Styles = stylesheets(resp.Header.Values("Link"), s.Service)
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, s.Service+"_") {
			f.Cookies = append(f.Cookies, sc)
		}
	}
	if f.Status >= 300 && f.Status != http.StatusSeeOther && f.Err == nil {
		f.Err = fmt.Errorf("%s/%s answered %d", s.Service, s.Fragment, f.Status)
	}
	f.cacheControl = resp.Header.Get("Cache-Control")
	return f
}

var linkRE = regexp.MustCompile(`<([^>]+)>;\s*rel="?stylesheet"?`)

// stylesheets reads the stylesheet URLs of a Link header; a service may
// only name its own assets.
func stylesheets(links []string, service string) []string {
	var out []string
	for _, l := range links {
		for _, m := range linkRE.FindAllStringSubmatch(l, -1) {
			if strings.HasPrefix(m[1], "/static/"+service+"/") {
				out = append(out, m[1])
			}
		}
	}
	return out
}
