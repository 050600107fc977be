package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/harness"
)

// browser drives one tab of Debian's Chromium (headless) through the shop,
// keeping what the page logged as an error and a screenshot of each step.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	step int

	scriptsOff bool

	mu       sync.Mutex
	errors   []string
	expected []string // errors the test causes on purpose
}

// chromium starts a headless Chromium for the test; the Makefile installs
// Debian's package when it is missing.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("browser tests need Debian's chromium (make deps installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		// The machine has no network: keep Chromium from trying.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-gpu", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now: each journey opens its own browser context in it.
	require.NoError(t, chromedp.Do(ctx))
	return ctx
}

// newBrowser opens a tab on the shop at base, in a browser context of its
// own (its own cookies, like a separate visitor); with javascript false the
// tab runs no script at all.
func newBrowser(t *testing.T, browserCtx context.Context, base, name string, javascript bool) *browser {
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	dir := filepath.Join(harness.Root(), "test-output", "browser", name)
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	b := &browser{t: t, ctx: ctx, base: base, dir: dir, scriptsOff: !javascript}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				msg = "console.error: " + strings.Join(parts, " ")
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			// Failed loads, CSP violations and the like.
			if ev.Entry.Level == cdplog.EntryLevelError {
				msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	}))
	_, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	require.NoError(t, err)
	if !javascript {
		_, err = chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		require.NoError(t, err)
	}
	return b
}

// register fills in and sends the registration form.
func register(name, email, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(css("#identity-register-name"), name),
		chromedp.SetValue(css("#identity-register-email"), email),
		chromedp.SetValue(css("#identity-register-password"), password),
		chromedp.Click(css(".identity-form__submit")))
}

// fillCheckout fills the checkout form's address and card.
func fillCheckout(street, postalCode, city, country, card, expiry string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(css("#ordering-street"), street),
		chromedp.SetValue(css("#ordering-postalCode"), postalCode),
		chromedp.SetValue(css("#ordering-city"), city),
		chromedp.SetValue(css("#ordering-country"), country),
		chromedp.SetValue(css("#ordering-cardNumber"), card),
		chromedp.SetValue(css("#ordering-cardExpiry"), expiry),
		chromedp.SetValue(css("#ordering-cardCvc"), "123"))
}

// follow clicks sel and waits for the page it leads to (a form post and
// its redirect) to load: a mark left on the old page's window is gone.
// Evaluating during the navigation fails; that only means "not yet".
func follow(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](`window.bazaarOldPage = true`),
		chromedp.Click(css(sel)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			for {
				loaded, err := chromedp.Evaluate[bool](`!window.bazaarOldPage && document.readyState === "complete"`)(ctx, t)
				if err == nil && loaded {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(50 * time.Millisecond):
				}
			}
		}))
}

// axeSource is axe-core (npm axe-core 4.14.1, MPL-2.0), the accessibility
// checker, run on the pages as a test (it is not served by the shop).
//
//go:embed testdata/axe-4.14.1.min.js
var axeSource string

// axeResult is what axe.run reports: how many checks passed, what failed.
type axeResult struct {
	Passes     int
	Violations []struct {
		ID, Impact, Help string
		Nodes            []struct{ Target []string }
	}
}

