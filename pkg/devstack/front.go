package devstack

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

// The deployed REST API's resources. The front mirrors them instead of
// using the emulator's API Gateway, whose proxy events carry the resource
// template as path and an empty requestContext.authorizer. Besides
// /health, the stack serves these resources under /api/v1/ to GET without
// authentication (infra's PublicV1Paths).
var publicResources = map[string]bool{healthResource: true, apiPrefix + "health": true, apiPrefix + "openapi.json": true}

// publicIssuerResources are the per-issuer resources the stack serves to
// GET without authentication (infra's PublicIssuerPaths): what relying
// parties fetch from the URLs in certificates.
var publicIssuerResources = []string{"crl", "ca"}

// BinaryMediaTypes are the stack's REST APIs' binaryMediaTypes (infra's
// BinaryMediaTypes). API Gateway base64-encodes a request body whose
// Content-Type matches one, and returns a response the function
// base64-encoded as bytes only when the request's first Accept value
// matches one; otherwise the client gets the base64 text.
var BinaryMediaTypes = []string{"*/*"}

const (
	healthResource = "/health"
	apiPrefix      = "/api/v1/"
	apiResource    = "/api/v1/{proxy+}"
	// The console: public GET routes, no authorizer. API Gateway matches
	// /console/ (trailing slash) to the /console resource and passes the
	// path as sent.
	consoleResource      = "/console"
	consoleProxyResource = "/console/{proxy+}"
	apiKeyHeader         = "X-Api-Key" // the authorizer's identity source
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes = 1 << 20
	// integrationTimeout is API Gateway's default 29 s integration timeout.
	integrationTimeout = 29 * time.Second
)

// listenFront binds the front's address first thing, so a port in use
// fails Start before anything is provisioned.
func listenFront(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devstack: front: listen on %s: %w", addr, err)
	}
	return ln, nil
}

func (s *Stack) serveFrontOn(ln net.Listener) {
	s.URL = "http://" + ln.Addr().String()
	s.front = &http.Server{Handler: http.HandlerFunc(s.serveFront), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.front.Serve(ln) }()
}

// gatewayError is a response API Gateway itself produces (never the API
// function), with its x-amzn-ErrorType. The stack replaces some of API
// Gateway's answers with its own gateway responses (infra's
// gatewayResponses): those carry the status text the stack gives them and
// the API's error shape, and a missing route is 401 there, not 403.
type gatewayError struct {
	status  int
	kind    string
	message any    // string, or nil for API Gateway's {"message": null}
	text    string // the stack's status text, for the answers it reshapes; "" leaves API Gateway's
}

var (
	errMissingToken = gatewayError{http.StatusUnauthorized, "MissingAuthenticationTokenException", "Missing Authentication Token", "Unauthorized"}
	errUnauthorized = gatewayError{http.StatusUnauthorized, "UnauthorizedException", "Unauthorized", "Unauthorized"}
	errDenied       = gatewayError{http.StatusForbidden, "AccessDeniedException", "User is not authorized to access this resource", "Forbidden"}
	errAuthorizer   = gatewayError{http.StatusInternalServerError, "AuthorizerConfigurationException", nil, "Internal Server Error"}
	errTooLarge     = gatewayError{http.StatusRequestEntityTooLarge, "RequestTooLarge", "Request Too Long", ""}
	errIntegration  = gatewayError{http.StatusBadGateway, "InternalServerErrorException", "Internal server error", ""}
	errTimeout      = gatewayError{http.StatusGatewayTimeout, "IntegrationTimeout", "Endpoint request timed out", ""}
)

func (s *Stack) serveFront(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := uuid.NewString()
	w.Header().Set("X-Amzn-Requestid", requestID)
	status, principal := s.handleFront(w, r, requestID)
	s.logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", status,
		"request_id", requestID, "principal", principal, "duration_ms", time.Since(start).Milliseconds())
}

