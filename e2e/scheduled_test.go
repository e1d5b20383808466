package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// at returns the workflow service with its clock moved by d, to run the
// real reaper and sweep against the emulator as if time had passed.
func at(d time.Duration) *workflow.Service {
	svc := serviceOf()
	svc.Now = func() time.Time { return time.Now().Add(d) }
	return svc
}

func TestReaperExpiresStaleRequests(t *testing.T) {
	embeddedOnly(t)
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	approvalID, jobID, id := created.str("approval_id"), created.str("job_id"), certID(created)
	waitTokenStored(t, approvalID)

	// Not stale yet: the reaper leaves it alone.
	if _, err := at(0).Reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil); a.str("state") != "pending" {
		t.Fatalf("reaped too early: %s", a.Raw)
	}

	// Two overlapping runs, an hour past the timeout: one expiry, no errors.
	var wg sync.WaitGroup
	results := make([]workflow.ReapResult, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := at(stack.Config.ApprovalTimeout + time.Hour).Reap(context.Background())
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if a.str("state") != "expired" || a.str("decided_by") != domain.SystemReaper {
		t.Fatalf("after reaper: %s", a.Raw)
	}
	job := waitJob(t, jobID, "Cancelled")
	if job.str("error") != "approval expired" {
		t.Fatalf("job: %s", job.Raw)
	}
	waitExecution(t, jobID, sfntypes.ExecutionStatusSucceeded) // released, ended via Closed
	must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil); c.str("status") != "Pending" {
		t.Fatalf("certificate after expiry: %s", c.Raw)
	}
	// The reaper ran with a clock two hours ahead, so look that far.
	until := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	audit := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+approvalID+"&action=approval_expired&until="+until, nil)
	rows := audit.Body["data"].([]any)
	if len(rows) != 1 {
		t.Fatalf("want exactly one approval_expired row, got %s", audit.Raw)
	}
	row := rows[0].(map[string]any)
	if row["actor"] != domain.SystemReaper || row["actor_type"] != "System" {
		t.Fatalf("audit row: %v", row)
	}
}

// An approve racing the reaper has exactly one outcome, and expiry never issues.
func TestApproveRacingReaperHasOneOutcome(t *testing.T) {
	embeddedOnly(t)
	for round := 0; round < 4; round++ {
		profile := newProfile(t, true)
		created := newCert(t, "alice", profile)
		approvalID, jobID, id := created.str("approval_id"), created.str("job_id"), certID(created)
		waitTokenStored(t, approvalID)
		var wg sync.WaitGroup
		var approveStatus int
		wg.Add(2)
		go func() {
			defer wg.Done()
			approveStatus = call(t, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil).Status
		}()
		go func() {
			defer wg.Done()
			if _, err := at(stack.Config.ApprovalTimeout + time.Minute).Reap(context.Background()); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
		versions := func() int {
			v := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id+"/versions", nil)
			return len(v.Body["data"].([]any))
		}
		switch a.str("state") {
		case "approved":
			if approveStatus != http.StatusOK {
				t.Fatalf("approved but approve got %d", approveStatus)
			}
			waitJob(t, jobID, "Completed")
			if versions() != 1 {
				t.Fatal("approved request did not issue exactly once")
			}
		case "expired":
			if approveStatus != http.StatusConflict {
				t.Fatalf("expired but approve got %d", approveStatus)
			}
			waitJob(t, jobID, "Cancelled")
			waitExecution(t, jobID, sfntypes.ExecutionStatusSucceeded)
			if versions() != 0 {
				t.Fatal("an expired request issued a certificate")
			}
		default:
			t.Fatalf("state after the race: %s", a.Raw)
		}
	}
}

