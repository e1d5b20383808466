package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// maxBody bounds request bodies; a CSR is a few KiB.
const maxBody = 256 << 10

// errorBody is the contract error shape (DESIGN §3).
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
	switch {
	case errors.Is(err, domain.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, domain.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, domain.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, domain.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, domain.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "request_id", requestID(r), "error", err)
		msg = "internal error; see the server log for request " + requestID(r)
	} else {
		a.log.WarnContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", status, "request_id", requestID(r), "error", msg)
	}
	writeJSON(w, status, errorBody{Error: http.StatusText(status), Message: msg, RequestID: requestID(r)})
}

// decode reads exactly one JSON object into v, refusing unknown fields,
// oversized bodies and trailing data.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		switch {
		case errors.Is(err, io.EOF):
			return domain.Invalidf("request body is empty; expected a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return domain.Invalidf("%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return domain.Invalidf("request body is not valid JSON for this route: %v", err)
	}
	if dec.More() {
		return domain.Invalidf("request body has trailing data after the JSON object")
	}
	if dec.InputOffset() > maxBody {
		return domain.Invalidf("request body is larger than %d bytes", maxBody)
	}
	return nil
}

// decodeOptional is decode for routes whose body may be empty.
func decodeOptional(r *http.Request, v any) error {
	err := decode(r, v)
	if err != nil && strings.Contains(err.Error(), "request body is empty") {
		return nil
	}
	return err
}

// page reads ?limit= (1–500, default 50) and ?page_token=.
func page(r *http.Request) (store.PageRequest, error) {
	p := store.PageRequest{Limit: 50, Token: r.URL.Query().Get("page_token")}
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
