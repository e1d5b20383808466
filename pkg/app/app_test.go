package app

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
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
	cfg := config.Config{StateTable: "s", AuditTable: "a", StateMachineARN: "arn:aws:states:us-east-1:1:stateMachine:m", Bypass: true, Stage: "dev"}
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
	bad := config.Config{StateTable: "s", AuditTable: "a", StateMachineARN: "arn", IAMPrincipals: `[{"role":"x"}]`}
	if _, err := Handler(ctx, FnAPI, bad, aws.Config{}); err == nil || !strings.Contains(err.Error(), config.EnvIAMPrincipals) {
		t.Fatalf("bad IAM mapping: %v", err)
	}
	if _, err := Handler(ctx, "nope", config.Config{StateTable: "s", AuditTable: "a"}, aws.Config{}); err == nil {
		t.Fatal("unknown function accepted")
	}
}
