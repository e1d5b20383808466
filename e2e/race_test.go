package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

func embeddedOnly(t *testing.T) {
	t.Helper()
	if stack == nil {
		t.Skip("needs the embedded emulator (drives functions and executions directly)")
	}
}

// Concurrent approvals and rejections of one request: exactly one wins, the
// rest get 409, and at most one certificate is issued.
func TestConcurrentDecisionsHaveOneWinner(t *testing.T) {
	for round := 0; round < 3; round++ {
		profile := newProfile(t, true)
		created := newCert(t, "alice", profile)
		approvalID, jobID, id := created.str("approval_id"), created.str("job_id"), certID(created)

		type result struct {
			who, action string
			status      int
		}
		var wg sync.WaitGroup
		results := make(chan result, 16)
		for i := 0; i < 8; i++ {
			who, action := "bob", "approve"
			if i%2 == 1 {
				who, action = "admin", "reject"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := call(t, who, "POST", "/api/v1/approvals/"+approvalID+"/"+action, map[string]string{"note": "race"})
				results <- result{who, action, r.Status}
			}()
		}
		wg.Wait()
		close(results)
		var winners []result
		for r := range results {
			switch r.status {
			case http.StatusOK:
				winners = append(winners, r)
			case http.StatusConflict:
			default:
				t.Fatalf("unexpected status %d for %s %s", r.status, r.who, r.action)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1: %+v", round, len(winners), winners)
		}
		want := "Cancelled"
		if winners[0].action == "approve" {
			want = "Completed"
		}
		waitJob(t, jobID, want)
		a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
		if a.str("decided_by") != winners[0].who {
			t.Fatalf("decided_by %q, winner %q", a.str("decided_by"), winners[0].who)
		}
		versions := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id+"/versions", nil)
		n := len(versions.Body["data"].([]any))
		if (want == "Completed" && n != 1) || (want == "Cancelled" && n != 0) {
			t.Fatalf("%d versions after a %s decision", n, winners[0].action)
		}
	}
}

// A decision recorded before the execution stored its task token is handed
// over by the approval-wait function itself: nothing is lost.
func TestDecisionBeforeTokenIsStored(t *testing.T) {
	embeddedOnly(t)
	for _, action := range []string{"approve", "reject"} {
		awaitHold.Lock()
		profile := newProfile(t, true)
		created := newCert(t, "alice", profile)
		must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/"+action, map[string]string{"note": "early"})
		awaitHold.Unlock()
		want := "Completed"
		if action == "reject" {
			want = "Cancelled"
		}
		waitJob(t, created.str("job_id"), want)
		waitExecution(t, created.str("job_id"), sfntypes.ExecutionStatusSucceeded)
	}
}

// If the waiting task has already closed when the decision is sent
// (SendTaskSuccess answers TaskTimedOut), the decision still stands: 200,
// recorded once, not a 500.
func TestTaskTimedOutAfterRecordedDecision(t *testing.T) {
	embeddedOnly(t)
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	approvalID, jobID := created.str("approval_id"), created.str("job_id")
	client := sfn.NewFromConfig(stack.AWSConfig)
	job := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil)
	arn := job.str("execution_arn")
	waitTokenStored(t, approvalID)
	if _, err := client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	r := must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	if r.str("action") != "approved" {
		t.Fatalf("approve: %s", r.Raw)
	}
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if a.str("state") != "approved" {
		t.Fatalf("decision not recorded: %s", a.Raw)
	}
	// The state machine's timeout path, arriving late, reads the recorded
	// decision back instead of expiring it.
	out, err := stack.Invoke(context.Background(), app.FnFinalize, map[string]string{"action": "timeout", "job_id": jobID, "approval_id": approvalID})
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Outcome string }
	if err := json.Unmarshal(out, &res); err != nil || res.Outcome != "approved" {
		t.Fatalf("late timeout: %s (%v)", out, err)
	}
	a = must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if a.str("state") != "approved" {
		t.Fatalf("a late timeout overrode the decision: %s", a.Raw)
	}
}

