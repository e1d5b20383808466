package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// startTarget runs a second stack with other settings for one test.
func startTarget(t *testing.T, edit func(*config.Config)) target {
	t.Helper()
	if stack == nil {
		t.Skip("needs the embedded emulator to start a stack with other settings")
	}
	s, k, err := startStack(edit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return target{s.URL, k}
}

func TestBypassIssuesWithoutWaitAndIsAudited(t *testing.T) {
	tg := startTarget(t, func(c *config.Config) { c.Bypass = true })
	profile := createProfile(t, tg, true)
	cn := uniq("byp") + "." + zone(profile)
	created := tg.must(t, http.StatusCreated, "alice", "POST", "/api/v1/certificates", map[string]any{
		"common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn),
	})
	approvalID, jobID := created.str("approval_id"), created.str("job_id")
	a := tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if a.str("state") != "bypassed" || a.str("decided_by") != domain.SystemBypass || a.str("decided_by_type") != "System" {
		t.Fatalf("bypassed request: %s", a.Raw)
	}
	var job response
	eventually(t, "bypassed job to complete", func() bool {
		job = tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil)
		return job.str("status") == "Completed"
	})
	rows := tg.must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?actor=system-bypass", nil).Body["data"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["action"] != "approval_bypassed" || rows[0].(map[string]any)["actor_type"] != "System" {
		t.Fatalf("bypass audit: %v", rows)
	}
	// No approval_requested row under the human requester.
	if rows := tg.must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?action=approval_requested", nil).Body["data"].([]any); len(rows) != 0 {
		t.Fatalf("bypass also wrote approval_requested: %v", rows)
	}
	body := string(tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/metrics", nil).Raw)
	want := `certctl_approval_decisions_total{outcome="bypassed",profile_id="` + profile + `"} 1`
	if !strings.Contains(body, want) {
		t.Fatalf("metrics missing %q:\n%s", want, body)
	}
}

// The state machine's own wait timeout is the backstop: with no reaper at
// all, a request left pending expires, its job is cancelled, and a late
// approval gets 409 and issues nothing.
func TestWorkflowTimeoutBackstopExpires(t *testing.T) {
	tg := startTarget(t, func(c *config.Config) { c.ApprovalTimeout = 2 * time.Second })
	profile := createProfile(t, tg, true)
	cn := uniq("exp") + "." + zone(profile)
	created := tg.must(t, http.StatusCreated, "alice", "POST", "/api/v1/certificates", map[string]any{
		"id": uniq("mc"), "common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn),
	})
	approvalID, jobID := created.str("approval_id"), created.str("job_id")
	var job response
	eventually(t, "the workflow timeout to cancel the job", func() bool {
		job = tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil)
		return job.str("status") == "Cancelled"
	})
	if job.str("error") != "approval expired" {
		t.Fatalf("job: %s", job.Raw)
	}
	a := tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if a.str("state") != "expired" || a.str("decided_by") != domain.SystemReaper {
		t.Fatalf("approval: %s", a.Raw)
	}
	tg.must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	c := tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID(created), nil)
	if c.str("status") != "Pending" || c.str("serial_number") != "" {
		t.Fatalf("certificate after expiry: %s", c.Raw)
	}
}
