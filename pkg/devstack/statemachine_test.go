package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

// workflow records what the fake workflow functions were asked to do.
type workflow struct {
	mu        sync.Mutex
	tokens    map[string]string // job id -> task token
	issued    []string          // job ids
	finalized []map[string]any  // finalize payloads
	ensureCA  int
}

type jobInput struct {
	TaskToken  string `json:"task_token"`
	JobID      string `json:"job_id"`
	ApprovalID string `json:"approval_id"`
	Action     string `json:"action"`
}

func (w *workflow) approvalWait(_ context.Context, in jobInput) (map[string]bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tokens[in.JobID] = in.TaskToken
	return map[string]bool{"stored": true}, nil
}

func (w *workflow) issue(_ context.Context, in jobInput) (map[string]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if in.Action == "ensure_ca" {
		w.ensureCA++
		return map[string]string{"ca": "ok"}, nil
	}
	if strings.HasPrefix(in.JobID, "fail-") {
		return nil, errors.New("kms: signing key disabled")
	}
	w.issued = append(w.issued, in.JobID)
	return map[string]string{"serial_number": "0a1b"}, nil
}

func (w *workflow) finalize(_ context.Context, in map[string]any) (map[string]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finalized = append(w.finalized, in)
	return map[string]string{"outcome": "expired"}, nil
}

func (w *workflow) token(job string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tokens[job]
}

func (w *workflow) wasIssued(job string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range w.issued {
		if j == job {
			return true
		}
	}
	return false
}

func (w *workflow) finalizeFor(job string) map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.finalized {
		if f["job_id"] == job {
			return f
		}
	}
	return nil
}

