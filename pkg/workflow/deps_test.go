package workflow

import (
	"os/exec"
	"strings"
	"testing"
)

// The rules never link the AWS SDK or the Lambda runtime: they own their
// ports and the adapters implement them. go list -deps shows every package
// the workflow builds with (tests excluded).
func TestWorkflowLinksNoAWSClientOrLambdaRuntime(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed too little to be the real answer: %q", out)
	}
	for _, dep := range deps {
		for _, banned := range []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-lambda-go"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("pkg/workflow depends on %s", dep)
			}
		}
	}
}
