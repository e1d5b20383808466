// Package apigw adapts API Gateway REST proxy events to net/http, so the API
// is an ordinary http.Handler that runs the same in Lambda and in tests.
package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

type ctxKey struct{}

// RequestContext returns the API Gateway request context of r, if any.
func RequestContext(ctx context.Context) (events.APIGatewayProxyRequestContext, bool) {
	rc, ok := ctx.Value(ctxKey{}).(events.APIGatewayProxyRequestContext)
	return rc, ok
}

// WithRequestContext attaches an API Gateway request context to ctx.
func WithRequestContext(ctx context.Context, rc events.APIGatewayProxyRequestContext) context.Context {
	return context.WithValue(ctx, ctxKey{}, rc)
}

// Handler returns a Lambda handler that serves proxy events with h.
func Handler(h http.Handler) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		req, err := Request(ctx, ev)
		if err != nil {
			body, _ := json.Marshal(map[string]string{"error": "Bad Request", "message": err.Error(), "request_id": ev.RequestContext.RequestID})
			return events.APIGatewayProxyResponse{
				StatusCode: http.StatusBadRequest,
				Headers:    map[string]string{"Content-Type": "application/json"},
				Body:       string(body),
			}, nil
		}
		w := newRecorder()
		h.ServeHTTP(w, req)
		return w.response(), nil
	}
}

// Request converts a proxy event into an *http.Request.
func Request(ctx context.Context, ev events.APIGatewayProxyRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("apigw: body: %w", err)
		}
		body = decoded
	}
	q := url.Values{}
	for k, vs := range ev.MultiValueQueryStringParameters {
		q[k] = append(q[k], vs...)
	}
	for k, v := range ev.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	u := &url.URL{Path: ev.Path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(WithRequestContext(ctx, ev.RequestContext), ev.HTTPMethod, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("apigw: request: %w", err)
	}
	for k, vs := range ev.MultiValueHeaders {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	for k, v := range ev.Headers {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, v)
		}
	}
	req.RemoteAddr = ev.RequestContext.Identity.SourceIP
	return req, nil
}

// recorder is a minimal http.ResponseWriter that buffers the response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) response() events.APIGatewayProxyResponse {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	resp := events.APIGatewayProxyResponse{StatusCode: r.status, MultiValueHeaders: map[string][]string{}}
	for k, vs := range r.header {
		resp.MultiValueHeaders[k] = vs
	}
	if utf8.Valid(r.body.Bytes()) && isText(r.header.Get("Content-Type")) {
		resp.Body = r.body.String()
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(r.body.Bytes())
		resp.IsBase64Encoded = true
	}
	return resp
}

// isText reports a media type whose body API Gateway passes as text: the
// stages have no binary media types, so anything else travels base64
// encoded and only a client that expects that can read it. The console's
// files are all text (HTML, CSS, JavaScript, SVG).
func isText(contentType string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	mt = strings.TrimSpace(mt)
	return mt == "" || strings.HasPrefix(mt, "text/") || strings.Contains(mt, "json") ||
		strings.HasSuffix(mt, "+xml") || mt == "application/xml" || mt == "application/javascript"
}
