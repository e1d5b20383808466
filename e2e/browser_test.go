package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// The console's browser tests drive Debian's Chromium headless through the
// DevTools protocol (chromedp, no driver binary). They run wherever the
// e2e suite runs; without Chromium they skip locally and fail in CI.

// screenshotDir is gitignored; the README's images are copied from it.
const screenshotDir = "../.local/screenshots"

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CERTCTL_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the console's browser tests need Chromium, and CI must run them: apt-get install -y chromium (.ci/run does)")
	}
	t.Skip("Chromium is not installed, so the console's browser tests are skipped: apt-get install -y chromium")
	return ""
}

// browser is one headless Chromium; each tab is one person's session
// (session storage is per tab).
type browser struct {
	ctx   context.Context
	dir   string // downloads
	start time.Time
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if os.Getenv("CERTCTL_E2E_TARGET") == "localstack" {
		t.Skip("LocalStack's free edition does not run the REQUEST authorizer, so the console cannot sign in there")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		// No traffic beyond the stack under test.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // start the browser
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{ctx: ctx, dir: t.TempDir(), start: time.Now()}
}

// tab is one browser tab, signed in (or not) as one person.
type tab struct {
	t      *testing.T
	ctx    context.Context
	who    string
	mu     sync.Mutex
	errors []string // uncaught exceptions and console errors
}

// tab opens a tab for who, in test t (and closed when t ends).
func (b *browser) tab(t *testing.T, who string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, who: who}
	// The first action opens the tab, which lives as long as that action's
	// context: so not under do's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab for %s: %v", who, err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				tb.mu.Lock()
				tb.errors = append(tb.errors, m.String())
				tb.mu.Unlock()
			}
		}
	}()
	return tb
}

// do runs actions, failing the test on error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s's tab: %v", tb.who, err)
	}
}

// js evaluates an expression in the page and decodes its value.
func js[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s's tab: %s: %v", tb.who, expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition (a DevTools evaluation, so the
// page's CSP does not apply to it) until it holds.
func (tb *tab) waitFor(what, expr string, timeout time.Duration) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if js[bool](tb, "!!("+expr+")") {
			return
		}
		if time.Now().After(deadline) {
			tb.screenshot("failed-" + tb.who)
			tb.t.Fatalf("%s's tab: timed out after %s waiting for %s; the page says: %s", tb.who, timeout, what,
				js[string](tb, "document.querySelector('main').innerText"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text is an element's textContent ("" when absent).
func (tb *tab) text(selector string) string {
	tb.t.Helper()
	return js[string](tb, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, selector))
}

func (tb *tab) open(route string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(baseURL + "/console/" + route))
}

// goTo changes the console's route in place, as a link would, and waits
// until that page is shown.
func (tb *tab) goTo(route string) {
	tb.t.Helper()
	tb.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.hash = %q", route)))
	tb.at(route)
}

// at waits until the console shows the page of route.
func (tb *tab) at(route string) {
	tb.t.Helper()
	tb.waitFor("the page "+route, fmt.Sprintf("document.getElementById('view').dataset.route === %q", route), 10*time.Second)
}

// signIn types the key and submits, and waits for the first page.
func (tb *tab) signIn() {
	tb.t.Helper()
	tb.open("")
	tb.waitFor("the sign-in form", `document.activeElement && document.activeElement.id === "apikey"`, 10*time.Second)
	tb.do(chromedp.KeyEvent(keys[tb.who]), chromedp.KeyEvent("\r"))
	tb.waitFor("signed in", `document.getElementById("page-title")`, 10*time.Second)
}

// tabTo presses Tab until the focused element matches the condition on
// el (document.activeElement), as someone with only a keyboard would.
func (tb *tab) tabTo(what, cond string) {
	tb.t.Helper()
	for range 60 {
		if js[bool](tb, "(el => !!el && !!("+cond+"))(document.activeElement)") {
			return
		}
		tb.do(chromedp.KeyEvent("\t"))
	}
	tb.t.Fatalf("%s's tab: Tab never reached %s", tb.who, what)
}

// viewport emulates a window of w×h CSS pixels at scale (2 at a 640-pixel
// width is a 1280-pixel window at 200% zoom).
func (tb *tab) viewport(w, h int64, scale float64) {
	tb.t.Helper()
	if _, err := chromedp.Call(tb.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: w, Height: h, DeviceScaleFactor: scale, Mobile: w < 500,
	}); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	buf, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644)
	}
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
	}
}

// fits checks the page does not scroll sideways and that every control
// has a label.
func (tb *tab) fits(where string) {
	tb.t.Helper()
	if w := js[[]int](tb, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`); w[0] > w[1] {
		tb.screenshot("overflow-" + where)
		tb.t.Errorf("%s: the page is %d px wide in a %d px viewport", where, w[0], w[1])
	}
	tb.labelled(where)
}

// labelled checks that every visible control has an accessible name.
func (tb *tab) labelled(where string) {
	tb.t.Helper()
	unnamed := js[[]string](tb, `[...document.querySelectorAll("input, select, textarea, button, a[href]")]
		.filter(e => e.offsetParent !== null || e === document.activeElement)
		.filter(e => ["input", "select", "textarea"].includes(e.localName)
			? !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
			: !(e.getAttribute("aria-label") || e.textContent.trim()))
		.map(e => e.outerHTML.slice(0, 80))`)
	if len(unnamed) > 0 {
		tb.t.Errorf("%s: controls without a label: %v", where, unnamed)
	}
}

// fulfil answers the page's requests whose URL matches pattern with
// answer(url) instead of the network: a client-side tamper, for tests
// that the server, not the page, decides.
func (tb *tab) fulfil(pattern string, answer func(url string) (int, any)) {
	tb.t.Helper()
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
		tb.t.Fatal(err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			status, v := answer(ev.Request.URL)
			body, _ := json.Marshal(v)
			_, _ = chromedp.Call(tb.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID: ev.RequestID, ResponseCode: int64(status), Body: body,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
			})
		}
	}()
}

// clean checks that nothing in the page threw or logged an error (a CSP
// or Trusted Types violation would).
func (tb *tab) clean() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var real []string
	for _, e := range tb.errors {
		// The browser logs each refused API call (4xx) as a network error.
		if !strings.Contains(e, "Failed to load resource") {
			real = append(real, e)
		}
	}
	if len(real) > 0 {
		tb.t.Errorf("%s's tab logged errors: %v", tb.who, real)
	}
}
