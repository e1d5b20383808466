package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// errorBody is the contract error shape: {"error", "message", "request_id"}.
type errorBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

func requestID(r *http.Request) string {
	if rc, ok := apigw.RequestContext(r.Context()); ok && rc.RequestID != "" {
		return rc.RequestID
	}
	return r.Header.Get("X-Request-Id")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statusOf maps a domain error to its HTTP status.
func statusOf(err error) int {
	return map[domain.Kind]int{
		domain.KindInternal:         http.StatusInternalServerError,
		domain.KindInvalid:          http.StatusBadRequest,
		domain.KindUnauthenticated:  http.StatusUnauthorized,
		domain.KindForbidden:        http.StatusForbidden,
		domain.KindNotFound:         http.StatusNotFound,
		domain.KindConflict:         http.StatusConflict,
		domain.KindUnavailable:      http.StatusServiceUnavailable,
		domain.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	}[domain.KindOf(err)]
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := domain.PublicMessage(err)
	switch {
	case status == http.StatusInternalServerError:
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		msg = "internal error; see the server log for request " + requestID(r)
	case status >= 500:
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", err)
	default:
		a.log.WarnContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", status, "error", err)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	writeJSON(w, status, errorBody{Error: http.StatusText(status), Message: msg, RequestID: requestID(r)})
}

// query checks that the request's query names only the route's parameters
// (a misspelt filter must not silently list everything; a route that takes
// none takes none), each once, and that no value holds a control
// character. The route table says which each route takes.
func query(r *http.Request, allowed ...string) error {
	for name, values := range r.URL.Query() {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return domain.Invalidf("unknown query parameter %q: this route takes no query parameters", name)
			}
			return domain.Invalidf("unknown query parameter %q: this route takes %s", name, strings.Join(allowed, ", "))
		}
		if len(values) > 1 {
			return domain.Invalidf("query parameter %q is given more than once", name)
		}
		if err := plainText("query parameter "+name, values[0], false); err != nil {
			return err
		}
	}
	return nil
}

// oneOf checks an enumerated filter value.
func oneOf(name, value string, valid ...string) error {
	if value == "" || slices.Contains(valid, value) {
		return nil
	}
	return domain.Invalidf("%s must be one of %s", name, strings.Join(valid, ", "))
}

// page reads ?limit= (1–500, default 50) and ?page_token=.
func page(r *http.Request) (domain.PageRequest, error) {
	p := domain.PageRequest{Limit: 50, Token: r.URL.Query().Get("page_token")}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return p, domain.Invalidf("limit must be an integer from 1 to 500")
		}
		p.Limit = n
	}
	return p, nil
}

// list is the contract list shape: data is always an array.
type list[T any] struct {
	Data          []T    `json:"data"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

func writeList[T any](w http.ResponseWriter, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, list[T]{Data: items, NextPageToken: next})
}
