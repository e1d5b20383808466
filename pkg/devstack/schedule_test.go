package devstack

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
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