// handleFront returns the status written and the authenticated principal.
func (s *Stack) handleFront(w http.ResponseWriter, r *http.Request, requestID string) (int, string) {
	var resource string
	var pathParams map[string]string
	switch {
	case publicResources[r.URL.Path] && r.Method == http.MethodGet:
		resource = r.URL.Path
	case (r.URL.Path == consoleResource || r.URL.Path == consoleResource+"/") && r.Method == http.MethodGet:
		resource = consoleResource
	case strings.HasPrefix(r.URL.Path, consoleResource+"/") && r.Method == http.MethodGet:
		resource = consoleProxyResource
		pathParams = map[string]string{"proxy": strings.TrimPrefix(r.URL.Path, consoleResource+"/")}
	case r.Method == http.MethodGet && publicIssuerResource(r.URL.Path) != "":
		resource = publicIssuerResource(r.URL.Path)
		pathParams = map[string]string{"id": strings.Split(strings.TrimPrefix(r.URL.Path, apiPrefix), "/")[1]}
	case strings.HasPrefix(r.URL.Path, apiPrefix) && len(r.URL.Path) > len(apiPrefix):
		resource = apiResource
		pathParams = map[string]string{"proxy": strings.TrimPrefix(r.URL.Path, apiPrefix)}
	default:
		// API Gateway's answer for any resource or method it does not have.
		return writeGatewayError(w, errMissingToken), ""
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return writeGatewayError(w, errTooLarge), ""
		}
		return writeGatewayError(w, gatewayError{http.StatusBadRequest, "BadRequestException", "Could not read the request body", ""}), ""
	}

	req := s.newRequest(r, resource, pathParams, requestID)
	var principal string
	if resource == apiResource {
		// The identity source is required: without it API Gateway answers
		// 401 without calling the authorizer.
		if strings.TrimSpace(r.Header.Get(apiKeyHeader)) == "" {
			return writeGatewayError(w, errUnauthorized), ""
		}
		authz, gerr := s.authorize(r.Context(), req)
		if gerr != nil {
			return writeGatewayError(w, *gerr), ""
		}
		req.RequestContext.Authorizer = authz
		principal, _ = authz["principalId"].(string)
	}
	if ct := r.Header.Get("Content-Type"); (ct != "" && matchesBinary(ct)) || !utf8.Valid(body) {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	} else {
		req.Body = string(body)
	}
	return s.proxy(r.Context(), w, req, r.Header.Get("Accept")), principal
}

// publicIssuerResource is the resource template of a public per-issuer
// path (/api/v1/issuers/{id}/crl), or "".
func publicIssuerResource(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, apiPrefix), "/")
	if !strings.HasPrefix(path, apiPrefix) || len(parts) != 3 || parts[0] != "issuers" || parts[1] == "" {
		return ""
	}
	for _, p := range publicIssuerResources {
		if parts[2] == p {
			return apiPrefix + "issuers/{id}/" + p
		}
	}
	return ""
}

// matchesBinary reports whether a Content-Type or the first value of an
// Accept header matches one of BinaryMediaTypes, as API Gateway decides.
func matchesBinary(header string) bool {
	first, _, _ := strings.Cut(header, ",")
	mt, _, _ := strings.Cut(first, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	typ, _, ok := strings.Cut(mt, "/")
	if !ok {
		return false
	}
	for _, b := range BinaryMediaTypes {
		switch {
		case b == "*/*", b == mt, strings.HasSuffix(b, "/*") && strings.TrimSuffix(b, "/*") == typ:
			return true
		}
	}
	return false
}

// newRequest builds the proxy event minus the body and the authorizer.
func (s *Stack) newRequest(r *http.Request, resource string, pathParams map[string]string, requestID string) *events.APIGatewayProxyRequest {
	sourceIP, port := r.RemoteAddr, ""
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	hdr := r.Header.Clone()
	hdr.Set("Host", r.Host)
	fwd := sourceIP
	if prior := hdr.Get("X-Forwarded-For"); prior != "" {
		fwd = prior + ", " + sourceIP
	}
	hdr.Set("X-Forwarded-For", fwd)
	hdr.Set("X-Forwarded-Proto", "http")
	if port != "" {
		hdr.Set("X-Forwarded-Port", port)
	}
	headers, multiHeaders := flatten(hdr)
	query, _ := url.ParseQuery(r.URL.RawQuery)
	params, multiParams := flatten(query)
	now := time.Now()
	return &events.APIGatewayProxyRequest{
		Resource:                        resource,
		Path:                            r.URL.Path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multiHeaders,
		QueryStringParameters:           params,
		MultiValueQueryStringParameters: multiParams,
		PathParameters:                  pathParams,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         AccountID,
			ResourceID:        resourceID(resource),
			Stage:             s.stage,
			DomainName:        r.Host,
			DomainPrefix:      s.apiID,
			RequestID:         requestID,
			ExtendedRequestID: requestID,
			Protocol:          r.Proto,
			Identity:          events.APIGatewayRequestIdentity{SourceIP: sourceIP, UserAgent: r.UserAgent()},
			ResourcePath:      resource,
			Path:              "/" + s.stage + r.URL.Path,
			HTTPMethod:        r.Method,
			RequestTime:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch:  now.UnixMilli(),
			APIID:             s.apiID,
		},
	}
}

