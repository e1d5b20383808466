package devstack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

// echo is what the fake api function answers: the event it received and
// the Lambda context it ran with.
type echo struct {
	Event       events.APIGatewayProxyRequest `json:"event"`
	RequestID   string                        `json:"request_id"`
	FunctionARN string                        `json:"function_arn"`
}

type frontFakes struct {
	authCalls atomic.Int32
	mu        sync.Mutex
	lastAuth  events.APIGatewayCustomAuthorizerRequestTypeRequest
}

func (f *frontFakes) authorizer(_ context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (any, error) {
	f.authCalls.Add(1)
	f.mu.Lock()
	f.lastAuth = ev
	f.mu.Unlock()
	apiARN, _, _ := strings.Cut(ev.MethodArn, "/") // arn:...:<apiId>
	allow := func(resource string) events.APIGatewayCustomAuthorizerResponse {
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: "alice",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
				{Effect: "Allow", Action: []string{"execute-api:Invoke"}, Resource: []string{resource}},
			}},
			Context: map[string]any{"principal": "alice", "roles": "operator,approver", "key_id": 7, "admin": false},
		}
	}
	switch ev.Headers["X-Api-Key"] {
	case "good":
		return allow(apiARN + "/*/*"), nil
	case "get-only":
		return allow(apiARN + "/*/GET/*"), nil
	case "deny":
		resp := allow(apiARN + "/*/*")
		resp.PolicyDocument.Statement = append(resp.PolicyDocument.Statement,
			events.IAMPolicyStatement{Effect: "Deny", Action: []string{"execute-api:*"}, Resource: []string{ev.MethodArn}})
		return resp, nil
	case "nested":
		// API Gateway rejects objects in the context.
		return map[string]any{"principalId": "x", "policyDocument": map[string]any{"Statement": []any{
			map[string]any{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}}},
			"context": map[string]any{"roles": []string{"viewer"}}}, nil
	case "boom":
		return nil, errors.New("table not found")
	}
	return nil, errors.New("Unauthorized")
}

func fakeAPI(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	if ev.PathParameters["proxy"] == "binary" {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe}),
			IsBase64Encoded: true, Headers: map[string]string{"Content-Type": "application/octet-stream"}}, nil
	}
	body, _ := json.Marshal(echo{Event: ev, RequestID: lc.AwsRequestID, FunctionARN: lc.InvokedFunctionArn})
	return events.APIGatewayProxyResponse{
		StatusCode:        201,
		Headers:           map[string]string{"Content-Type": "application/json", "X-Single": "one"},
		MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}},
		Body:              string(body),
	}, nil
}

