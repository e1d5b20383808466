// Package client is a typed HTTP client for the certctl-serverless API (the
// README's "API" section). It authenticates with an API key or AWS SigV4,
// turns the contract error shape into *Error, and can follow
// next_page_token to collect whole listings.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	pathpkg "path"
	"strings"
	"time"
)

// DefaultTimeout bounds one HTTP exchange when New is given no http.Client.
// API Gateway itself gives up after 29 seconds, so waiting longer only hides
// a dead connection.
const DefaultTimeout = 30 * time.Second

// maxResponse bounds what is read from one response. The largest answers
// are pages of 500 certificates with their CSRs, a few MiB.
const maxResponse = 32 << 20

// apiPrefix is the versioned base path every route but /health lives under.
const apiPrefix = "/api/v1"

// Client calls one deployment of the API. It is safe for concurrent use.
type Client struct {
	base string
	auth Auth
	hc   *http.Client
}

// New returns a client for endpoint: the server's base URL, e.g.
// http://127.0.0.1:8080 or a stack's KeyApiUrl/IamApiUrl including the
// stage. A trailing /api/v1 is accepted too, so the README's $API works.
// auth may be nil for the open health route. A nil httpClient means one
// with DefaultTimeout.
func New(endpoint string, auth Auth, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	base := strings.TrimSuffix(strings.TrimRight(endpoint, "/"), apiPrefix)
	return &Client{base: base, auth: auth, hc: httpClient}
}

// Error is an API error: the HTTP status and the contract body
// {"error","message","request_id"}. Gateway errors, which carry only a
// message, are mapped onto the same fields.
type Error struct {
	Status    int
	Code      string // the body's "error": the HTTP status text
	Message   string
	RequestID string
}

// Error reads like "409 Conflict: conflict: approval ar-1 is already approved (request 1234)".
func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Status, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// PageRequest selects one page of a listing: Limit 0 means the server's
// default (50); Token is a previous answer's next_page_token.
type PageRequest struct {
	Limit int
	Token string
}

func (p PageRequest) apply(q url.Values) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if p.Limit > 0 {
		q.Set("limit", fmt.Sprint(p.Limit))
	}
	if p.Token != "" {
		q.Set("page_token", p.Token)
	}
	return q
}

// list is the contract list shape.
type list[T any] struct {
	Data          []T    `json:"data"`
	NextPageToken string `json:"next_page_token"`
}

// MaxPageSize is the largest limit the API accepts.
const MaxPageSize = 500

// Collect follows next_page_token starting at start.Token and returns up
// to max items (0 means all) and the token that continues after them ("" at
// the end). Each page asks for no more than is still wanted, so the
// returned token resumes exactly after the last item returned.
func Collect[T any](ctx context.Context, start PageRequest, max int, fetch func(context.Context, PageRequest) ([]T, string, error)) ([]T, string, error) {
	out := []T{}
	token := start.Token
	for {
		limit := MaxPageSize
		if start.Limit > 0 {
			limit = start.Limit
		}
		if max > 0 {
			limit = min(limit, max-len(out))
		}
		items, next, err := fetch(ctx, PageRequest{Limit: limit, Token: token})
		if err != nil {
			return nil, "", err
		}
		out = append(out, items...)
		if next == "" || (max > 0 && len(out) >= max) {
			return out, next, nil
		}
		if next == token {
			// A server bug would otherwise loop forever.
			return nil, "", fmt.Errorf("client: the server returned the same page token twice (%q)", next)
		}
		token = next
	}
}

// all collects every item of a listing.
func all[T any](ctx context.Context, fetch func(context.Context, PageRequest) ([]T, string, error)) ([]T, error) {
	items, _, err := Collect(ctx, PageRequest{}, 0, fetch)
	return items, err
}

// getList fetches one page of path with the filter query q.
func getList[T any](ctx context.Context, c *Client, path string, q url.Values, p PageRequest) ([]T, string, error) {
	var out list[T]
	if _, err := c.do(ctx, http.MethodGet, path, p.apply(q), nil, &out); err != nil {
		return nil, "", err
	}
	if out.Data == nil {
		out.Data = []T{}
	}
	return out.Data, out.NextPageToken, nil
}

// do sends a JSON request and decodes a JSON answer into out (when out is
// non-nil and there is a body). It returns the status so callers can tell
// 200 from 202 where a route answers both.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) (int, error) {
	status, body, err := c.send(ctx, method, path, q, in)
	if err != nil {
		return status, err
	}
	if out != nil && len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return status, fmt.Errorf("%s %s: decoding the %d answer: %w", method, path, status, err)
		}
	}
	return status, nil
}

// send performs one exchange and returns the status and body of a 2xx
// answer, or an *Error for any other status.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, in any) (int, []byte, error) {
	return c.sendAccepting(ctx, method, path, q, in, "application/json")
}

// sendAccepting is send with another Accept header (the DER routes).
func (c *Client) sendAccepting(ctx context.Context, method, path string, q url.Values, in any, accept string) (int, []byte, error) {
	// An id such as "a/../b" would name another resource once the server
	// decodes the path: refuse it here rather than send it.
	upper := strings.ToUpper(path)
	if plain, err := url.PathUnescape(path); err != nil || pathpkg.Clean(plain) != plain || strings.ContainsAny(plain, "\\?#") ||
		strings.Contains(upper, "%2F") || strings.Contains(upper, "%5C") {
		return 0, nil, fmt.Errorf("%s %s: an id in the path is not a valid id", method, path)
	}
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return 0, nil, fmt.Errorf("%s %s: encoding the body: %w", method, path, err)
		}
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload) // sets ContentLength, which SigV4 signs
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("client: %w", err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	if c.auth != nil {
		// Sign last: every header set above is part of the signature.
		if err := c.auth.authorize(ctx, req, payload); err != nil {
			return 0, nil, err
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, nil, decodeError(resp, body)
	}
	return resp.StatusCode, body, nil
}

// decodeError reads the contract error body, falling back to what API
// Gateway sends for its own refusals ({"message":…} and its request id
// header) and to the raw text for anything else.
func decodeError(resp *http.Response, body []byte) *Error {
	var b struct {
		Error     string `json:"error"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(body, &b) == nil {
		e.Code, e.Message, e.RequestID = b.Error, b.Message, b.RequestID
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	if e.Code == "" {
		e.Code = http.StatusText(resp.StatusCode)
	}
	for _, h := range []string{"X-Request-Id", "X-Amzn-Requestid", "X-Amz-Apigw-Id"} {
		if e.RequestID != "" {
			break
		}
		e.RequestID = resp.Header.Get(h)
	}
	return e
}

// escape makes an id one path segment.
func escape(id string) string { return url.PathEscape(id) }

// filter builds a query from name/value pairs, skipping empty values.
func filter(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}
