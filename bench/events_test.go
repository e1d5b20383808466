package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// TestWorkflowSampleEvents decodes the state machine's and the scheduler's
// sample events strictly into the types the functions read (fast: no stack).
// The API Gateway samples are tested in pkg/apigw and pkg/authorizer.
func TestWorkflowSampleEvents(t *testing.T) {
	strict := func(t *testing.T, name string, v any) {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join("..", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	var await workflow.AwaitInput
	strict(t, "approval-wait.json", &await)
	if await.TaskToken == "" || await.JobID == "" || await.ApprovalID == "" {
		t.Errorf("approval-wait.json: %+v", await)
	}

	var issue workflow.IssueInput
	strict(t, "issue.json", &issue)
	if issue.JobID == "" {
		t.Errorf("issue.json: %+v", issue)
	}

	var timeout workflow.FinalizeInput
	strict(t, "finalize-timeout.json", &timeout)
	if timeout.Action != "timeout" || timeout.JobID == "" || timeout.ApprovalID == "" || timeout.Failure != nil {
		t.Errorf("finalize-timeout.json: %+v", timeout)
	}

	var fail workflow.FinalizeInput
	strict(t, "finalize-fail.json", &fail)
	var failure struct{ Error, Cause string }
	if err := json.Unmarshal(fail.Failure, &failure); err != nil {
		t.Fatal(err)
	}
	var cause struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal([]byte(failure.Cause), &cause); err != nil {
		t.Fatalf("finalize-fail.json: the Cause is not Lambda error JSON: %v", err)
	}
	if fail.Action != "fail" || failure.Error != "States.TaskFailed" || cause.ErrorMessage != "boom" || cause.ErrorType != "RetryableError" {
		t.Errorf("finalize-fail.json: %+v %+v %+v", fail, failure, cause)
	}

	var sched map[string]any
	strict(t, "scheduler.json", &sched)
	if sched["source"] != "certctl-scheduler" {
		t.Errorf("scheduler.json: %v", sched)
	}
}
