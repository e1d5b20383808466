package workflow

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFailureMessage(t *testing.T) {
	lambdaErr := `{"Error":"States.TaskFailed","Cause":"{\"errorMessage\":\"kms: arn:aws:kms:...: throttled\",\"errorType\":\"RetryableError\"}"}`
	for in, want := range map[string]string{
		// The failing call's text stays in its log: it names internals.
		lambdaErr: "issuance failed: a step kept failing after its retries (States.TaskFailed); see the function logs for this job",
		`{"Error":"States.Timeout","Cause":"task timed out"}`: "issuance failed: a step timed out; see the workflow's execution history",
		`{"Error":"RetryableError","Cause":"x"}`:              "issuance failed: a step kept failing after its retries (RetryableError); see the function logs for this job",
		``:                                                    "workflow failed",
		`not json`:                                            "workflow failed",
	} {
		if got := failureMessage(json.RawMessage(in)); got != want {
			t.Errorf("failureMessage(%s) = %q, want %q", in, got, want)
		}
	}
	long := `{"Error":"` + strings.Repeat("a", 5000) + `"}`
	if got := failureMessage(json.RawMessage(long)); len(got) > 300 {
		t.Errorf("unbounded error message: %d bytes", len(got))
	}
}
