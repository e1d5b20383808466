package devstack

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
)

func TestTickerInvokesReaper(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var payload string
	s := startStack(t, Options{
		ReaperInterval: 20 * time.Millisecond,
		Handler: fakes{app.FnReaper: func(_ context.Context, in json.RawMessage) (map[string]int, error) {
			mu.Lock()
			payload = string(in)
			mu.Unlock()
			return map[string]int{"expired": int(calls.Add(1))}, nil
		}}.build,
	})
	eventually(t, "two reaper runs", func() bool { return calls.Load() >= 2 })
	mu.Lock()
	if payload != "{}" {
		t.Errorf("reaper payload = %q, want {}", payload)
	}
	mu.Unlock()

	// Close waits for the ticker goroutine, so nothing runs after it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after := calls.Load()
	if _, err := s.Invoke(t.Context(), app.FnReaper, struct{}{}); err == nil {
		t.Error("Invoke works after Close")
	}
	if calls.Load() != after {
		t.Error("reaper ran after Close")
	}
}

// Connections that were dialled but never used (browsers pre-connect; pooled
// clients leave them behind) must not make Close slow or report an error.
func TestCloseWithUnusedConnections(t *testing.T) {
	s := startStack(t, Options{Handler: fakes{}.build})
	for _, addr := range []string{strings.TrimPrefix(s.URL, "http://"), strings.TrimPrefix(s.functions.url, "http://")} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Close took %s", d)
	}
}

// The handlers get an aws.Config on the emulator, with the caller's
// APIOptions, and the complete configuration.
func TestHandlerConfig(t *testing.T) {
	var mu sync.Mutex
	ops := map[string]int{}
	count := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(
			ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
		) (middleware.InitializeOutput, middleware.Metadata, error) {
			mu.Lock()
			ops[middleware.GetOperationName(ctx)]++
			mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}
	var got config.Config
	s := startStack(t, Options{
		Config:        config.Config{Bypass: true, Stage: "dev"},
		AWSAPIOptions: []func(*middleware.Stack) error{count},
		Handler: func(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error) {
			if name != app.FnSweep {
				return fakes{}.build(ctx, name, cfg, awsCfg)
			}
			got = cfg
			ddb := dynamodb.NewFromConfig(awsCfg)
			return func(ctx context.Context) (string, error) {
				out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.StateTable)})
				if err != nil {
					return "", err
				}
				return string(out.Table.TableStatus), nil
			}, nil
		},
	})
	out, err := s.Invoke(t.Context(), app.FnSweep, struct{}{})
	if err != nil || string(out) != `"ACTIVE"` {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if ops["DescribeTable"] != 1 {
		t.Errorf("counted operations %v, want one DescribeTable", ops)
	}
	if got != s.Config || !got.Bypass || got.Stage != "dev" || got.ApprovalTimeout != config.DefaultApprovalTimeout ||
		!strings.HasPrefix(got.CAKeyID, "arn:aws:kms:") || !strings.HasPrefix(got.StateMachineARN, "arn:aws:states:") ||
		got.StateTable == "" || got.AuditTable == "" {
		t.Errorf("handler config %+v, stack config %+v", got, s.Config)
	}
	if err := got.Require(config.EnvStateTable, config.EnvAuditTable, config.EnvStateMachineARN, config.EnvCAKeyID); err != nil {
		t.Error(err)
	}
}

func TestRemainingTimeout(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct{ in, want string }{
		{`{"job_id":"j","timeout_seconds":600,"x":1.5}`, `{"job_id":"j","timeout_seconds":300,"x":1.5}`},
		{`{"timeout_seconds":100}`, `{"timeout_seconds":1}`},
		{`{"job_id":"j"}`, `{"job_id":"j"}`},
		{`not json`, `not json`},
	}
	for _, c := range cases {
		if got := remainingTimeout(c.in, t0, t0.Add(5*time.Minute)); got != c.want {
			t.Errorf("remainingTimeout(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if !killedByCap("States.Runtime", "kumo enforced its internal 5m0s execution cap; the state machine did not set a TimeoutSeconds within that bound") {
		t.Error("cap failure not recognised")
	}
	if killedByCap("States.Runtime", "no Choice Rule matched") || killedByCap("JobFailed", "execution cap") {
		t.Error("ordinary failure taken for the cap")
	}
}

func TestWildcardMatch(t *testing.T) {
	arn := "arn:aws:execute-api:us-east-1:000000000000:abc/local/GET/api/v1/certificates/x"
	for pattern, want := range map[string]bool{
		"*": true,
		"arn:aws:execute-api:us-east-1:000000000000:abc/*":            true,
		"arn:aws:execute-api:us-east-1:000000000000:abc/*/GET/*":      true,
		"arn:aws:execute-api:us-east-1:000000000000:abc/*/POST/*":     false,
		"arn:aws:execute-api:*:*:abc/local/GET/api/v1/certificates/?": true,
		"arn:aws:execute-api:us-east-1:000000000000:other/*":          false,
		arn:       true,
		arn + "/": false,
	} {
		if got := wildcardMatch(pattern, arn); got != want {
			t.Errorf("wildcardMatch(%q) = %v, want %v", pattern, got, want)
		}
	}
}

func TestDefinitionRejectsUnknownPlaceholders(t *testing.T) {
	arns := map[string]string{app.FnApprovalWait: "a", app.FnIssue: "i", app.FnFinalize: "f"}
	if got, err := Definition(`["${IssueFunctionArn}","${FinalizeFunctionArn}"]`, arns); err != nil || got != `["i","f"]` {
		t.Errorf("Definition = %s, %v", got, err)
	}
	if _, err := Definition(`"${SweepFunctionArn}"`, arns); err == nil || !strings.Contains(err.Error(), "SweepFunctionArn") {
		t.Errorf("unknown placeholder: err = %v", err)
	}
}
