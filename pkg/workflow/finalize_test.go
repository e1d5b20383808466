package workflow

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFailureMessage(t *testing.T) {
	lambdaErr := `{"Error":"States.TaskFailed","Cause":"{\"errorMessage\":\"kms: throttled\",\"errorType\":\"RetryableError\"}"}`
	for in, want := range map[string]string{
		lambdaErr: "issuance failed: kms: throttled",
		`{"Error":"States.Timeout","Cause":"task timed out"}`: "issuance failed: task timed out",
		`{"Error":"States.Runtime"}`:                          "issuance failed: States.Runtime",
		``:                                                    "workflow failed",
		`not json`:                                            "workflow failed",
	} {
		if got := failureMessage(json.RawMessage(in)); got != want {
			t.Errorf("failureMessage(%s) = %q, want %q", in, got, want)
		}
	}
	long := `{"Error":"X","Cause":"` + strings.Repeat("a", 5000) + `"}`
	if got := failureMessage(json.RawMessage(long)); len(got) > 1100 {
		t.Errorf("unbounded error message: %d bytes", len(got))
	}
}