func TestSweepStartsOneGatedRenewalPerDueCertificate(t *testing.T) {
	embeddedOnly(t)
	profile := newProfile(t, false)
	due := newCert(t, "alice", profile)
	waitJob(t, due.str("job_id"), "Completed")
	dueID := certID(due)
	// Now make the profile approval-tier: scheduled renewals must be gated.
	gate(t, profile, "gated")

	// Default profile: 90-day validity, renew 30 days before expiry.
	inWindow := at(61 * 24 * time.Hour)
	res, err := inWindow.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Started < 1 {
		t.Fatalf("sweep started nothing: %+v", res)
	}
	jobs := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs?certificate_id="+dueID, nil).Body["data"].([]any)
	if len(jobs) != 2 {
		t.Fatalf("want the issuance and one renewal job, got %d", len(jobs))
	}
	renewal := jobs[0].(map[string]any) // newest first
	if renewal["type"] != "Renewal" || renewal["status"] != "AwaitingApproval" || renewal["requested_by"] != domain.SystemScheduler {
		t.Fatalf("scheduled renewal: %v", renewal)
	}
	// A second run, and overlapping runs, start nothing more for it.
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := inWindow.Sweep(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	jobs = must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs?certificate_id="+dueID, nil).Body["data"].([]any)
	if len(jobs) != 2 {
		t.Fatalf("duplicate sweeps started %d jobs", len(jobs)-2)
	}
	c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+dueID, nil)
	if c.str("status") != "RenewalInProgress" {
		t.Fatalf("status: %s", c.Raw)
	}
	// A person rejects it (on day 61, like the sweep); that restores Expiring.
	bob := domain.Actor{ID: "bob", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
	if _, err := inWindow.Reject(context.Background(), bob, renewal["approval_id"].(string), "next week"); err != nil {
		t.Fatal(err)
	}
	waitJob(t, renewal["id"].(string), "Cancelled")
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+dueID, nil); c.str("status") != "Expiring" {
		t.Fatalf("status after rejected scheduled renewal: %s", c.Raw)
	}
	// Rejected renewals are not re-requested by the next hourly sweep.
	if _, err := at(61*24*time.Hour + time.Hour).Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	jobs = must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs?certificate_id="+dueID, nil).Body["data"].([]any)
	if len(jobs) != 2 {
		t.Fatalf("rejected renewal re-requested within the backoff: %d jobs", len(jobs))
	}
	// After the backoff, the sweep asks again.
	if _, err := at(61*24*time.Hour + workflow.RenewalRetryBackoff + time.Minute).Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	jobs = must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs?certificate_id="+dueID, nil).Body["data"].([]any)
	if len(jobs) != 3 {
		t.Fatalf("want a new renewal after the backoff, got %d jobs", len(jobs))
	}
	// A certificate that is not due gets nothing.
	fresh := newCert(t, "alice", newProfile(t, false))
	waitJob(t, fresh.str("job_id"), "Completed")
	if _, err := at(time.Hour).Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	jobs = must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs?certificate_id="+certID(fresh), nil).Body["data"].([]any)
	if len(jobs) != 1 {
		t.Fatalf("sweep renewed a certificate that is not due")
	}
}

