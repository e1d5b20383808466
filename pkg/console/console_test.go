package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/console"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func newConsole(t *testing.T) *console.Handler {
	t.Helper()
	h, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The security headers are on every answer, errors and redirects too.
func TestHeaders(t *testing.T) {
	h := newConsole(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/console/", 200},
		{"GET", "/console/console.js", 200},
		{"HEAD", "/console/console.css", 200},
		{"GET", "/console/nope.js", 404},
		{"GET", "/console/../api/v1/health", 404},
		{"GET", "/console", 301},
		{"POST", "/console/", 405},
	} {
		w := get(t, h, tc.method, tc.path)
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": console.CSP,
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := w.Header().Get(k); got != want {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, want)
			}
		}
	}
	if loc := get(t, h, "GET", "/console").Header().Get("Location"); loc != "console/" {
		t.Errorf("redirect to %q: it must be relative, to keep the stage prefix", loc)
	}
	if allow := get(t, h, "POST", "/console/").Header().Get("Allow"); allow != "GET, HEAD" {
		t.Errorf("Allow %q", allow)
	}
}

// The policy itself: only this origin, nothing inline, no framing.
func TestContentSecurityPolicy(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(console.CSP, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "connect-src": "'self'",
		"frame-ancestors": "'none'", "form-action": "'none'", "object-src": "'none'", "base-uri": "'none'",
		"require-trusted-types-for": "'script'",
	} {
		if directives[name] != want {
			t.Errorf("%s %q, want %q", name, directives[name], want)
		}
	}
	if strings.Contains(console.CSP, "unsafe") || strings.Contains(console.CSP, "http") || strings.Contains(console.CSP, "*") {
		t.Errorf("policy allows more than this origin: %s", console.CSP)
	}
}

func TestContentTypesAndCaching(t *testing.T) {
	h := newConsole(t)
	want := map[string]string{
		"index.html": "text/html; charset=utf-8", "console.css": "text/css; charset=utf-8",
		"console.js": "text/javascript; charset=utf-8", "api.js": "text/javascript; charset=utf-8",
		"dom.js": "text/javascript; charset=utf-8", "icon.svg": "image/svg+xml; charset=utf-8",
	}
	names := h.Names()
	slices.Sort(names)
	if len(names) != len(want) {
		t.Errorf("files %v, want %d", names, len(want))
	}
	for _, name := range names {
		w := get(t, h, "GET", "/console/"+name)
		if ct := w.Header().Get("Content-Type"); ct != want[name] {
			t.Errorf("%s: Content-Type %q, want %q", name, ct, want[name])
		}
		if !utf8.Valid(w.Body.Bytes()) {
			t.Errorf("%s is not UTF-8 text", name)
		}
		t.Logf("%-12s %6d bytes", name, w.Body.Len())
		etag := w.Header().Get("ETag")
		if etag == "" || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: ETag %q Cache-Control %q", name, etag, w.Header().Get("Cache-Control"))
		}
		if w := get(t, h, "GET", "/console/"+name, "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("%s: revalidation %d with %d bytes", name, w.Code, w.Body.Len())
		}
	}
	if a, b := get(t, h, "GET", "/console/").Body.String(), get(t, h, "GET", "/console/index.html").Body.String(); a != b || !strings.Contains(a, "<!doctype html>") {
		t.Error("/console/ is not index.html")
	}
}

// Behind API Gateway (no binary media types) every file must travel as
// text, not base64.
func TestServedAsTextThroughAPIGateway(t *testing.T) {
	h := newConsole(t)
	serve := apigw.Handler(h.Mount(http.NotFoundHandler()))
	for _, name := range h.Names() {
		resp, err := serve(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/console/" + name})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.IsBase64Encoded || resp.Body == "" {
			t.Errorf("%s: status %d base64 %v", name, resp.StatusCode, resp.IsBase64Encoded)
		}
	}
}

func TestMountPassesTheRestOn(t *testing.T) {
	h := newConsole(t)
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for path, want := range map[string]int{"/console/": 200, "/console": 301, "/consoles": 418, "/api/v1/health": 418, "/": 418} {
		if got := get(t, h.Mount(next), "GET", path).Code; got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
}

func body(t *testing.T, h *console.Handler, name string) string {
	t.Helper()
	return get(t, h, "GET", "/console/"+name).Body.String()
}

// What the policy enforces in the browser is also kept in the source: no
// inline script, style or handler; text from the API never parsed as
// markup; no secret in persistent storage; nothing from another origin.
func TestSourceRules(t *testing.T) {
	h := newConsole(t)
	html := body(t, h, "index.html")
	for _, m := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(m, `src="`) {
			t.Errorf("inline script: %s", m)
		}
	}
	for _, re := range []string{`(?i)\sstyle\s*=`, `(?i)<style`, `(?i)\son[a-z]+\s*=`, `(?i)javascript:`} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("index.html has %q", m)
		}
	}
	for _, name := range h.Names() {
		src := body(t, h, name)
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(strings.ReplaceAll(src, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
				t.Errorf("%s refers to another origin (%s)", name, bad)
			}
		}
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
			"localStorage", "setAttribute('style'", "createContextualFragment", "DOMParser"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
	// The key is read from and written to session storage only, and sent
	// only as a header.
	api := body(t, h, "api.js")
	if !strings.Contains(api, "sessionStorage.setItem(KEY") || !strings.Contains(api, "'X-Api-Key': key") {
		t.Error("api.js does not keep the key in session storage and send it as X-Api-Key")
	}
}

// The console's filter lists are the API's.
func TestFilterListsMatchTheAPI(t *testing.T) {
	js := body(t, newConsole(t), "console.js")
	quoted := func(name string) []string {
		m := regexp.MustCompile(`(?s)const ` + name + ` = \[(.*?)\]`).FindStringSubmatch(js)
		if m == nil {
			t.Fatalf("no %s in console.js", name)
		}
		var out []string
		for _, q := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(m[1], -1) {
			out = append(out, q[1])
		}
		return out
	}
	if got := quoted("AUDIT_ACTIONS"); !slices.Equal(got, domain.AuditActions) {
		t.Errorf("AUDIT_ACTIONS %v\nwant %v", got, domain.AuditActions)
	}
	var statuses []string
	for _, s := range quoted("JOB_STATUSES") {
		if _, ok := domain.ParseJobStatus(s); !ok {
			t.Errorf("JOB_STATUSES has %q", s)
		}
		statuses = append(statuses, s)
	}
	if len(statuses) != 6 {
		t.Errorf("JOB_STATUSES %v", statuses)
	}
}