// violations runs axe-core's WCAG 2.1 A and AA rules on the current page
// and returns each violation: rule, what it asks and where.
func (b *browser) violations() []string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if b.scriptsOff {
		// The checker needs script; the page's own scripts stay unrun.
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		require.NoError(b.t, err)
		defer chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	}
	_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeSource))
	require.NoError(b.t, err)
	result, err := chromedp.Run(ctx, chromedp.Evaluate[axeResult](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => ({passes: r.passes.length, violations: r.violations}))`, chromedp.EvalAwaitPromise))
	require.NoError(b.t, err)
	require.Positive(b.t, result.Passes, "axe checked nothing")
	var out []string
	for _, v := range result.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		out = append(out, fmt.Sprintf("%s: %s (%s) at %s", v.ID, v.Help, v.Impact, strings.Join(where, "; ")))
	}
	return out
}

// accessible fails the test with every accessibility violation on page.
func (b *browser) accessible(page string) {
	b.t.Helper()
	for _, v := range b.violations() {
		b.t.Errorf("%s: %s", page, v)
	}
}

// do runs steps within 20 seconds, failing the test with what went wrong.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) open(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Navigate(b.base + path)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err, sel)
	return strings.TrimSpace(s)
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	require.NoError(b.t, err, js)
	return s
}

func (b *browser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(b.t, err)
	return strings.TrimPrefix(loc, b.base)
}

// buysBesideThePrice checks where the product page puts the buying
// controls: basket's add-to-cart in the column of catalog's summary (name,
// price, stock, variant picker), under it and above the description; beside
// the picture on a wide screen, under it on a narrow one.
func (b *browser) buysBesideThePrice(wide bool) {
	b.t.Helper()
	type box struct{ Top, Bottom, Left, Right float64 }
	var boxes map[string]box
	require.NoError(b.t, json.Unmarshal([]byte(b.eval(`JSON.stringify(Object.fromEntries(Object.entries({
		picture: ".catalog-detail__image", summary: ".catalog-detail__summary",
		buy: '[data-fragment="add-to-cart"]', about: ".catalog-detail__description",
	}).map(([name, sel]) => { const r = document.querySelector(sel).getBoundingClientRect();
		return [name, {Top: r.top, Bottom: r.bottom, Left: r.left, Right: r.right}] })))`)), &boxes))
	picture, summary, buy, about := boxes["picture"], boxes["summary"], boxes["buy"], boxes["about"]
	const px = 0.5 // rounding
	assert.InDelta(b.t, summary.Left, buy.Left, px, "add-to-cart is in the price's column: %v", boxes)
	assert.GreaterOrEqual(b.t, buy.Top, summary.Bottom-px, "add-to-cart is under the price and the picker: %v", boxes)
	assert.LessOrEqual(b.t, buy.Bottom, about.Top+px, "add-to-cart is above the description: %v", boxes)
	if wide {
		assert.GreaterOrEqual(b.t, summary.Left, picture.Right-px, "the text is beside the picture: %v", boxes)
		assert.Less(b.t, buy.Top, picture.Bottom, "add-to-cart is beside the picture, not under it: %v", boxes)
	} else {
		assert.GreaterOrEqual(b.t, summary.Top, picture.Bottom-px, "on a phone the text comes under the picture: %v", boxes)
	}
}

// shot saves a full-page screenshot as <n>-<name>.png.
func (b *browser) shot(name string) {
	b.step++
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.step, name)), png, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// expect declares an error the test causes on purpose (the browser logs a
// page answered 422, when a form is refused, as a failed load).
func (b *browser) expect(text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expected = append(b.expected, text)
}

func (b *browser) noErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var unexpected []string
	for _, e := range b.errors {
		if !slices.ContainsFunc(b.expected, func(x string) bool { return strings.Contains(e, x) }) {
			unexpected = append(unexpected, e)
		}
	}
	assert.Empty(b.t, unexpected, "the pages logged errors")
}

var css = func(s string) chromedp.CSS { return chromedp.CSS(s) }

// TestShopInTheBrowser runs the customer's journey in Chromium against the
// whole system: browse, open a product, add it to the cart (the mini cart
// follows without a reload), register, check out and watch the order get
// paid; then a declined card; then the same journey with JavaScript off.
func TestShopInTheBrowser(t *testing.T) {
	sys := harness.Start(t, harness.Options{Profile: "embedded", Tracing: true,
		Env: map[string]string{"ORDERING_GRACE_PERIOD": "0s", "GATEWAY_RATE_PER_SECOND": "1000"}})
	base := sys.App("gateway").AppURL()
	browserCtx := chromium(t)

	t.Run("with JavaScript", func(t *testing.T) {
		b := newBrowser(t, browserCtx, base, "javascript", true)
		b.do("open the shop", b.open("/"), chromedp.WaitVisible(css(".catalog-card")))
		b.shot("home")
		b.accessible("home")
		b.do("filter by category", chromedp.Click(css(`a[href="/?category=outdoor"]`)), chromedp.WaitVisible(css(`a[aria-current="page"][href="/?category=outdoor"]`)))
		assert.Equal(t, "Outdoor", b.text("#catalog-grid-title"))
		b.shot("category")
		b.do("open a product", chromedp.Click(css(`a.catalog-card__link[href="/products/headlamp"]`)), chromedp.WaitVisible(css("#catalog-detail-name")))
		assert.Equal(t, "Headlamp", b.text("#catalog-detail-name"))
		assert.Equal(t, "0", b.text(".basket-mini-cart__count[data-count]")[:1])
		b.buysBesideThePrice(true)
		b.shot("product")
		b.accessible("product")
		b.do("load the product page whole", b.open("/products/headlamp"), chromedp.WaitVisible(css("#catalog-detail-name")))
		assert.Equal(t, "Headlamp · Bazaar", b.eval(`document.title`), "the product names the page")
		assert.Equal(t, "350 lumen, rechargeable, red night mode.", b.eval(`document.querySelector('meta[name="description"]').content`))
		assert.Equal(t, base+"/products/headlamp", b.eval(`document.querySelector('link[rel="canonical"]').href`))
		var product map[string]any
		require.NoError(t, json.Unmarshal([]byte(b.eval(`document.querySelector('script[type="application/ld+json"]').textContent`)), &product))
		assert.Equal(t, "Product", product["@type"])
		assert.Equal(t, "headlamp", product["sku"])
		assert.Equal(t, map[string]any{"@type": "Offer", "sku": "headlamp", "priceCurrency": "EUR", "price": "29.00", "availability": "https://schema.org/InStock"}, product["offers"])

		// A marker on window survives only if the page is never reloaded.
		b.eval(`window.bazaarMarker = "same page"; "ok"`)
		b.do("add two to the cart",
			chromedp.SetValue(css("#basket-add-qty-headlamp"), "2"),
			chromedp.Click(css(".basket-add__button")),
			chromedp.WaitVisible(css(".basket-add__added")),
			chromedp.WaitVisible(css(`[data-fragment="mini-cart"][data-highlight] .basket-mini-cart__count[data-count="2"]`)))
		assert.Equal(t, "same page", b.eval(`window.bazaarMarker`), "adding to the cart reloaded the page")
		assert.Contains(t, b.text(".basket-add__added"), "2 × Headlamp")
		b.shot("added-to-cart")

		b.do("go to register", chromedp.Click(css(`a[href^="/register?return="]`)), chromedp.WaitVisible(css("#identity-register-name")))
		b.shot("register")
		b.accessible("register")
		b.do("register", register("Ada Browser", "ada.browser@example.com", "a long enough password"),
			chromedp.WaitVisible(css(".identity-menu__name")))
		assert.Equal(t, "/products/headlamp", b.location(), "registering leads back to the product")
		assert.Equal(t, "Ada Browser", b.text(".identity-menu__name"))
		b.do("the guest cart became Ada's", chromedp.WaitVisible(css(`.basket-mini-cart__count[data-count="2"]`)))
		b.shot("signed-in")

		b.do("open the cart", chromedp.Click(css(".basket-mini-cart__link")), chromedp.WaitVisible(css("#basket-line-headlamp")))
		b.eval(`window.bazaarMarker = "cart page"; "ok"`)
		b.do("change the quantity",
			chromedp.SetValue(css("#basket-qty-headlamp"), "3"),
			chromedp.Click(css(".basket-cart__update")),
			chromedp.WaitVisible(css(`.basket-mini-cart__count[data-count="3"]`)))
		assert.Equal(t, "€87.00", b.text("[data-total]"))
		assert.Equal(t, "cart page", b.eval(`window.bazaarMarker`))
		b.shot("cart")
		b.accessible("cart")

		orderPaid := func(card string, want string) {
			b.do("go to checkout", chromedp.Click(css(".basket-cart__checkout")), chromedp.WaitVisible(css("#ordering-name")))
			assert.Equal(t, "Ada Browser", b.eval(`document.querySelector("#ordering-name").value`), "the name comes from the token")
			b.do("fill in the checkout form", fillCheckout("1 Analytical Row", "75001", "Paris", "France", card, "12/30"))
			b.shot("checkout-" + want)
			b.accessible("checkout")
			b.do("place the order", chromedp.Click(css(".ordering-form__submit")), chromedp.WaitVisible(css(".ordering-confirmation")))
			require.True(t, strings.HasPrefix(b.location(), "/orders/"), b.location())
			b.eval(`window.bazaarMarker = "order page"; "ok"`)
			b.do("the status reaches "+want+" by itself", chromedp.WaitVisible(css(`[data-status="`+want+`"]`)))
			assert.Equal(t, "order page", b.eval(`window.bazaarMarker`), "the status page was reloaded")
			b.shot("order-" + want)
			b.accessible("order " + want)
		}
		orderPaid("4242 4242 4242 4242", "paid")
		b.do("the cart is empty after the order", chromedp.WaitVisible(css(`.basket-mini-cart__count[data-count="0"]`)))

		b.do("add two more products", b.open("/products/claw-hammer"), chromedp.WaitVisible(css(".basket-add__button")),
			chromedp.Click(css(".basket-add__button")), chromedp.WaitVisible(css(`.basket-mini-cart__count[data-count="1"]`)),
			b.open("/products/enamel-mug-set"), chromedp.WaitVisible(css(".basket-add__button")),
			chromedp.Click(css(".basket-add__button")), chromedp.WaitVisible(css(`.basket-mini-cart__count[data-count="2"]`)),
			b.open("/cart"), chromedp.WaitVisible(css("#basket-line-enamel-mug-set")))
		b.do("remove one from the cart", chromedp.Click(css("#basket-line-enamel-mug-set .basket-cart__remove")),
			chromedp.WaitNotPresent(css("#basket-line-enamel-mug-set")),
			chromedp.WaitVisible(css(`.basket-mini-cart__count[data-count="1"]`)))
		assert.Equal(t, "€22.00", b.text("[data-total]"), "the total follows")
		orderPaid("4000 0000 0000 0002", "cancelled")
		assert.Contains(t, b.text(".ordering-status__reason"), "declined")

		b.do("see the orders", b.open("/orders"), chromedp.WaitVisible(css(".ordering-table")))
		assert.Equal(t, 2, strings.Count(b.eval(`document.querySelector(".ordering-table tbody").innerHTML`), "<tr"))
		b.shot("orders")
		b.accessible("orders")
		b.do("show the boundaries", b.open("/?boundaries=1"), chromedp.WaitVisible(css("body.shell-boundaries")))
		b.shot("boundaries")
		b.do("the status page", b.open("/status"), chromedp.WaitVisible(css(".shell-health--up")))
		assert.NotContains(t, b.text(".shell-table"), "Unreachable")
		b.shot("status")
		b.accessible("status")
		b.do("on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), b.open("/"), chromedp.WaitVisible(css(".catalog-card")))
		b.shot("phone-home")
		b.accessible("home on a phone")
		// The checker itself: an image without a text alternative is caught.
		b.eval(`document.querySelector("main").insertAdjacentHTML("beforeend", "<img src='/static/catalog/products/headlamp.svg'>"); "ok"`)
		assert.Contains(t, strings.Join(b.violations(), "\n"), "image-alt")
		b.do("a product on a phone", b.open("/products/headlamp"), chromedp.WaitVisible(css(".basket-add__button")))
		b.buysBesideThePrice(false)
		b.shot("phone-product")
		b.noErrors()
	})

	t.Run("admin", func(t *testing.T) {
		var secret map[string]string
		raw, err := os.ReadFile(filepath.Join(sys.DataDir, "secrets", "bazaar.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &secret))
		b := newBrowser(t, browserCtx, base, "admin", true)
		b.do("the admin page wants a signed-in user", b.open("/admin"), chromedp.WaitVisible(css("#identity-sign-in-email")))
		assert.Equal(t, "/sign-in?return=%2Fadmin", b.location())
		b.do("a wrong password is refused in place",
			chromedp.SetValue(css("#identity-sign-in-email"), secret["admin-email"]),
			chromedp.SetValue(css("#identity-sign-in-password"), "not the password"),
			chromedp.Click(css(".identity-form__submit")),
			chromedp.WaitVisible(css(".identity-form__error")))
		assert.Equal(t, secret["admin-email"], b.eval(`document.querySelector("#identity-sign-in-email").value`))
		b.expect("status of 422 (Unprocessable Entity) " + base + "/sign-in")
		b.do("sign in",
			chromedp.SetValue(css("#identity-sign-in-password"), secret["admin-password"]),
			chromedp.Click(css(".identity-form__submit")),
			chromedp.WaitVisible(css("#ordering-admin-title")))
		assert.Equal(t, "/admin", b.location(), "back where the admin was going")
		b.shot("admin")
		b.accessible("admin")
		b.do("open the paid order's checkout trace", chromedp.Click(css(".ordering-trace-link")), chromedp.WaitVisible(css(".shell-waterfall")))
		waterfall := b.text(".shell-waterfall")
		for _, want := range []string{"gateway", "basket", "ordering", "catalog", "payment", "saga reserve-stock", "saga take-payment"} {
			assert.Contains(t, waterfall, want, "the waterfall shows %s", want)
		}
		b.shot("admin-trace")
		b.accessible("admin-trace")
		b.do("all recent traces", chromedp.Click(css(`a[href="/admin/traces"]`)), chromedp.WaitVisible(css("#shell-traces-title")))
		assert.Contains(t, b.text(".shell-table"), "gateway GET /", "requests from outside are listed")
		b.shot("admin-traces")
		b.do("the mail the shop sent", b.open("/admin/mail"), chromedp.WaitVisible(css("#shell-mail-title")))
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(b.text("main"), "is confirmed") {
			require.True(t, time.Now().Before(deadline), "no order confirmation in the mail: %s", b.text("main"))
			b.do("look again", chromedp.Sleep(500*time.Millisecond), chromedp.Reload(), chromedp.WaitVisible(css("#shell-mail-title")))
		}
		b.shot("admin-mail")
		b.do("open the confirmation", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll(".shell-table a")].find(a => a.textContent.includes("is confirmed")).click()`), chromedp.WaitVisible(css(".shell-mail")))
		assert.Contains(t, b.text(".shell-mail"), "is paid and confirmed")
		b.shot("admin-mail-message")
		b.accessible("admin-mail-message")
		b.do("back to the admin page", b.open("/admin"), chromedp.WaitVisible(css("#ordering-admin-title")))
		b.do("ship the paid order", follow(".ordering-table button"))
		deadline = time.Now().Add(15 * time.Second)
		for !strings.Contains(b.text(".ordering-table"), "Shipped") {
			require.True(t, time.Now().Before(deadline), "the order was not shipped")
			b.do("look again", chromedp.Sleep(300*time.Millisecond), chromedp.Reload(), chromedp.WaitVisible(css("#ordering-admin-title")))
		}
		b.do("change a price and the stock",
			chromedp.SetValue(css("#catalog-price-claw-hammer"), "23.5"),
			chromedp.SetValue(css("#catalog-stock-claw-hammer"), "40"),
			follow("#catalog-admin-claw-hammer button"))
		assert.Equal(t, "23.50", b.eval(`document.querySelector("#catalog-price-claw-hammer").value`))
		assert.Equal(t, "40", b.eval(`document.querySelector("#catalog-stock-claw-hammer").value`))
		b.shot("admin-saved")
		b.noErrors()
	})

	t.Run("without JavaScript", func(t *testing.T) {
		b := newBrowser(t, browserCtx, base, "no-javascript", false)
		b.do("open a product", b.open("/products/headlamp"), chromedp.WaitVisible(css("#catalog-detail-name")))
		assert.Equal(t, "false", b.eval(`String(typeof htmx !== "undefined")`), "scripts ran")
		b.do("add to the cart with a plain form post",
			chromedp.Click(css(".basket-add__button")),
			chromedp.WaitVisible(css(`.basket-mini-cart__count[data-count="1"]`)))
		assert.Equal(t, "/products/headlamp", b.location(), "post-redirect-get back to the product")
		b.shot("added-to-cart")
		b.do("a bad quantity is refused in place",
			chromedp.SetValue(css("#basket-add-qty-headlamp"), "60"),
			chromedp.Click(css(".basket-add__button")),
			chromedp.WaitVisible(css(".basket-field-error")))
		assert.Regexp(t, `^Only \d+ in stock \(you have 1 in your cart\)\.$`, b.text(".basket-field-error"))
		b.expect("status of 422 (Unprocessable Entity) " + base + "/products/headlamp")
		assert.Equal(t, "60", b.eval(`document.querySelector("#basket-add-qty-headlamp").value`), "the typed value is kept")
		b.shot("refused")
		b.do("register", b.open("/register?return=/cart"), register("Grace NoScript", "grace.noscript@example.com", "another long password"),
			chromedp.WaitVisible(css("#basket-line-headlamp")))
		assert.Equal(t, "Grace NoScript", b.text(".identity-menu__name"))
		b.shot("cart")
		b.do("check out",
			chromedp.Click(css(".basket-cart__checkout")), chromedp.WaitVisible(css("#ordering-name")),
			fillCheckout("2 Compiler Lane", "10115", "Berlin", "Germany", "4242424242424242", "1/20"),
			chromedp.Click(css(".ordering-form__submit")),
			chromedp.WaitVisible(css(".ordering-field__error")))
		assert.Contains(t, b.text("#ordering-cardExpiry-error"), "Expiry")
		b.expect("status of 422 (Unprocessable Entity) " + base + "/checkout")
		assert.Equal(t, "2 Compiler Lane", b.eval(`document.querySelector("#ordering-street").value`), "the address is kept")
		b.shot("checkout-refused")
		b.accessible("checkout with errors")
		b.do("check out again",
			chromedp.SetValue(css("#ordering-cardNumber"), "4242424242424242"),
			chromedp.SetValue(css("#ordering-cardExpiry"), "12/30"),
			chromedp.SetValue(css("#ordering-cardCvc"), "123"),
			chromedp.Click(css(".ordering-form__submit")),
			chromedp.WaitVisible(css(".ordering-confirmation")))
		b.shot("placed")
		// Without script the page cannot update itself: the customer
		// follows the Refresh link until the order settles.
		deadline := time.Now().Add(60 * time.Second)
		for b.eval(`document.querySelector("[data-status]").dataset.status`) != "paid" {
			require.True(t, time.Now().Before(deadline), "the order was not paid within a minute")
			b.do("refresh", chromedp.Sleep(500*time.Millisecond), follow(".ordering-status__refresh a"))
		}
		b.shot("paid")
		b.do("sign out", chromedp.Click(css(".identity-menu__button")), chromedp.WaitVisible(css(`a[href^="/sign-in"]`)))
		b.shot("signed-out")
		b.noErrors()
	})

	// Variants (issue 14): picking one re-renders the fragments of two
	// services that depend on it, and what ends up in the cart, the order
	// and the stock is that SKU.
	stock := func(id string) map[string]int {
		res, err := http.Get(base + "/api/catalog/products/" + id)
		require.NoError(t, err)
		defer res.Body.Close()
		var p contracts.Product
		require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
		out := map[string]int{}
		for _, v := range p.Variants {
			out[v.SKU] = v.Stock
		}
		return out
	}
	const knife, small, large = "chefs-knife", "chefs-knife.15-cm", "chefs-knife.24-cm"
	recommended := func(b *browser) string {
		return b.eval(`[...document.querySelectorAll(".catalog-recommendations__link span:not([class])")].map(s => s.textContent).join(", ")`)
	}
	addsSKU := func(b *browser) string {
		return b.eval(`document.querySelector('.basket-add input[name="sku"]').value`)
	}

	t.Run("variants with JavaScript", func(t *testing.T) {
		before := stock(knife)
		require.Contains(t, before, large, "the knife's variants and their stock")
		b := newBrowser(t, browserCtx, base, "variants-javascript", true)
		b.do("open a product with variants", b.open("/products/"+knife), chromedp.WaitVisible(css(".catalog-variants")))
		assert.Equal(t, "€45.00", b.text(".catalog-detail__price"), "the first variant in stock is shown")
		assert.Equal(t, small, addsSKU(b))
		assert.Equal(t, "In stock", b.text(".catalog-detail .catalog-stock"))
		assert.Equal(t, "none", b.eval(`getComputedStyle(document.querySelector(".catalog-variants__choose")).display`), "the form's button is for pages without script")
		smallPicks := recommended(b)
		b.buysBesideThePrice(true)
		b.shot("product-variant-15cm")
		b.accessible("product with variants")

		b.eval(`window.bazaarMarker = "same page"; "ok"`)
		b.do("pick the 24 cm knife",
			chromedp.Click(css(`input[name="sku"][value="`+large+`"]`)),
			chromedp.WaitVisible(css(`.catalog-detail__price[data-sku="`+large+`"]`)),
			chromedp.WaitVisible(css(`.basket-add__choice`)))
		deadline := time.Now().Add(10 * time.Second)
		for recommended(b) == smallPicks || addsSKU(b) != large {
			require.True(t, time.Now().Before(deadline), "add-to-cart (%s) or the recommendations (%s) did not follow the variant", addsSKU(b), recommended(b))
			b.do("wait for the other fragments", chromedp.Sleep(100*time.Millisecond))
		}
		assert.Equal(t, "same page", b.eval(`window.bazaarMarker`), "picking a variant reloaded the page")
		assert.Equal(t, "€89.00", b.text(".catalog-detail__price"))
		assert.Equal(t, "Only 4 left", b.text(".catalog-detail .catalog-stock"))
		assert.Equal(t, "24 cm", b.text(".basket-add__choice"))
		assert.NotEqual(t, smallPicks, recommended(b), "the recommendations follow the variant's price")
		assert.Equal(t, "/products/"+knife+"?sku="+large, b.location(), "the address names the variant")
		b.buysBesideThePrice(true) // both fragments swapped in place keep their areas
		b.shot("product-variant-24cm")
		b.accessible("product with another variant")

		b.do("add it to the cart", chromedp.Click(css(".basket-add__button")),
			chromedp.WaitVisible(css(".basket-add__added")),
			chromedp.WaitVisible(css(`.basket-mini-cart__count[data-count="1"]`)))
		assert.Contains(t, b.text(".basket-add__added"), "1 × Chef's Knife (24 cm)")
		b.do("register", b.open("/register?return=/cart"), register("Vera Variant", "vera.variant@example.com", "a variant's long password"),
			chromedp.WaitVisible(css(`.basket-cart__line[data-sku="`+large+`"]`)))
		assert.Equal(t, "Chef's Knife (24 cm)", b.text(".basket-cart__name"))
		assert.Equal(t, "€89.00", b.text("[data-total]"))
		b.shot("cart-variant")
		b.do("check out", chromedp.Click(css(".basket-cart__checkout")), chromedp.WaitVisible(css("#ordering-name")),
			fillCheckout("3 Variant Way", "1010", "Vienna", "Austria", "4242 4242 4242 4242", "12/30"),
			chromedp.Click(css(".ordering-form__submit")), chromedp.WaitVisible(css(`[data-status="paid"]`)))
		assert.Contains(t, b.text("main"), "Chef's Knife (24 cm)", "the order names the variant")
		b.shot("order-variant")

		after := stock(knife)
		for sku, n := range before {
			want := n
			if sku == large {
				want = n - 1
			}
			assert.Equal(t, want, after[sku], "stock of %s: only the variant ordered is taken", sku)
		}
		b.do("the variants on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
			b.open("/products/"+knife+"?sku="+large), chromedp.WaitVisible(css(".catalog-variants")))
		b.buysBesideThePrice(false)
		b.shot("phone-product-variants")
		b.accessible("product with variants on a phone")
		b.noErrors()
	})

	t.Run("variants without JavaScript", func(t *testing.T) {
		b := newBrowser(t, browserCtx, base, "variants-no-javascript", false)
		b.do("open a product with variants", b.open("/products/"+knife), chromedp.WaitVisible(css(".catalog-variants")))
		smallPicks := recommended(b)
		assert.Equal(t, small, addsSKU(b))
		b.do("pick the 24 cm knife with the form",
			chromedp.Click(css(`input[name="sku"][value="`+large+`"]`)),
			follow(".catalog-variants__choose"))
		assert.Equal(t, "/products/"+knife+"?sku="+large, b.location())
		assert.Equal(t, "€89.00", b.text(".catalog-detail__price"))
		assert.Equal(t, large, addsSKU(b))
		assert.NotEqual(t, smallPicks, recommended(b))
		b.shot("product-variant-24cm")
		b.do("add it with a plain form post", follow(".basket-add__button"))
		assert.Equal(t, "/products/"+knife+"?sku="+large, b.location(), "post-redirect-get back to the variant")
		b.do("open the cart", b.open("/cart"), chromedp.WaitVisible(css(`.basket-cart__line[data-sku="`+large+`"]`)))
		assert.Equal(t, "Chef's Knife (24 cm)", b.text(".basket-cart__name"))
		b.shot("cart-variant")
		b.noErrors()
	})
}
