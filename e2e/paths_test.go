package e2e

// The workflow's refusal and recovery paths, each driven on purpose: they
// rarely run on a happy path, and a path that never ran proves nothing.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// invokeIssue runs the issue function for a job and returns its answer or
// its function error.
func invokeIssue(t *testing.T, jobID string) (string, *devstack.FunctionError) {
	t.Helper()
	out, err := stack.Invoke(context.Background(), app.FnIssue, map[string]string{"job_id": jobID})
	var fe *devstack.FunctionError
	if errors.As(err, &fe) {
		return "", fe
	}
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		SerialNumber string `json:"serial_number"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res.SerialNumber, nil
}

func versionCount(t *testing.T, certID string) int {
	t.Helper()
	v := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID+"/versions", nil)
	return len(v.Body["data"].([]any))
}

// setJobStatus forces a job's status, as only a bug or a hostile writer would.
func setJobStatus(t *testing.T, jobID, status string) {
	t.Helper()
	_, err := dynamodb.NewFromConfig(stack.AWSConfig).UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(stack.Config.StateTable),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "JOB#" + jobID}, "sk": &types.AttributeValueMemberS{Value: "JOB"}},
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: status}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The issue function is the last gate: it refuses a job that waits for a
// decision, a job that has ended, and a job whose request is not approved,
// and such refusals are permanent (never retried).
func TestIssueRefusesWhatIsNotApproved(t *testing.T) {
	embeddedOnly(t)
	awaitHold.Lock()
	created := newCert(t, "alice", newProfile(t, true))
	jobID, approvalID, certID := created.str("job_id"), created.str("approval_id"), certID(created)

	_, fe := invokeIssue(t, jobID)
	if fe == nil || fe.Type == workflow.ErrorTypeRetryable || !strings.Contains(fe.Message, "AwaitingApproval") {
		t.Fatalf("issuing a job awaiting approval: %+v", fe)
	}
	// A job moved to Pending behind the workflow's back, its request still pending.
	setJobStatus(t, jobID, "Pending")
	_, fe = invokeIssue(t, jobID)
	if fe == nil || fe.Type == workflow.ErrorTypeRetryable || !strings.Contains(fe.Message, "is pending") {
		t.Fatalf("issuing with a pending request: %+v", fe)
	}
	setJobStatus(t, jobID, "AwaitingApproval")
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+approvalID+"/reject", map[string]string{"note": "no"})
	awaitHold.Unlock()
	waitJob(t, jobID, "Cancelled")
	_, fe = invokeIssue(t, jobID)
	if fe == nil || fe.Type == workflow.ErrorTypeRetryable || !strings.Contains(fe.Message, "Cancelled") {
		t.Fatalf("issuing a cancelled job: %+v", fe)
	}
	if n := versionCount(t, certID); n != 0 {
		t.Fatalf("%d versions issued for a rejected request", n)
	}
}

// A retried Issue after the first attempt committed (its answer was lost)
// reports the same certificate and issues nothing more.
func TestIssueRetryAfterCommitIsIdempotent(t *testing.T) {
	embeddedOnly(t)
	created := newCert(t, "alice", newProfile(t, false))
	waitJob(t, created.str("job_id"), "Completed")
	first := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID(created)+"/versions", nil)
	serial, _ := first.Body["data"].([]any)[0].(map[string]any)["serial_number"].(string)
	again, fe := invokeIssue(t, created.str("job_id"))
	if fe != nil || again != serial {
		t.Fatalf("retried issue: %q %+v, want %q", again, fe, serial)
	}
	if n := versionCount(t, certID(created)); n != 1 {
		t.Fatalf("%d versions after a retried issue", n)
	}
}

// RecordFailure fails the job, expires its still-pending request (audited
// and counted like any expiry) and restores the certificate; a repeated
// delivery changes nothing.
func TestRecordFailureFailsTheJobOnce(t *testing.T) {
	embeddedOnly(t)
	awaitHold.Lock()
	defer awaitHold.Unlock() // the execution then finds the request ended and closes
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	jobID, approvalID := created.str("job_id"), created.str("approval_id")
	payload := map[string]any{"action": "fail", "job_id": jobID, "approval_id": approvalID,
		"failure": map[string]string{"Error": "States.TaskFailed", "Cause": `{"errorMessage":"kms: key disabled","errorType":"errorString"}`}}
	for i := 0; i < 2; i++ {
		if _, err := stack.Invoke(context.Background(), app.FnFinalize, payload); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	j := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil)
	if j.str("status") != "Failed" || !strings.HasPrefix(j.str("error"), "issuance failed: a step kept failing") || strings.Contains(j.str("error"), "kms") {
		t.Fatalf("job: %s", j.Raw)
	}
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if a.str("state") != "expired" || a.str("decided_by") != domain.SystemWorkflow {
		t.Fatalf("request: %s", a.Raw)
	}
	c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID(created), nil)
	if c.str("status") != "Failed" || c.str("current_job_id") != "" {
		t.Fatalf("certificate: %s", c.Raw)
	}
	for action, want := range map[string]int{"renewal_job_failed": 1} {
		rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+jobID+"&action="+action, nil)
		if n := len(rows.Body["data"].([]any)); n != want {
			t.Errorf("%d %s rows, want %d", n, action, want)
		}
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+approvalID+"&action=approval_expired", nil)
	if n := len(rows.Body["data"].([]any)); n != 1 {
		t.Errorf("%d approval_expired rows, want 1", n)
	}
	metrics := must(t, http.StatusOK, "carol", "GET", "/api/v1/metrics", nil)
	if want := `certctl_approval_decisions_total{outcome="expired",profile_id="` + profile + `"} 1`; !strings.Contains(string(metrics.Raw), want) {
		t.Errorf("metrics lack %s", want)
	}
}

// startFails is a Step Functions client whose StartExecution fails.
type startFails struct{ workflow.Executions }

func (startFails) Start(context.Context, workflow.ExecutionInput) error {
	return errors.New("states: service unavailable")
}

// When the execution cannot be started, the request answers 503 and the job
// is failed at once: nothing waits for an execution that does not exist.
func TestStartFailureCompensates(t *testing.T) {
	embeddedOnly(t)
	profile := newProfile(t, true)
	svc := serviceOf()
	svc.Exec = startFails{svc.Exec}
	alice := domain.Actor{ID: "alice", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleOperator}}
	id := uniq("mc")
	cn := id + "." + zone(profile)
	_, err := svc.CreateCertificate(context.Background(), alice, domain.CertificateInput{ID: id, CommonName: cn, ProfileID: profile, CSR: newCSR(t, cn, cn)})
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("create with Step Functions down: %v, want a 503", err)
	}
	c, err := storeOf().GetCertificate(context.Background(), id)
	if err != nil || c.Status != domain.CertFailed || c.CurrentJobID != "" {
		t.Fatalf("certificate: %+v %v", c, err)
	}
	jobs, _, _ := storeOf().ListJobs(context.Background(), domain.JobFilter{CertificateID: id}, domain.PageRequest{Limit: 5})
	if len(jobs) != 1 || jobs[0].Status != domain.JobFailed || !strings.Contains(jobs[0].Error, "could not start the workflow") {
		t.Fatalf("jobs: %+v", jobs)
	}
	a, err := storeOf().GetApproval(context.Background(), jobs[0].ApprovalID)
	if err != nil || a.State != domain.ApprovalExpired {
		t.Fatalf("request: %+v %v", a, err)
	}
	// Nothing queued for the reaper to start.
	starts, _, err := storeOf().PendingStarts(context.Background(), a.CreatedAt.Add(1<<40), domain.PageRequest{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range starts {
		if s.JobID == jobs[0].ID {
			t.Fatal("a failed job is still queued for a start")
		}
	}
	_, err = sfn.NewFromConfig(stack.AWSConfig).DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{
		ExecutionArn: aws.String(svc.Exec.ExecutionARN(jobs[0].ID))})
	var missing *sfntypes.ExecutionDoesNotExist
	if !errors.As(err, &missing) {
		t.Fatalf("an execution exists for the failed job: %v", err)
	}
}

// bumpProfileVersion moves a profile on behind a pending edit's back, as
// only a writer outside the API could now.
func bumpProfileVersion(t *testing.T, profile string) {
	t.Helper()
	_, err := dynamodb.NewFromConfig(stack.AWSConfig).UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(stack.Config.StateTable),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "PROFILE#" + profile}, "sk": &types.AttributeValueMemberS{Value: "PROFILE"}},
		UpdateExpression:          aws.String("ADD version :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lateRival is a store on which someone else rejects a request just before
// the system's own stale-edit rejection is written.
type lateRival struct {
	workflow.DecisionPort
	rival func(a *domain.Approval)
}

func (s lateRival) Decide(ctx context.Context, d workflow.Decision) error {
	if d.DecidedBy == domain.SystemWorkflow && s.rival != nil {
		s.rival(d.Approval)
	}
	return s.DecisionPort.Decide(ctx, d)
}

// An approval of a stale edit rejects it as the system; if a person rejects
// it first, the approver is told that, and only one decision is counted.
func TestStaleEditRejectionThatLosesItsRace(t *testing.T) {
	embeddedOnly(t)
	profile := newProfile(t, true)
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "renamed", "requires_approval": true})
	approvalID := r.str("approval_id")
	bumpProfileVersion(t, profile)
	svc := serviceOf()
	admin := domain.Actor{ID: "admin", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleAdmin}}
	svc.Decisions = lateRival{DecisionPort: svc.Decisions, rival: func(a *domain.Approval) {
		if _, err := serviceOf().Reject(context.Background(), admin, a.ID, "not this one"); err != nil {
			t.Errorf("rival rejection: %v", err)
		}
	}}
	bob := domain.Actor{ID: "bob", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
	_, err := svc.Approve(context.Background(), bob, approvalID, "ok")
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "already rejected") {
		t.Fatalf("approver was told: %v, want that the request is already rejected", err)
	}
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if a.str("decided_by") != "admin" {
		t.Fatalf("request: %s", a.Raw)
	}
	metrics := must(t, http.StatusOK, "carol", "GET", "/api/v1/metrics", nil)
	if want := `certctl_profile_edit_decisions_total{outcome="rejected",profile_id="` + profile + `"} 1`; !strings.Contains(string(metrics.Raw), want) {
		t.Errorf("metrics: want exactly %s in\n%s", want, metrics.Raw)
	}
}

// A job whose execution was stopped by hand is ended: by the execution's
// status-change event, or by an admin's repair when that event was lost.
// A job whose execution runs is not repaired.
func TestStoppedExecutionEndsItsJob(t *testing.T) {
	embeddedOnly(t)
	ctx := context.Background()
	profile := newProfile(t, true)
	running := newCert(t, "alice", profile)
	r := must(t, http.StatusConflict, "admin", "POST", "/api/v1/jobs/"+running.str("job_id")+"/repair", nil)
	if !strings.Contains(r.str("message"), "running") {
		t.Fatalf("repairing a running job: %s", r.Raw)
	}
	stop := func(jobID string) {
		job := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil)
		if _, err := sfn.NewFromConfig(stack.AWSConfig).StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(job.str("execution_arn"))}); err != nil {
			t.Fatal(err)
		}
	}
	// The event path: the stack reports the stop, finalize ends the job.
	stop(running.str("job_id"))
	if err := stack.DeliverExecutionEvents(ctx); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, running.str("job_id"), "Failed")
	if !strings.Contains(j.str("error"), "ended (ABORTED)") {
		t.Fatalf("job: %s", j.Raw)
	}
	if a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+running.str("approval_id"), nil); a.str("state") != "expired" {
		t.Fatalf("its request: %s", a.Raw)
	}
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID(running), nil); c.str("current_job_id") != "" {
		t.Fatalf("certificate still holds the job: %s", c.Raw)
	}
	// The repair path, for a stop whose event never came.
	lost := newCert(t, "alice", profile)
	stop(lost.str("job_id"))
	must(t, http.StatusForbidden, "alice", "POST", "/api/v1/jobs/"+lost.str("job_id")+"/repair", nil)
	r = must(t, http.StatusOK, "admin", "POST", "/api/v1/jobs/"+lost.str("job_id")+"/repair", nil)
	if r.str("status") != "Failed" || !strings.Contains(r.str("error"), "repaired by admin") {
		t.Fatalf("repair: %s", r.Raw)
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+lost.str("job_id")+"&action=renewal_job_failed", nil).Body["data"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["actor"] != "admin" {
		t.Fatalf("repair audit: %v", rows)
	}
	must(t, http.StatusConflict, "admin", "POST", "/api/v1/jobs/"+lost.str("job_id")+"/repair", nil)
}
