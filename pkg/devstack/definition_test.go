package devstack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/statemachines"
)

// The real definition substitutes completely: the partition and the three
// function ARNs, nothing left over, and the result is JSON.
func TestDefinitionOfTheRealASL(t *testing.T) {
	arns := map[string]string{
		app.FnApprovalWait: "arn:aws:lambda:us-east-1:000000000000:function:w",
		app.FnIssue:        "arn:aws:lambda:us-east-1:000000000000:function:i",
		app.FnFinalize:     "arn:aws:lambda:us-east-1:000000000000:function:f",
	}
	def, err := Definition(statemachines.RenewalASL, arns)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(def, "${") || !strings.Contains(def, `"arn:aws:states:::lambda:invoke.waitForTaskToken"`) {
		t.Fatalf("substitution incomplete:\n%s", def)
	}
	var v any
	if err := json.Unmarshal([]byte(def), &v); err != nil {
		t.Fatal(err)
	}
}
