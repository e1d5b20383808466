package apigw_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// eventsDir holds the sample events, as API Gateway sends them.
const eventsDir = "../../events"

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func proxyEvent(t *testing.T, name string) events.APIGatewayProxyRequest {
	t.Helper()
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(readEvent(t, name), &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// seen is what the test handler observed of the request.
type seen struct {
	method, path, remoteAddr string
	query                    map[string][]string
	header                   http.Header
	body                     []byte
	rc                       events.APIGatewayProxyRequestContext
	hasRC                    bool
}

// echo records the request into *got and answers 200 with a JSON body.
func echo(got *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		*got = seen{
			method: r.Method, path: r.URL.Path, remoteAddr: r.RemoteAddr,
			query: r.URL.Query(), header: r.Header.Clone(), body: body,
		}
		got.rc, got.hasRC = apigw.RequestContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Echo", "one")
		w.Header().Add("X-Echo", "two")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
}

// serveBoth runs the event through apigw.Handler directly (decoded with
// encoding/json) and through the Lambda runtime's adapter
// (lambda.NewHandler(...).Invoke with the raw payload), and checks both
// observed the same request and gave the same response.
func serveBoth(t *testing.T, h func(*seen) http.Handler, payload []byte) (seen, events.APIGatewayProxyResponse) {
	t.Helper()
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	var direct seen
	resp, err := apigw.Handler(h(&direct))(context.Background(), ev)
	if err != nil {
		t.Fatalf("direct: %v", err)
	}

	var viaLambda seen
	out, err := lambda.NewHandler(apigw.Handler(h(&viaLambda))).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("lambda.NewHandler(...).Invoke: %v", err)
	}
	var resp2 events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp2); err != nil {
		t.Fatalf("lambda response %s: %v", out, err)
	}
	if !reflect.DeepEqual(direct, viaLambda) {
		t.Errorf("the Lambda adapter saw a different request:\ndirect: %+v\nlambda: %+v", direct, viaLambda)
	}
	if !reflect.DeepEqual(resp, resp2) {
		t.Errorf("the Lambda adapter gave a different response:\ndirect: %+v\nlambda: %+v", resp, resp2)
	}
	return direct, resp
}