// waitTokenStored waits until the execution has parked on the request.
func waitTokenStored(t *testing.T, approvalID string) {
	t.Helper()
	eventually(t, "task token on "+approvalID, func() bool {
		a, err := storeOf().GetApproval(context.Background(), approvalID)
		return err == nil && a.TaskToken != ""
	})
}

func waitExecution(t *testing.T, jobID string, want sfntypes.ExecutionStatus) {
	t.Helper()
	job := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil)
	client := sfn.NewFromConfig(stack.AWSConfig)
	var last sfntypes.ExecutionStatus
	eventually(t, "execution "+jobID+" to be "+string(want), func() bool {
		out, err := client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(job.str("execution_arn"))})
		if err != nil {
			return false
		}
		last = out.Status
		return last == want
	})
}

// The emulator serialises invocations of one function, so the HTTP test
// above cannot overlap two api calls. This one runs the real service code
// from many goroutines at once against the emulator's DynamoDB and Step
// Functions, so the conditional writes themselves decide the race.
func TestConcurrentDecisionsAtTheStore(t *testing.T) {
	embeddedOnly(t)
	svc := serviceOf()
	for round := 0; round < 5; round++ {
		profile := newProfile(t, true)
		created := newCert(t, "alice", profile)
		approvalID, jobID := created.str("approval_id"), created.str("job_id")
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := map[string]int{}
		for i := 0; i < 10; i++ {
			actor := domain.Actor{ID: "bob", Type: domain.ActorUser}
			decide := svc.Approve
			if i%2 == 1 {
				actor.ID, decide = "admin", svc.Reject
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := decide(context.Background(), actor, approvalID, "race")
				switch {
				case err == nil:
					mu.Lock()
					wins[res.Action]++
					mu.Unlock()
				case !errors.Is(err, domain.ErrConflict):
					t.Errorf("%s: %v", actor.ID, err)
				}
			}()
		}
		wg.Wait()
		if wins["approved"]+wins["rejected"] != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, wins)
		}
		want := "Cancelled"
		if wins["approved"] == 1 {
			want = "Completed"
		}
		waitJob(t, jobID, want)
	}
}

// failingSend is a Step Functions client whose SendTaskSuccess fails, as if
// the API function lost its network right after recording a decision.
type failingSend struct{ workflow.Executions }

func (failingSend) SendDecision(context.Context, string, string) error {
	return errors.New("connection reset")
}

// A decision whose hand-off fails is queued and the reaper delivers it.
func TestFailedHandOffIsRedeliveredByTheReaper(t *testing.T) {
	embeddedOnly(t)
	created := newCert(t, "alice", newProfile(t, true))
	approvalID, jobID := created.str("approval_id"), created.str("job_id")
	waitTokenStored(t, approvalID)

	broken := serviceOf()
	broken.Exec = failingSend{broken.Exec}
	bob := domain.Actor{ID: "bob", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
	if _, err := broken.Approve(context.Background(), bob, approvalID, "network trouble"); err != nil {
		t.Fatalf("the decision must stand even when the hand-off fails: %v", err)
	}
	if j := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil); j.str("status") != "Pending" {
		t.Fatalf("job before redelivery: %s", j.Raw)
	}
	// The reaper leaves a fresh entry to the request that queued it.
	if res, err := serviceOf().Reap(context.Background()); err != nil || res.Redelivered != 0 {
		t.Fatalf("reaper within the grace period: %+v %v", res, err)
	}
	later := serviceOf()
	later.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	res, err := later.Reap(context.Background())
	if err != nil || res.Redelivered < 1 {
		t.Fatalf("reaper: %+v %v", res, err)
	}
	waitJob(t, jobID, "Completed")
	// Delivered once: the queue is empty again.
	if res, err := later.Reap(context.Background()); err != nil || res.Redelivered != 0 {
		t.Fatalf("second reaper run: %+v %v", res, err)
	}
}
