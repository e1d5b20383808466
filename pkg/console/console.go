// Package console serves the approver's web console: a few static files
// (HTML, CSS, JavaScript, SVG), embedded in the api function and served at
// /console/. The files are public; the page calls the API at ../api/v1/
// with the API key the person signs in with, kept in the tab's session
// storage. All files are text, so API Gateway needs no binary media types.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// Path is where the console is served; Path+"/" is its page.
const Path = "/console"

// CSP keeps the page to its own files: no inline script or style, no
// other origin, no framing, no form that navigates (the sign-in form would
// otherwise put the key in a URL if the script failed to load), and
// Trusted Types, so that assigning a string to innerHTML and its kin
// throws instead of parsing markup.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// headers go on every console response, errors and redirects included.
var headers = map[string]string{
	"Content-Security-Policy":      CSP,
	"X-Frame-Options":              "DENY",
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy":           "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
	// Revalidate every time: a deploy must reach open tabs on reload.
	"Cache-Control": "no-cache",
}

//go:embed static
var static embed.FS

// contentTypes are the only kinds of file the console has: all text.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml; charset=utf-8",
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console. Paths outside Path are 404.
type Handler struct {
	assets map[string]asset // by name under /console/; "" is index.html
}

// New reads the embedded files once.
func New() (*Handler, error) {
	h := &Handler{assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = mime.TypeByExtension(path.Ext(p)) // a test keeps this from happening
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "static/")
		a := asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		h.assets[name] = a
		if name == "index.html" {
			h.assets[""] = a
		}
		return nil
	})
	return h, err
}

// Names lists the served files (for tests and the README's figures).
func (h *Handler) Names() []string {
	var out []string
	for n := range h.assets {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Mount serves the console under Path and everything else with next.
func (h *Handler) Mount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Path || strings.HasPrefix(r.URL.Path, Path+"/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if r.URL.Path == Path {
		// Relative, so it stays under the stage API Gateway serves us at
		// (https://…/prod/console → https://…/prod/console/).
		w.Header().Set("Location", "console/")
		plain(w, http.StatusMovedPermanently, "moved to console/")
		return
	}
	a, ok := h.assets[strings.TrimPrefix(r.URL.Path, Path+"/")]
	if !ok {
		plain(w, http.StatusNotFound, "not found")
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("ETag", a.etag)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(a.body)
	}
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