func TestFront(t *testing.T) {
	f := &frontFakes{}
	s := startStack(t, Options{Handler: fakes{app.FnAuthorizer: f.authorizer, app.FnAPI: fakeAPI}.build})

	do := func(method, path, key string, body []byte, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	decode := func(b []byte) echo {
		t.Helper()
		var e echo
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("decode echo %s: %v", b, err)
		}
		return e
	}

	t.Run("round trip", func(t *testing.T) {
		resp, b := do("POST", "/api/v1/certificates/abc?limit=5&tag=a&tag=b", "good", []byte(`{"csr":"x"}`),
			"X-Trace", "t1", "X-Trace", "t2")
		if resp.StatusCode != 201 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		e := decode(b)
		ev := e.Event
		checks := map[string][2]string{
			"path":            {ev.Path, "/api/v1/certificates/abc"},
			"resource":        {ev.Resource, "/api/v1/{proxy+}"},
			"proxy":           {ev.PathParameters["proxy"], "certificates/abc"},
			"method":          {ev.HTTPMethod, "POST"},
			"body":            {ev.Body, `{"csr":"x"}`},
			"query limit":     {ev.QueryStringParameters["limit"], "5"},
			"query tag":       {ev.QueryStringParameters["tag"], "b"},
			"multi query":     {strings.Join(ev.MultiValueQueryStringParameters["tag"], ","), "a,b"},
			"header":          {ev.Headers["X-Trace"], "t2"},
			"multi header":    {strings.Join(ev.MultiValueHeaders["X-Trace"], ","), "t1,t2"},
			"api key header":  {ev.Headers["X-Api-Key"], "good"},
			"stage":           {ev.RequestContext.Stage, DefaultStage},
			"ctx path":        {ev.RequestContext.Path, "/local/api/v1/certificates/abc"},
			"ctx resource":    {ev.RequestContext.ResourcePath, "/api/v1/{proxy+}"},
			"ctx method":      {ev.RequestContext.HTTPMethod, "POST"},
			"account":         {ev.RequestContext.AccountID, AccountID},
			"source ip":       {ev.RequestContext.Identity.SourceIP, "127.0.0.1"},
			"principalId":     {ev.RequestContext.Authorizer["principalId"].(string), "alice"},
			"ctx principal":   {ev.RequestContext.Authorizer["principal"].(string), "alice"},
			"ctx roles":       {ev.RequestContext.Authorizer["roles"].(string), "operator,approver"},
			"ctx number":      {ev.RequestContext.Authorizer["key_id"].(string), "7"},
			"ctx bool":        {ev.RequestContext.Authorizer["admin"].(string), "false"},
			"x-request-id":    {resp.Header.Get("X-Request-Id"), ev.RequestContext.RequestID},
			"response single": {resp.Header.Get("X-Single"), "one"},
			"response multi":  {strings.Join(resp.Header.Values("X-Multi"), ","), "a,b"},
			"function arn":    {e.FunctionARN, s.Functions[app.FnAPI]},
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("%s = %q, want %q", name, c[0], c[1])
			}
		}
		if ev.IsBase64Encoded || ev.RequestContext.RequestID == "" || ev.RequestContext.APIID == "" || e.RequestID == "" {
			t.Errorf("base64=%v request id=%q api id=%q lambda request id=%q",
				ev.IsBase64Encoded, ev.RequestContext.RequestID, ev.RequestContext.APIID, e.RequestID)
		}
		f.mu.Lock()
		auth := f.lastAuth
		f.mu.Unlock()
		wantARN := "arn:aws:execute-api:us-east-1:" + AccountID + ":" + ev.RequestContext.APIID + "/local/POST/api/v1/certificates/abc"
		if auth.Type != "REQUEST" || auth.MethodArn != wantARN || auth.Path != ev.Path || auth.Resource != ev.Resource ||
			auth.QueryStringParameters["limit"] != "5" || auth.PathParameters["proxy"] != "certificates/abc" ||
			auth.RequestContext.RequestID != ev.RequestContext.RequestID {
			t.Errorf("authorizer event = %+v, want method ARN %s", auth, wantARN)
		}
	})

	t.Run("public resources need no key", func(t *testing.T) {
		for _, path := range []string{"/health", "/api/v1/health", "/api/v1/openapi.json"} {
			before := f.authCalls.Load()
			resp, b := do("GET", path, "", nil)
			if resp.StatusCode != 201 {
				t.Fatalf("%s: status %d: %s", path, resp.StatusCode, b)
			}
			ev := decode(b).Event
			if ev.Resource != path || ev.Path != path || ev.PathParameters != nil || ev.RequestContext.Authorizer != nil {
				t.Errorf("%s: event = %+v", path, ev)
			}
			if f.authCalls.Load() != before {
				t.Errorf("authorizer called for %s", path)
			}
		}
	})

	t.Run("console needs no key", func(t *testing.T) {
		before := f.authCalls.Load()
		for path, want := range map[string][2]string{
			"/console":            {"/console", ""},
			"/console/":           {"/console", ""},
			"/console/console.js": {"/console/{proxy+}", "console.js"},
		} {
			resp, b := do("GET", path, "", nil)
			if resp.StatusCode != 201 {
				t.Fatalf("%s: status %d: %s", path, resp.StatusCode, b)
			}
			ev := decode(b).Event
			if ev.Resource != want[0] || ev.Path != path || ev.PathParameters["proxy"] != want[1] || ev.RequestContext.Authorizer != nil {
				t.Errorf("%s: event = %+v", path, ev)
			}
		}
		if f.authCalls.Load() != before {
			t.Error("authorizer called for the console")
		}
	})

	// As API Gateway with binaryMediaTypes */*: a base64-encoded answer goes
	// out as bytes when the first Accept value matches (curl sends */*),
	// as the base64 text otherwise; a request body with a Content-Type
	// reaches the function base64-encoded, as does one that is not UTF-8.
	t.Run("binary bodies", func(t *testing.T) {
		for _, accept := range []string{"*/*", "application/pkix-crl", "application/octet-stream, application/json", "text/html;q=0.9, */*"} {
			resp, b := do("PUT", "/api/v1/binary", "good", []byte{0xff, 0xfe}, "Accept", accept)
			if resp.StatusCode != 200 || !bytes.Equal(b, []byte{0xff, 0x00, 0xfe}) || resp.Header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("Accept %q: status %d body %x headers %v", accept, resp.StatusCode, b, resp.Header)
			}
		}
		resp, b := do("PUT", "/api/v1/binary", "good", nil)
		if resp.StatusCode != 200 || string(b) != base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe}) {
			t.Fatalf("no Accept: status %d body %q, want the base64 text", resp.StatusCode, b)
		}
		_, b = do("PUT", "/api/v1/echo", "good", []byte{0xff, 0xfe})
		ev := decode(b).Event
		if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe}) {
			t.Errorf("body %q base64=%v", ev.Body, ev.IsBase64Encoded)
		}
		_, b = do("PUT", "/api/v1/echo", "good", []byte(`{"a":1}`), "Content-Type", "application/json")
		ev = decode(b).Event
		if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)) {
			t.Errorf("JSON body %q base64=%v, want base64 (Content-Type matches */*)", ev.Body, ev.IsBase64Encoded)
		}
		_, b = do("PUT", "/api/v1/echo", "good", []byte(`plain`))
		if ev = decode(b).Event; ev.IsBase64Encoded || ev.Body != "plain" {
			t.Errorf("body without a Content-Type %q base64=%v, want text", ev.Body, ev.IsBase64Encoded)
		}
	})

	t.Run("public issuer resources", func(t *testing.T) {
		for _, path := range []string{"/api/v1/issuers/default/crl", "/api/v1/issuers/other/ca"} {
			before := f.authCalls.Load()
			resp, b := do("GET", path, "", nil)
			ev := decode(b).Event
			if resp.StatusCode != 201 || ev.Resource != strings.Replace(path, strings.Split(path, "/")[4], "{id}", 1) ||
				ev.PathParameters["id"] != strings.Split(path, "/")[4] || ev.RequestContext.Authorizer != nil {
				t.Errorf("%s: status %d resource %q params %v authorizer %v", path, resp.StatusCode, ev.Resource, ev.PathParameters, ev.RequestContext.Authorizer)
			}
			if f.authCalls.Load() != before {
				t.Errorf("authorizer called for %s", path)
			}
		}
		for _, path := range []string{"/api/v1/issuers/default/crl"} {
			if resp, _ := do("POST", path, "", nil); resp.StatusCode != 401 {
				t.Errorf("POST %s without a key: %d, want 401", path, resp.StatusCode)
			}
		}
		if resp, _ := do("GET", "/api/v1/issuers/default", "", nil); resp.StatusCode != 401 {
			t.Errorf("GET an issuer without a key: %d, want 401", resp.StatusCode)
		}
	})

	gatewayErrors := []struct {
		name, method, path, key string
		body                    []byte
		status                  int
		message                 string
		callsAuthorizer         bool
	}{
		// The answers the stack reshapes (its gateway responses) carry the
		// API's error shape; {id} stands for the request id.
		{"no key", "GET", "/api/v1/certificates", "", nil, 401, `{"error":"Unauthorized","message":"Unauthorized","request_id":"{id}"}`, false},
		{"authorizer says Unauthorized", "GET", "/api/v1/certificates", "wrong", nil, 401, `{"error":"Unauthorized","message":"Unauthorized","request_id":"{id}"}`, true},
		{"explicit deny", "GET", "/api/v1/certificates", "deny", nil, 403, `{"error":"Forbidden","message":"User is not authorized to access this resource","request_id":"{id}"}`, true},
		{"no matching allow", "POST", "/api/v1/certificates", "get-only", nil, 403, `{"error":"Forbidden","message":"User is not authorized to access this resource","request_id":"{id}"}`, true},
		{"authorizer error", "GET", "/api/v1/certificates", "boom", nil, 500, `{"error":"Internal Server Error","message":null,"request_id":"{id}"}`, true},
		{"object in context", "GET", "/api/v1/certificates", "nested", nil, 500, `{"error":"Internal Server Error","message":null,"request_id":"{id}"}`, true},
		{"unknown resource", "GET", "/api/v2/x", "good", nil, 401, `{"error":"Unauthorized","message":"Missing Authentication Token","request_id":"{id}"}`, false},
		{"wrong method on health", "POST", "/health", "", nil, 401, `{"error":"Unauthorized","message":"Missing Authentication Token","request_id":"{id}"}`, false},
		{"wrong method on the document", "DELETE", "/api/v1/openapi.json", "", nil, 401, `{"error":"Unauthorized","message":"Unauthorized","request_id":"{id}"}`, false},
		{"wrong method on the console", "POST", "/console/", "", nil, 401, `{"error":"Unauthorized","message":"Missing Authentication Token","request_id":"{id}"}`, false},
		{"body too large", "POST", "/api/v1/certificates", "good", make([]byte, MaxBodyBytes+1), 413, `{"message":"Request Too Long"}`, false},
	}
	for _, tc := range gatewayErrors {
		t.Run(tc.name, func(t *testing.T) {
			before := f.authCalls.Load()
			resp, b := do(tc.method, tc.path, tc.key, tc.body)
			want := strings.ReplaceAll(tc.message, "{id}", resp.Header.Get("X-Amzn-Requestid"))
			if resp.StatusCode != tc.status || string(b) != want {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, b, tc.status, want)
			}
			if called := f.authCalls.Load() != before; called != tc.callsAuthorizer {
				t.Errorf("authorizer called = %v, want %v", called, tc.callsAuthorizer)
			}
			if resp.Header.Get("X-Amzn-Requestid") == "" || resp.Header.Get("X-Amzn-Errortype") == "" {
				t.Errorf("headers %v", resp.Header)
			}
		})
	}
}

func TestInvokeReportsFunctionErrors(t *testing.T) {
	s := startStack(t, Options{Handler: fakes{
		app.FnSweep:  func(context.Context) error { return errors.New("sweep broke") },
		app.FnReaper: func(context.Context) error { panic("reaper exploded") }, // a panic is a function error too
	}.build})
	_, err := s.Invoke(t.Context(), app.FnSweep, struct{}{})
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Message != "sweep broke" || fe.Type != "errorString" {
		t.Fatalf("err = %#v", err)
	}
	if _, err := s.Invoke(t.Context(), app.FnReaper, struct{}{}); !errors.As(err, &fe) || fe.Message != "reaper exploded" || fe.Type != "string" {
		t.Fatalf("panic: err = %v", err)
	}
}