func TestMetricsMatchDecisions(t *testing.T) {
	profile := newProfile(t, true)
	for _, action := range []string{"approve", "reject", "approve"} {
		created := newCert(t, "alice", profile)
		must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/"+action, map[string]string{"note": "n"})
	}
	body := string(must(t, http.StatusOK, "carol", "GET", "/api/v1/metrics", nil).Raw)
	for _, want := range []string{
		`certctl_approval_decisions_total{outcome="approved",profile_id="` + profile + `"} 2`,
		`certctl_approval_decisions_total{outcome="rejected",profile_id="` + profile + `"} 1`,
		`certctl_approval_pending_age_seconds_bucket{outcome="approved",profile_id="` + profile + `",le="60"} 2`,
		`certctl_approval_pending_age_seconds_bucket{outcome="approved",profile_id="` + profile + `",le="+Inf"} 2`,
		`certctl_approval_pending_age_seconds_count{outcome="rejected",profile_id="` + profile + `"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics missing %q:\n%s", want, body)
		}
	}
	must(t, http.StatusUnauthorized, "", "GET", "/api/v1/metrics", nil)
}

func TestAuditQuery(t *testing.T) {
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	approvalID := created.str("approval_id")
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)

	// Everything about one approval, newest first: bob's vote and the
	// approval it made (one transaction, the vote first).
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+approvalID, nil).Body["data"].([]any)
	actions := make([]any, len(rows))
	for i, r := range rows {
		actions[i] = r.(map[string]any)["action"]
	}
	if fmt.Sprint(actions) != "[approval_approved approval_vote approval_requested]" {
		t.Fatalf("approval trail: %v", rows)
	}
	// By actor and action; paging with a small limit walks every row once.
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		r := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?actor=bob&action=approval_approved&limit=1&page_token="+token, nil)
		for _, row := range r.Body["data"].([]any) {
			id := row.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("row %s returned twice", id)
			}
			seen[id] = true
		}
		token = r.str("next_page_token")
		if token == "" || pages > 200 {
			break
		}
	}
	if len(seen) < 1 {
		t.Fatal("no approval_approved rows for bob")
	}
	// Unfiltered, day-by-day listing returns rows, newest first.
	all := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?limit=5", nil).Body["data"].([]any)
	if len(all) != 5 || all[0].(map[string]any)["ts"].(string) < all[4].(map[string]any)["ts"].(string) {
		t.Fatalf("unfiltered listing: %v", all)
	}
	// Bypass is off here, and the audit proves it.
	if rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?actor=system-bypass", nil).Body["data"].([]any); len(rows) != 0 {
		t.Fatalf("bypass rows with bypass off: %v", rows)
	}
	// Only admin and auditor may read the trail; bad times are refused.
	must(t, http.StatusForbidden, "carol", "GET", "/api/v1/audit", nil)
	must(t, http.StatusBadRequest, "admin", "GET", "/api/v1/audit?since=yesterday", nil)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+approvalID+"&since="+future, nil).Body["data"].([]any); len(rows) != 0 {
		t.Fatalf("since filter ignored: %v", rows)
	}
}

func TestSweepMarksExpiredCertificatesAndRenewsThem(t *testing.T) {
	embeddedOnly(t)
	created := newCert(t, "alice", newProfile(t, false))
	waitJob(t, created.str("job_id"), "Completed")
	id := certID(created)
	// Past not_after (90 days): the sweep marks it Expired and renews it.
	if _, err := at(91 * 24 * time.Hour).Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	jobs := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs?certificate_id="+id, nil).Body["data"].([]any)
	if len(jobs) != 2 {
		t.Fatalf("want a renewal job, got %d jobs", len(jobs))
	}
	waitJob(t, jobs[0].(map[string]any)["id"].(string), "Completed")
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+id+"&action=certificate.status_changed&until="+
		time.Now().Add(92*24*time.Hour).UTC().Format(time.RFC3339), nil).Body["data"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["details"].(map[string]any)["to"] != "Expired" {
		t.Fatalf("status change audit: %v", rows)
	}
}

// The sweep reads an eventually consistent index. A copy of a certificate
// that predates its last renewal must not start another one.
func TestStaleIndexCopyCannotStartARenewal(t *testing.T) {
	embeddedOnly(t)
	profile := newProfile(t, false)
	created := newCert(t, "alice", profile)
	waitJob(t, created.str("job_id"), "Completed")
	st := storeOf()
	ctx := context.Background()
	cert, err := st.GetCertificate(ctx, certID(created))
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.GetProfile(ctx, profile)
	if err != nil {
		t.Fatal(err)
	}
	stale := *cert
	earlier := cert.RenewAt.Add(-90 * 24 * time.Hour)
	stale.RenewAt = &earlier
	now := time.Now().UTC()
	job := &domain.Job{ID: uniq("job"), CertificateID: cert.ID, ProfileID: profile, Type: domain.JobRenewal, Status: domain.JobPending,
		RequestedBy: domain.SystemScheduler, CSR: cert.CSR, PrevCertStatus: cert.Status, CreatedAt: now, UpdatedAt: now}
	err = st.StartRenewal(ctx, workflow.NewJob{Cert: &stale, Job: job, ProfileVersion: p.Version, ExpectRenewAt: stale.RenewAt})
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("stale copy: %v, want a conflict", err)
	}
	// The same write with the current renewal time goes through.
	triggered := &domain.AuditEvent{Actor: domain.SystemScheduler, ActorType: domain.ActorSystem, Action: domain.AuditRenewalTriggered,
		ResourceType: "job", ResourceID: job.ID, Timestamp: now}
	err = st.StartRenewal(ctx, workflow.NewJob{Cert: cert, Job: job, ProfileVersion: p.Version, ExpectRenewAt: cert.RenewAt, Audits: []*domain.AuditEvent{triggered}})
	if err != nil {
		t.Fatalf("fresh copy: %v", err)
	}
	// No execution was started for it: end it as the workflow's failure path would.
	if _, err := serviceOf().Finalize(ctx, workflow.FinalizeInput{Action: "fail", JobID: job.ID}); err != nil {
		t.Fatal(err)
	}
}
