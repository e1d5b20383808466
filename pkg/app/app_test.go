package app

import (
	"context"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// captureStdout runs f with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	f()
	os.Stdout = old
	_ = w.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

func TestBypassWarnsAtEveryColdStart(t *testing.T) {
	cfg := config.Config{StateTable: "s", AuditTable: "a", StateMachineARN: "arn:aws:states:us-east-1:1:stateMachine:m", EventBus: "bus", Bypass: true, Stage: "dev"}
	for _, fn := range []string{FnFinalize, FnApprovalWait, FnReaper} {
		out := captureStdout(t, func() {
			if _, err := Handler(context.Background(), fn, cfg, aws.Config{Region: "us-east-1"}); err != nil {
				t.Fatalf("%s: %v", fn, err)
			}
		})
		if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, "CERTCTL_APPROVAL_BYPASS") || !strings.Contains(out, `"function":"`+fn+`"`) {
			t.Fatalf("%s cold start with bypass on logged no WARN: %q", fn, out)
		}
	}
	cfg.Bypass = false
	out := captureStdout(t, func() { _, _ = Handler(context.Background(), FnFinalize, cfg, aws.Config{Region: "us-east-1"}) })
	if strings.Contains(out, "WARN") {
		t.Fatalf("WARN with bypass off: %q", out)
	}
}

func TestHandlerRefusesIncompleteConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := Handler(ctx, FnAPI, config.Config{AuditTable: "a"}, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvStateTable) {
		t.Fatalf("missing table: %v", err)
	}
	if _, err := Handler(ctx, FnAPI, config.Config{StateTable: "s", AuditTable: "a"}, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvStateMachineARN) {
		t.Fatalf("api without a state machine: %v", err)
	}
	if _, err := Handler(ctx, FnReaper, config.Config{StateTable: "s", AuditTable: "a"}, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvStateMachineARN) {
		t.Fatalf("reaper without a state machine (it starts executions): %v", err)
	}
	if _, err := Handler(ctx, FnAPI, config.Config{StateTable: "s", AuditTable: "a", StateMachineARN: "arn", LogLevel: "verbose"}, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvLogLevel) {
		t.Fatalf("a bad log level must stop the cold start: %v", err)
	}
	if _, err := Handler(ctx, FnAPI, config.Config{StateTable: "s", AuditTable: "a", StateMachineARN: "arn"}, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvDigestKeyID) {
		t.Fatalf("api without the digest key (its public half): %v", err)
	}
	if _, err := Handler(ctx, FnDigest, config.Config{StateTable: "s", AuditTable: "a"}, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvDigestKeyID) {
		t.Fatalf("digest without its key: %v", err)
	}
	bad := config.Config{StateTable: "s", AuditTable: "a", StateMachineARN: "arn", DigestKeyID: "k", IAMPrincipals: `[{"role":"x"}]`}
	if _, err := Handler(ctx, FnAPI, bad, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvIAMPrincipals) {
		t.Fatalf("bad IAM mapping: %v", err)
	}
	// Every function that commits a transition people hear about needs the
	// bus its events go to; approval-wait and the authorizer commit none.
	full := config.Config{StateTable: "s", AuditTable: "a", StateMachineARN: "arn", CAKeyID: "arn:aws:kms:us-east-1:1:key/k", DigestKeyID: "k"}
	for _, fn := range []string{FnAPI, FnIssue, FnFinalize, FnSweep, FnReaper} {
		if _, err := Handler(ctx, fn, full, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvEventBus) {
			t.Errorf("%s without an event bus: %v", fn, err)
		}
	}
	for _, fn := range []string{FnApprovalWait, FnAuthorizer} {
		if _, err := Handler(ctx, fn, full, aws.Config{}); err != nil {
			t.Errorf("%s needs no event bus: %v", fn, err)
		}
	}
	if _, err := Handler(ctx, "nope", config.Config{StateTable: "s", AuditTable: "a"}, aws.Config{}); err == nil {
		t.Fatal("unknown function accepted")
	}
}

// A workflow task that fails for a reason retrying can fix must reach
// Lambda as the error type the state machine retries: a wrapper anywhere
// between the rule and the runtime renames it and the retry never fires.
// (Finalize's states retry every error, so its type does not matter.)
func TestTransientTaskFailuresAreRetryableByName(t *testing.T) {
	cfg := config.Config{StateTable: "s", AuditTable: "a", EventBus: "bus", CAKeyID: "arn:aws:kms:us-east-1:123456789012:key/k",
		StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:m", Stage: "test", LogLevel: "ERROR"}
	awsCfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String("http://127.0.0.1:1"), // nothing listens: every AWS call fails transiently
		RetryMaxAttempts: 1,
	}
	for fn, payload := range map[string]string{
		FnApprovalWait: `{"task_token":"tok","job_id":"job-1","approval_id":"ar-1"}`,
		FnIssue:        `{"job_id":"job-1"}`,
	} {
		var h any
		captureStdout(t, func() {
			var err error
			if h, err = Handler(context.Background(), fn, cfg, awsCfg); err != nil {
				t.Fatalf("%s: %v", fn, err)
			}
		})
		var err error
		captureStdout(t, func() { _, err = lambda.NewHandler(h).Invoke(context.Background(), []byte(payload)) })
		if err == nil {
			t.Fatalf("%s: succeeded with AWS unreachable", fn)
		}
		// aws-lambda-go's errorType: the error's type name, without the pointer.
		typ := reflect.TypeOf(err)
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Name() != workflow.ErrorTypeRetryable {
			t.Errorf("%s: Lambda would report errorType %q (%v), want %q", fn, typ.Name(), err, workflow.ErrorTypeRetryable)
		}
	}
}