func TestRenewalStateMachine(t *testing.T) {
	w := &workflow{tokens: map[string]string{}}
	s := startStack(t, Options{Handler: fakes{
		app.FnApprovalWait: w.approvalWait,
		app.FnIssue:        w.issue,
		app.FnFinalize:     w.finalize,
	}.build})
	client := sfn.NewFromConfig(s.AWSConfig)
	if w.ensureCA != 1 {
		t.Errorf("ensure_ca calls at start = %d, want 1", w.ensureCA)
	}

	start := func(t *testing.T, job string, gated bool, timeout int) string {
		t.Helper()
		input := fmt.Sprintf(`{"job_id":%q,"approval_id":"ap-%s","requires_approval":%v,"timeout_seconds":%d}`, job, job, gated, timeout)
		out, err := client.StartExecution(t.Context(), &sfn.StartExecutionInput{
			StateMachineArn: aws.String(s.Config.StateMachineARN), Name: aws.String(job), Input: aws.String(input),
		})
		if err != nil {
			t.Fatalf("StartExecution: %v", err)
		}
		return aws.ToString(out.ExecutionArn)
	}
	decide := func(t *testing.T, job, outcome string) {
		t.Helper()
		eventually(t, "the task token of "+job, func() bool { return w.token(job) != "" })
		if _, err := client.SendTaskSuccess(t.Context(), &sfn.SendTaskSuccessInput{
			TaskToken: aws.String(w.token(job)), Output: aws.String(`{"outcome":"` + outcome + `"}`),
		}); err != nil {
			t.Fatalf("SendTaskSuccess: %v", err)
		}
	}
	finish := func(t *testing.T, arn string) *sfn.DescribeExecutionOutput {
		t.Helper()
		var d *sfn.DescribeExecutionOutput
		eventually(t, "execution end", func() bool {
			var err error
			d, err = client.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
			return err == nil && d.Status != sfntypes.ExecutionStatusRunning
		})
		return d
	}

	t.Run("approved issues", func(t *testing.T) {
		arn := start(t, "job-approved", true, 300)
		decide(t, "job-approved", "approved")
		d := finish(t, arn)
		if d.Status != sfntypes.ExecutionStatusSucceeded || !w.wasIssued("job-approved") {
			t.Fatalf("status %s error %s cause %s, issued=%v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), w.wasIssued("job-approved"))
		}
		var out struct {
			Issued struct {
				Serial string `json:"serial_number"`
			} `json:"issued"`
		}
		if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil || out.Issued.Serial != "0a1b" {
			t.Errorf("output %s", aws.ToString(d.Output))
		}
	})

	t.Run("rejected closes without issuing", func(t *testing.T) {
		arn := start(t, "job-rejected", true, 300)
		decide(t, "job-rejected", "rejected")
		d := finish(t, arn)
		if d.Status != sfntypes.ExecutionStatusSucceeded || w.wasIssued("job-rejected") || w.finalizeFor("job-rejected") != nil {
			t.Fatalf("status %s, issued=%v", d.Status, w.wasIssued("job-rejected"))
		}
	})

	t.Run("ungated goes straight to issue", func(t *testing.T) {
		d := finish(t, start(t, "job-ungated", false, 300))
		if d.Status != sfntypes.ExecutionStatusSucceeded || !w.wasIssued("job-ungated") || w.token("job-ungated") != "" {
			t.Fatalf("status %s, issued=%v", d.Status, w.wasIssued("job-ungated"))
		}
	})

	t.Run("approval timeout resolves through finalize", func(t *testing.T) {
		d := finish(t, start(t, "job-timeout", true, 1))
		f := w.finalizeFor("job-timeout")
		if d.Status != sfntypes.ExecutionStatusSucceeded || f["action"] != "timeout" || w.wasIssued("job-timeout") {
			t.Fatalf("status %s error %s, finalize %v", d.Status, aws.ToString(d.Error), f)
		}
	})

	t.Run("issue function error goes through RecordFailure", func(t *testing.T) {
		arn := start(t, "fail-issue", true, 300)
		decide(t, "fail-issue", "approved")
		d := finish(t, arn)
		if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "JobFailed" {
			t.Fatalf("status %s error %s cause %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
		f := w.finalizeFor("fail-issue")
		failure, _ := f["failure"].(map[string]any)
		cause, _ := failure["Cause"].(string)
		if f["action"] != "fail" || failure["Error"] != "States.TaskFailed" || !strings.Contains(cause, "kms: signing key disabled") {
			t.Fatalf("finalize payload %v", f)
		}
	})

	t.Run("redriver restarts an execution the emulator's cap ended", func(t *testing.T) {
		arn := start(t, "job-capped", true, 600)
		eventually(t, "the first task token", func() bool { return w.token("job-capped") != "" })
		first := w.token("job-capped")
		// The cap itself takes 5 minutes: end the execution and present it
		// the way kumo reports a capped one, started 4 minutes ago.
		if _, err := client.StopExecution(t.Context(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
		d, err := client.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		d.Error = aws.String("States.Runtime")
		d.Cause = aws.String("kumo enforced its internal 5m0s execution cap; the state machine did not set a TimeoutSeconds within that bound")
		d.StartDate = aws.Time(time.Now().Add(-4 * time.Minute))
		s.redrive.mu.Lock()
		next, err := s.restartCapped(t.Context(), client, d)
		s.redrive.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}

		// approval-wait runs again and stores a new token; deciding on it
		// completes the job as the first execution would have.
		eventually(t, "a new task token", func() bool { return w.token("job-capped") != first })
		nd, err := client.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(next)})
		if err != nil {
			t.Fatal(err)
		}
		var in struct {
			Timeout int `json:"timeout_seconds"`
		}
		_ = json.Unmarshal([]byte(aws.ToString(nd.Input)), &in)
		if aws.ToString(nd.Name) != "job-capped-redrive-1" || in.Timeout < 355 || in.Timeout > 360 {
			t.Errorf("successor %s input %s: want name job-capped-redrive-1 and about 360 s left", aws.ToString(nd.Name), aws.ToString(nd.Input))
		}
		decide(t, "job-capped", "approved")
		if d := finish(t, next); d.Status != sfntypes.ExecutionStatusSucceeded || !w.wasIssued("job-capped") {
			t.Fatalf("successor status %s, issued=%v", d.Status, w.wasIssued("job-capped"))
		}

		// A successor that is capped again continues the same chain.
		nd.Error, nd.Cause = d.Error, d.Cause
		s.redrive.mu.Lock()
		again, err := s.restartCapped(t.Context(), client, nd)
		s.redrive.mu.Unlock()
		if err != nil || !strings.HasSuffix(again, ":job-capped-redrive-2") {
			t.Fatalf("second restart = %s, %v", again, err)
		}
		_, _ = client.StopExecution(t.Context(), &sfn.StopExecutionInput{ExecutionArn: aws.String(again)})
	})

	t.Run("redriver leaves ordinary failures alone", func(t *testing.T) {
		n, err := s.redriveCapped(t.Context())
		if err != nil || n != 0 {
			t.Fatalf("redriveCapped = %d, %v", n, err)
		}
	})
}