func TestProxySamples(t *testing.T) {
	const createBody = `{"id":"prof-web","name":"Web servers","requires_approval":true,"allowed_names":["**.web.example.com"],"allowed_key_algorithms":["ECDSA_P256"],"max_validity_seconds":7776000,"renew_before_seconds":2592000}`
	for _, tc := range []struct {
		file     string
		method   string
		path     string
		query    map[string][]string
		body     string
		headers  map[string]string
		authz    map[string]any // nil: no authorizer context
		userARN  string
		sourceIP string
	}{
		{
			file: "apigw-proxy-create-profile.json", method: http.MethodPost, path: "/api/v1/profiles",
			query: map[string][]string{}, body: createBody,
			headers: map[string]string{
				"Content-Type": "application/json",
				"X-Api-Key":    "cck_EXAMPLEaliceEXAMPLEaliceEXAMPLEaliceEXAMPLE",
				"Host":         "abcdef1234.execute-api.us-east-1.amazonaws.com",
			},
			authz:    map[string]any{"principalId": "alice", "principal": "alice", "roles": "operator,approver", "actor_type": "User"},
			sourceIP: "203.0.113.10",
		},
		{
			file: "apigw-proxy-approve.json", method: http.MethodPost, path: "/api/v1/approvals/ar-01jr8k3v7x4q2m9n5p6t0w1yzb/approve",
			query: map[string][]string{}, body: `{"note":"ticket SEC-1234: SANs checked"}`,
			headers: map[string]string{"Content-Type": "application/json", "User-Agent": "curl/8.5.0"},
			// REST APIs add integrationLatency (a number) next to the authorizer's context.
			authz:    map[string]any{"principalId": "bob", "integrationLatency": float64(37), "principal": "bob", "roles": "operator,approver", "actor_type": "User"},
			sourceIP: "198.51.100.23",
		},
		{
			file: "apigw-proxy-list-approvals.json", method: http.MethodGet, path: "/api/v1/approvals",
			query:    map[string][]string{"state": {"pending"}, "limit": {"10"}},
			headers:  map[string]string{"Accept": "application/json", "X-Forwarded-Proto": "https"},
			authz:    map[string]any{"principalId": "bob", "integrationLatency": float64(0), "principal": "bob", "roles": "operator,approver", "actor_type": "User"},
			sourceIP: "198.51.100.23",
		},
		{
			file: "apigw-proxy-iam-get-health.json", method: http.MethodGet, path: "/health",
			query:    map[string][]string{},
			headers:  map[string]string{"X-Amz-Date": "20250409T164501Z", "X-Amz-Security-Token": "IQoJb3JpZ2luX2VjEXAMPLETOKEN"},
			userARN:  "arn:aws:sts::123456789012:assumed-role/certctl-operator/deploy-check",
			sourceIP: "10.20.30.40",
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, resp := serveBoth(t, echo, readEvent(t, tc.file))
			if got.method != tc.method || got.path != tc.path {
				t.Errorf("request %s %s, want %s %s", got.method, got.path, tc.method, tc.path)
			}
			if !reflect.DeepEqual(got.query, tc.query) {
				t.Errorf("query %v, want %v", got.query, tc.query)
			}
			if string(got.body) != tc.body {
				t.Errorf("body %q, want %q", got.body, tc.body)
			}
			for k, v := range tc.headers {
				if vs := got.header.Values(k); len(vs) != 1 || vs[0] != v {
					t.Errorf("header %s = %q, want exactly [%q]", k, vs, v)
				}
			}
			if got.remoteAddr != tc.sourceIP {
				t.Errorf("RemoteAddr %q, want the source IP %q", got.remoteAddr, tc.sourceIP)
			}
			if !got.hasRC {
				t.Fatal("apigw.RequestContext: no request context on the request")
			}
			if got.rc.Stage != "prod" || got.rc.APIID != "abcdef1234" || got.rc.AccountID != "123456789012" || got.rc.RequestID == "" {
				t.Errorf("request context stage %q api %q account %q request %q", got.rc.Stage, got.rc.APIID, got.rc.AccountID, got.rc.RequestID)
			}
			if !reflect.DeepEqual(got.rc.Authorizer, tc.authz) {
				t.Errorf("authorizer context %#v, want %#v", got.rc.Authorizer, tc.authz)
			}
			if got.rc.Identity.UserArn != tc.userARN {
				t.Errorf("identity userArn %q, want %q", got.rc.Identity.UserArn, tc.userARN)
			}
			if resp.StatusCode != http.StatusOK || resp.Body != `{"ok":true}` || resp.IsBase64Encoded {
				t.Errorf("response %d %q base64=%v", resp.StatusCode, resp.Body, resp.IsBase64Encoded)
			}
			if got := resp.MultiValueHeaders["X-Echo"]; !reflect.DeepEqual(got, []string{"one", "two"}) {
				t.Errorf("multi-value response header X-Echo = %q", got)
			}
		})
	}
}

func TestIAMSampleIdentity(t *testing.T) {
	ev := proxyEvent(t, "apigw-proxy-iam-get-health.json")
	if ev.RequestContext.Authorizer != nil {
		t.Errorf("an AWS_IAM request carries no authorizer context, got %v", ev.RequestContext.Authorizer)
	}
	id := ev.RequestContext.Identity
	if id.AccountID != "123456789012" || id.AccessKey == "" || !strings.HasPrefix(id.Caller, "AROA") || id.User != id.Caller {
		t.Errorf("identity: %+v", id)
	}
	if ev.Resource != "/health" || ev.PathParameters != nil {
		t.Errorf("resource %q path parameters %v", ev.Resource, ev.PathParameters)
	}
}

