package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// aslFile is the renewal state machine, seen from this package.
const aslFile = "../statemachines/renewal.asl.json"

// maxApprovedPath is the budget for the states an approved job passes through.
const maxApprovedPath = 6

// approvedInput is what the Choice states of an approved, gated job read:
// the execution input's requires_approval and the decision AwaitApproval
// puts at $.decision.
var approvedInput = map[string]any{"requires_approval": true, "decision": map[string]any{"outcome": "approved"}}

// BenchmarkStateMachinePath derives the path of an approved renewal from
// the ASL (the emulator's execution history has only the start and end
// events, so the path cannot be read from it) and checks it against the
// budget; then it runs approved renewals end to end on the local stack and
// checks that each execution SUCCEEDED.
func BenchmarkStateMachinePath(b *testing.B) {
	asl, err := os.ReadFile(aslFile)
	if err != nil {
		b.Fatal(err)
	}
	path, err := StatePath(asl, approvedInput)
	if err != nil {
		b.Fatalf("walk %s: %v", aslFile, err)
	}
	fmt.Printf("\nstate-machine path of an approved renewal (%d states, budget %d): %s\n\n",
		len(path), maxApprovedPath, strings.Join(path, " → "))
	b.ReportMetric(float64(len(path)), "states")
	if len(path) > maxApprovedPath {
		b.Fatalf("an approved renewal passes through %d states, budget %d: %s", len(path), maxApprovedPath, strings.Join(path, " → "))
	}

	e := getEnv(b)
	profile := e.newProfile(b, true)
	ctx := context.Background()
	checkedHistory := false
	for b.Loop() {
		// An issued certificate to renew.
		c := startedFrom(e.must(b, http.StatusCreated, "alice", http.MethodPost, "/api/v1/certificates", certificateBody(b, profile)))
		e.must(b, http.StatusOK, "bob", http.MethodPost, "/api/v1/approvals/"+c.ApprovalID+"/approve", nil)
		if err := e.waitJob(c.JobID, domain.JobCompleted); err != nil {
			b.Fatal(err)
		}

		// The approved renewal.
		r := startedFrom(e.must(b, http.StatusAccepted, "alice", http.MethodPost, "/api/v1/certificates/"+c.CertificateID+"/renew", nil))
		if r.ApprovalID == "" {
			b.Fatalf("renewal on an approval-tier profile started no approval request (job %s)", r.JobID)
		}
		e.must(b, http.StatusOK, "bob", http.MethodPost, "/api/v1/approvals/"+r.ApprovalID+"/approve", nil)
		if err := e.waitJob(r.JobID, domain.JobCompleted); err != nil {
			b.Fatal(err)
		}
		job := e.must(b, http.StatusOK, "bob", http.MethodGet, "/api/v1/jobs/"+r.JobID, nil)
		arn := job.str("execution_arn")
		if arn == "" {
			b.Fatalf("job %s has no execution_arn: %s", r.JobID, job.Raw)
		}
		status, err := e.waitExecution(arn)
		if err != nil {
			b.Fatal(err)
		}
		if status != sfntypes.ExecutionStatusSucceeded {
			b.Fatalf("execution %s of an approved renewal ended %s, want SUCCEEDED", arn, status)
		}
		if !checkedHistory {
			checkedHistory = true
			note, err := checkHistory(ctx, e.sfn, arn, path)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Printf("live approved renewal %s: SUCCEEDED; %s\n\n", r.JobID, note)
		}
	}
}

// checkHistory compares the states the execution history says were entered
// with the derived path, when the history records them (AWS does; the
// emulator records only the start and the end). It returns a note on what
// was compared.
func checkHistory(ctx context.Context, client *sfn.Client, arn string, path []string) (string, error) {
	var entered []string
	events := 0
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("execution history of %s: %w", arn, err)
		}
		events += len(out.Events)
		for _, ev := range out.Events {
			if d := ev.StateEnteredEventDetails; d != nil {
				entered = append(entered, aws.ToString(d.Name))
			}
		}
	}
	if len(entered) == 0 {
		return fmt.Sprintf("the execution history has %d events and no state events: path derived from the ASL only", events), nil
	}
	if strings.Join(entered, ",") != strings.Join(path, ",") {
		return "", fmt.Errorf("execution %s entered %s; the ASL walk says %s",
			arn, strings.Join(entered, " → "), strings.Join(path, " → "))
	}
	return "the execution history entered the same states", nil
}
