// Package contract checks HTTP exchanges with the API against its OpenAPI
// document (pkg/api/openapi.json). The e2e suites install it as
// http.DefaultTransport, so every request they send, through their own
// helpers or through the CLI, and every answer, is validated:
//
//   - a request the document accepts gets an answer the document lists for
//     its operation, status included, with a body of that schema;
//   - a request the document refuses (a wrong body, a missing key) must be
//     refused by the API too (4xx), with a listed status and body;
//   - a path or method the document does not have must be refused (4xx)
//     with the error shape.
//
// Only exchanges with /health and /api/ paths are checked; everything else
// (the AWS SDK talking to the emulator) passes through.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/certctl-serverless/certctl-serverless/pkg/api"
)

// Checker validates exchanges and keeps what did not match.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	next   http.RoundTripper

	mu         sync.Mutex
	checked    int
	violations []string
}

// The media types of the DER the API serves (the CRL, the CA
// certificate) are checked as binary strings.
func init() {
	for _, mt := range []string{"application/pkix-crl", "application/pkix-cert"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.FileBodyDecoder)
	}
}

// New loads and validates the API's document. next carries the requests
// (http.DefaultTransport when nil).
func New(next http.RoundTripper) (*Checker, error) {
	if next == nil {
		next = http.DefaultTransport
	}
	// The digest key's public half is served as PEM text.
	openapi3filter.RegisterBodyDecoder("application/x-pem-file", openapi3filter.PlainBodyDecoder)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("contract: load openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("contract: openapi.json is not valid: %w", err)
	}
	// Match paths on any host: the suites run several stacks, each on its
	// own port, and remote stages under a stage prefix are not checked here.
	doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("contract: router: %w", err)
	}
	return &Checker{doc: doc, router: router, next: next}, nil
}

// Install makes a Checker http.DefaultTransport (so http.DefaultClient and
// every client without a transport of its own use it) and returns it.
func Install() (*Checker, error) {
	c, err := New(http.DefaultTransport)
	if err != nil {
		return nil, err
	}
	http.DefaultTransport = c
	return c, nil
}

// Report returns how many exchanges were checked and every mismatch.
func (c *Checker) Report() (checked int, violations []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked, append([]string(nil), c.violations...)
}

// RoundTrip sends req and checks the exchange.
func (c *Checker) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != "/health" && !strings.HasPrefix(req.URL.Path, "/api/") {
		return c.next.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		sent := req.Clone(req.Context())
		sent.Body = io.NopCloser(bytes.NewReader(body))
		req = sent
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	answer, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	if err != nil {
		return resp, err
	}
	problem := c.Check(req, body, resp.StatusCode, resp.Header, answer)
	c.mu.Lock()
	c.checked++
	if problem != "" {
		c.violations = append(c.violations, fmt.Sprintf("%s %s -> %d: %s", req.Method, req.URL.RequestURI(), resp.StatusCode, problem))
	}
	c.mu.Unlock()
	return resp, nil
}

// Check validates one exchange and says what does not match ("" if all does).
func (c *Checker) Check(req *http.Request, body []byte, status int, header http.Header, answer []byte) string {
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		if status < 400 || status >= 500 {
			return fmt.Sprintf("no such operation in the document (%v), yet not refused", err)
		}
		return c.errorBody(status, answer)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: authenticated},
	}
	if rerr := openapi3filter.ValidateRequest(ctx, in); rerr != nil && status < 400 {
		return fmt.Sprintf("the document refuses the request (%v), the API accepted it", oneLine(rerr))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	out.SetBodyBytes(answer)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return "the answer does not match the document: " + oneLine(err)
	}
	return ""
}

// errorBody checks a refusal of a path the document lacks against the
// shared error responses.
func (c *Checker) errorBody(status int, answer []byte) string {
	name := "Error"
	if status == http.StatusRequestEntityTooLarge {
		name = "GatewayError"
	}
	schema := c.doc.Components.Schemas[name]
	var v any // numbers as float64, objects as map[string]any, as the validator expects
	if err := json.Unmarshal(answer, &v); err != nil {
		return "the refusal is not JSON: " + err.Error()
	}
	if err := schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return "the refusal is not the " + name + " shape: " + oneLine(err)
	}
	return ""
}

// authenticated checks that a request carries the credential a security
// scheme names; whether the API accepts it is the API's business.
func authenticated(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	switch in.SecuritySchemeName {
	case "apiKey":
		if h.Get("X-Api-Key") != "" {
			return nil
		}
	case "sigv4":
		if strings.HasPrefix(h.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			return nil
		}
	}
	return errors.New("no " + in.SecuritySchemeName + " credential")
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// Failed prints the checker's mismatches to w, prefixed with suite, and
// reports whether there were any. A suite that exchanged nothing with the
// API is not a failure.
func Failed(w io.Writer, suite string, c *Checker) bool {
	checked, violations := c.Report()
	for _, v := range violations {
		fmt.Fprintf(w, "%s: contract: %s\n", suite, v)
	}
	fmt.Fprintf(w, "%s: %d of %d exchanges with the API do not match pkg/api/openapi.json\n", suite, len(violations), checked)
	return len(violations) > 0
}