// authorize runs the REQUEST authorizer and evaluates its policy. It
// returns requestContext.authorizer, or the gateway error to answer with.
func (s *Stack) authorize(ctx context.Context, req *events.APIGatewayProxyRequest) (map[string]any, *gatewayError) {
	methodARN := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s/%s",
		Region, AccountID, s.apiID, s.stage, req.HTTPMethod, strings.TrimPrefix(req.Path, "/"))
	event := events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:                            "REQUEST",
		MethodArn:                       methodARN,
		Resource:                        req.Resource,
		Path:                            req.Path,
		HTTPMethod:                      req.HTTPMethod,
		Headers:                         req.Headers,
		MultiValueHeaders:               req.MultiValueHeaders,
		QueryStringParameters:           req.QueryStringParameters,
		MultiValueQueryStringParameters: req.MultiValueQueryStringParameters,
		PathParameters:                  req.PathParameters,
		StageVariables:                  req.StageVariables,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path:         req.RequestContext.Path,
			AccountID:    AccountID,
			ResourceID:   req.RequestContext.ResourceID,
			Stage:        s.stage,
			RequestID:    req.RequestContext.RequestID,
			Identity:     events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: req.RequestContext.Identity.SourceIP},
			ResourcePath: req.Resource,
			HTTPMethod:   req.HTTPMethod,
			APIID:        s.apiID,
		},
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, integrationTimeout)
	defer cancel()
	out, err := s.Invoke(ctx, app.FnAuthorizer, event)
	latency := time.Since(start).Milliseconds()
	var fnErr *FunctionError
	if errors.As(err, &fnErr) && fnErr.Message == "Unauthorized" {
		// The one error message API Gateway maps to 401.
		return nil, &errUnauthorized
	}
	if err != nil {
		s.logger.Warn("authorizer failed", "request_id", req.RequestContext.RequestID, "error", err)
		return nil, &errAuthorizer
	}
	var resp authorizerResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		s.logger.Warn("authorizer returned an invalid response", "request_id", req.RequestContext.RequestID, "error", err)
		return nil, &errAuthorizer
	}
	if !resp.PolicyDocument.allows(methodARN) {
		return nil, &errDenied
	}
	authz, err := resp.requestAuthorizer(latency)
	if err != nil {
		s.logger.Warn("authorizer returned an invalid context", "request_id", req.RequestContext.RequestID, "error", err)
		return nil, &errAuthorizer
	}
	return authz, nil
}

// proxy invokes the api function and writes its proxy response; accept is
// the request's Accept header, which decides whether a base64-encoded body
// goes out as bytes.
func (s *Stack) proxy(ctx context.Context, w http.ResponseWriter, req *events.APIGatewayProxyRequest, accept string) int {
	ctx, cancel := context.WithTimeout(ctx, integrationTimeout)
	defer cancel()
	out, err := s.Invoke(ctx, app.FnAPI, req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return writeGatewayError(w, errTimeout)
		}
		s.logger.Warn("api function failed", "request_id", req.RequestContext.RequestID, "error", err)
		return writeGatewayError(w, errIntegration)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		s.logger.Warn("malformed Lambda proxy response", "request_id", req.RequestContext.RequestID, "error", err)
		return writeGatewayError(w, errIntegration)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded && matchesBinary(accept) {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			s.logger.Warn("malformed Lambda proxy response body", "request_id", req.RequestContext.RequestID, "error", err)
			return writeGatewayError(w, errIntegration)
		}
	}
	// As documented for API Gateway: both maps are merged, and a key in
	// multiValueHeaders wins over the same key in headers.
	h := w.Header()
	for k, vs := range resp.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		if !hasFold(resp.MultiValueHeaders, k) {
			h.Set(k, v)
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json") // API Gateway's default
	}
	if h.Get("X-Request-Id") == "" {
		h.Set("X-Request-Id", req.RequestContext.RequestID)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return resp.StatusCode
}

func writeGatewayError(w http.ResponseWriter, e gatewayError) int {
	h := w.Header()
	body, _ := json.Marshal(map[string]any{"message": e.message})
	if e.text != "" {
		body, _ = json.Marshal(map[string]any{"error": e.text, "message": e.message, "request_id": h.Get("X-Amzn-Requestid")})
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", e.kind)
	if id := h.Get("X-Amzn-Requestid"); id != "" {
		h.Set("X-Request-Id", id)
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
	return e.status
}

// flatten turns a multi-valued map into API Gateway's pair of maps: the last
// value of each key, and all values. Both are nil when empty, as on AWS.
func flatten(m map[string][]string) (map[string]string, map[string][]string) {
	if len(m) == 0 {
		return nil, nil
	}
	single := make(map[string]string, len(m))
	multi := make(map[string][]string, len(m))
	for k, vs := range m {
		if len(vs) == 0 {
			continue
		}
		single[k] = vs[len(vs)-1]
		multi[k] = append([]string(nil), vs...)
	}
	return single, multi
}

func hasFold(m map[string][]string, key string) bool {
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// resourceID is a stable stand-in for API Gateway's resource ids.
func resourceID(resource string) string {
	switch {
	case publicResources[resource] || strings.HasPrefix(resource, apiPrefix+"issuers/{id}/"):
		return strings.ReplaceAll(strings.Trim(resource, "/"), "/", "-")
	case resource == consoleResource:
		return "console"
	case resource == consoleProxyResource:
		return "console-proxy"
	}
	return "proxy"
}
