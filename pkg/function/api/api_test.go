package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

// A request that fails logs one line naming the Lambda request and the API
// Gateway request, without the handler passing either.
func TestFailureLinesCarryTheirRequestIDs(t *testing.T) {
	var out bytes.Buffer
	cfg := config.Config{
		Stage: "test", StateTable: "state", AuditTable: "audit",
		StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:renewal", EventBus: "bus",
		DigestKeyID: "arn:aws:kms:us-east-1:123456789012:key/digest",
	}
	awsCfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String("http://127.0.0.1:1"), // nothing listens: every call fails
		RetryMaxAttempts: 1,
	}
	env, err := lambdafn.NewEnv(Name, cfg, awsCfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"})
	resp, err := h(ctx, events.APIGatewayProxyRequest{
		HTTPMethod: http.MethodGet, Path: "/api/v1/profiles/web", Resource: "/api/v1/profiles/{id}",
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID:  "apigw-req-9",
			Authorizer: map[string]any{"principal": "carol", "roles": "viewer"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 (DynamoDB unreachable): %s\n%s", resp.StatusCode, resp.Body, out.String())
	}
	var line map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil && m["msg"] == "request failed" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no request-failed line in %q", out.String())
	}
	for k, want := range map[string]string{"aws_request_id": "lambda-req-1", "api_request_id": "apigw-req-9", "function": Name, "path": "/api/v1/profiles/web"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %s", k, line[k], want)
		}
	}
}