// withBody returns the create-profile sample with a base64-encoded body.
func withBody(t *testing.T, body []byte) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readEvent(t, "apigw-proxy-create-profile.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["body"] = base64.StdEncoding.EncodeToString(body)
	ev["isBase64Encoded"] = true
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBase64RequestBody(t *testing.T) {
	for name, body := range map[string][]byte{
		"json":   []byte(`{"name":"encoded"}`),
		"binary": {0x30, 0x82, 0x01, 0x0a, 0xff, 0xfe, 0x00, 0x80},
	} {
		t.Run(name, func(t *testing.T) {
			got, _ := serveBoth(t, echo, withBody(t, body))
			if !bytes.Equal(got.body, body) {
				t.Errorf("decoded body %x, want %x", got.body, body)
			}
		})
	}

	t.Run("malformed", func(t *testing.T) {
		ev := proxyEvent(t, "apigw-proxy-create-profile.json")
		ev.Body, ev.IsBase64Encoded = "not base64!", true
		called := false
		resp, err := apigw.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if called || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("malformed base64 body: handler called=%v, status %d", called, resp.StatusCode)
		}
		// The gateway's own refusal still has the API's error shape.
		var body struct {
			Error     string `json:"error"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(resp.Body), &body) != nil || body.Error != "Bad Request" || body.Message == "" ||
			body.RequestID != ev.RequestContext.RequestID || resp.Headers["Content-Type"] != "application/json" {
			t.Errorf("malformed body answer: %+v %s", resp.Headers, resp.Body)
		}
	})
}

func TestBinaryResponse(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0x00, 0xff}
	for _, tc := range []struct {
		name        string
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"invalid UTF-8", "image/png", png, true},
		{"binary type, UTF-8 content", "application/octet-stream", []byte("plain bytes"), true},
		{"DER certificate", "application/pkix-cert", []byte{0x30, 0x82, 0x03, 0x00}, true},
		{"JSON", "application/json", []byte(`{"a":"é"}`), false},
		{"PEM text", "text/plain; charset=utf-8", []byte("-----BEGIN CERTIFICATE-----\n"), false},
		{"JavaScript", "text/javascript; charset=utf-8", []byte("export const a = 1\n"), false},
		{"SVG", "image/svg+xml; charset=utf-8", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), false},
		{"legacy JavaScript type", "application/javascript", []byte("let a\n"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := func(*seen) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", tc.contentType)
					_, _ = w.Write(tc.body)
				})
			}
			_, resp := serveBoth(t, h, readEvent(t, "apigw-proxy-list-approvals.json"))
			if resp.IsBase64Encoded != tc.wantBase64 {
				t.Fatalf("IsBase64Encoded = %v, want %v (body %q)", resp.IsBase64Encoded, tc.wantBase64, resp.Body)
			}
			body := []byte(resp.Body)
			if resp.IsBase64Encoded {
				var err error
				if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, tc.body) {
				t.Errorf("body %x, want %x", body, tc.body)
			}
			if got := resp.MultiValueHeaders["Content-Type"]; len(got) != 1 || got[0] != tc.contentType {
				t.Errorf("Content-Type %q", got)
			}
		})
	}
}

// TestSamplesThroughRealHandlers runs the samples through the real api and
// authorizer handlers (app.Handler) on the local stack, via the Lambda
// runtime's adapter, as Lambda would.
func TestSamplesThroughRealHandlers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack")
	}
	ctx := context.Background()
	cfg, err := config.Parse(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApprovalTimeout = time.Hour
	cfg.LogLevel = "ERROR"
	stack, err := devstack.Start(ctx, devstack.Options{Config: cfg, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stack.Close() })

	t.Run("api", func(t *testing.T) {
		h, err := app.Handler(ctx, app.FnAPI, stack.Config, stack.AWSConfig)
		if err != nil {
			t.Fatal(err)
		}
		invoke := lambda.NewHandler(h).Invoke
		// In order: the profile the first sample creates is real afterwards.
		for _, tc := range []struct {
			file   string
			status int
			check  func(body string) bool
		}{
			{"apigw-proxy-create-profile.json", http.StatusCreated, func(body string) bool {
				var p struct {
					ID               string `json:"id"`
					RequiresApproval bool   `json:"requires_approval"`
					CreatedBy        string `json:"created_by"`
				}
				return json.Unmarshal([]byte(body), &p) == nil && p.ID == "prof-web" && p.RequiresApproval && p.CreatedBy == "alice"
			}},
			// bob is an authenticated approver: the request is refused only
			// because the sample's approval request does not exist here.
			{"apigw-proxy-approve.json", http.StatusNotFound, func(body string) bool {
				return strings.Contains(body, "ar-01jr8k3v7x4q2m9n5p6t0w1yzb") && strings.Contains(body, "5e1d2c3b-4a59-4687-b7c8-d9e0f1a2b3c4")
			}},
			{"apigw-proxy-list-approvals.json", http.StatusOK, func(body string) bool {
				var l struct {
					Data []json.RawMessage `json:"data"`
				}
				return json.Unmarshal([]byte(body), &l) == nil && l.Data != nil
			}},
			{"apigw-proxy-iam-get-health.json", http.StatusOK, func(body string) bool {
				return strings.Contains(body, `"ok"`)
			}},
		} {
			out, err := invoke(ctx, readEvent(t, tc.file))
			if err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			var resp events.APIGatewayProxyResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("%s: %s: %v", tc.file, out, err)
			}
			if resp.StatusCode != tc.status || !tc.check(resp.Body) {
				t.Errorf("%s: status %d, want %d: %s", tc.file, resp.StatusCode, tc.status, resp.Body)
			}
		}
	})

	t.Run("authorizer", func(t *testing.T) {
		db := dynamodb.NewFromConfig(stack.AWSConfig)
		key, err := apikey.Bootstrap(ctx, store.New(db, stack.Config.StateTable, stack.Config.AuditTable), "bob",
			[]domain.Role{domain.RoleOperator, domain.RoleApprover})
		if err != nil {
			t.Fatal(err)
		}
		h, err := app.Handler(ctx, app.FnAuthorizer, stack.Config, stack.AWSConfig)
		if err != nil {
			t.Fatal(err)
		}
		invoke := lambda.NewHandler(h).Invoke

		out, err := invoke(ctx, authorizerEventWithKey(t, key))
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayCustomAuthorizerResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		st := resp.PolicyDocument.Statement
		const wantResource = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*/*"
		if resp.PrincipalID != "bob" || len(st) != 1 || st[0].Effect != "Allow" ||
			!reflect.DeepEqual(st[0].Resource, []string{wantResource}) || !reflect.DeepEqual(st[0].Action, []string{"execute-api:Invoke"}) {
			t.Errorf("policy: %s", out)
		}
		if resp.Context["principal"] != "bob" || resp.Context["roles"] != "operator,approver" {
			t.Errorf("context: %v", resp.Context)
		}

		// The sample's own placeholder key is not in the table.
		if _, err := invoke(ctx, readEvent(t, "apigw-authorizer-request.json")); err == nil || err.Error() != "Unauthorized" {
			t.Errorf("placeholder key: error %v, want Unauthorized", err)
		}
	})
}

// authorizerEventWithKey returns the authorizer sample with key in both
// header maps.
func authorizerEventWithKey(t *testing.T, key string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readEvent(t, "apigw-authorizer-request.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["headers"].(map[string]any)["X-Api-Key"] = key
	ev["multiValueHeaders"].(map[string]any)["X-Api-Key"] = []string{key}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
