package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// The reaper expires what has waited longer than the approval timeout, and
// only that: the request ends expired by system-reaper, its job Cancelled
// with "approval expired", the certificate restored, one approval_expired
// row, and the waiting execution is told. Runs are idempotent.
func TestReaperExpiresStaleRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	old := e.pendingCert("old")
	e.clock.Advance(100 * time.Hour)
	young := e.pendingCert("young")
	oldEdit := ""
	{
		_, pending, err := e.svc.UpdateProfile(ctx, alice, "prod", domain.ProfileInput{Name: domain.Ptr("renamed")})
		if err != nil {
			t.Fatal(err)
		}
		oldEdit = pending.ApprovalID
	}
	e.clock.Advance(68*time.Hour + time.Second) // old: 168h and a second; young: 68h
	res, err := e.svc.Reap(ctx)
	if err != nil || res.Expired != 1 || res.Failed != 0 {
		t.Fatalf("reap: %+v %v", res, err)
	}
	a := e.approval(old.ApprovalID)
	if a.State != domain.ApprovalExpired || a.DecidedBy != domain.SystemReaper || a.DecidedType != domain.ActorSystem || a.Reason != "approval expired" {
		t.Fatalf("expired request: %+v", a)
	}
	if j := e.job(old.JobID); j.Status != domain.JobCancelled || j.Error != "approval expired" {
		t.Fatalf("job: %s %q", j.Status, j.Error)
	}
	if c := e.cert("old"); c.CurrentJobID != "" || c.Status != domain.CertPending {
		t.Fatalf("certificate: %+v", c)
	}
	rows := e.rowsBy(old.ApprovalID, domain.AuditApprovalExpired)
	if len(rows) != 1 || rows[0].Actor != domain.SystemReaper || rows[0].ActorType != domain.ActorSystem {
		t.Fatalf("approval_expired rows: %+v", rows)
	}
	if got := e.exec.Sends(); len(got) != 1 || got[0] != (sent{"token-old", "expired"}) {
		t.Fatalf("the waiting execution was not released: %v", got)
	}
	if e.obs.Count("expired") != 1 {
		t.Fatalf("expired decisions observed: %d", e.obs.Count("expired"))
	}
	for _, id := range []string{young.ApprovalID, oldEdit} {
		if a := e.approval(id); a.State != domain.ApprovalPending {
			t.Fatalf("%s expired before its time: %+v", id, a)
		}
	}
	if res, err := e.svc.Reap(ctx); err != nil || res.Expired != 0 || len(e.exec.Sends()) != 1 {
		t.Fatalf("second run: %+v %v %v", res, err, e.exec.Sends())
	}
	// A late approval changes nothing.
	_, err = e.svc.Approve(ctx, bob, old.ApprovalID, "late")
	wantKind(t, "late approval", err, domain.ErrConflict)
	if _, err := e.issue(old.JobID); err == nil || e.ca.Signed() != 0 {
		t.Fatalf("an expired request's job issued: %v", err)
	}

	// The profile edit expires too, and releases the profile.
	e.clock.Advance(100 * time.Hour)
	if res, err := e.svc.Reap(ctx); err != nil || res.Expired != 2 {
		t.Fatalf("third run: %+v %v", res, err)
	}
	if p := e.profile("prod"); p.PendingEditID != "" || p.Name == "renamed" {
		t.Fatalf("profile after its edit expired: %+v", p)
	}
}

// The state machine's own timeout expires through the same transition,
// but never overrides a decision recorded first: a late approval still
// issues, a late rejection stays rejected. Its task has closed, so
// nothing is sent to it.
func TestWorkflowTimeoutNeverOverridesADecision(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	timeout := func(s *domain.Started) string {
		t.Helper()
		out, err := e.svc.Finalize(ctx, workflow.FinalizeInput{Action: "timeout", JobID: s.JobID, ApprovalID: s.ApprovalID})
		if err != nil {
			t.Fatalf("finalize: %v", err)
		}
		return out.Outcome
	}
	approved := e.pendingCert("approved")
	e.approve(bob, approved.ApprovalID)
	rejected := e.pendingCert("rejected")
	if _, err := e.svc.Reject(ctx, bob, rejected.ApprovalID, "no"); err != nil {
		t.Fatal(err)
	}
	pending := e.pendingCert("pending")
	sends := len(e.exec.Sends())

	if got := timeout(approved); got != "approved" {
		t.Fatalf("timeout after approval: %s", got)
	}
	if a, j := e.approval(approved.ApprovalID), e.job(approved.JobID); a.State != domain.ApprovalApproved || j.Status != domain.JobPending {
		t.Fatalf("approved request after the timeout: %s, job %s", a.State, j.Status)
	}
	e.issued("approved", approved.JobID)
	if got := timeout(rejected); got != "rejected" {
		t.Fatalf("timeout after rejection: %s", got)
	}
	if got := timeout(pending); got != "expired" {
		t.Fatalf("timeout while pending: %s", got)
	}
	if a := e.approval(pending.ApprovalID); a.State != domain.ApprovalExpired || a.DecidedBy != domain.SystemReaper {
		t.Fatalf("timed out request: %+v", a)
	}
	if got := timeout(pending); got != "expired" {
		t.Fatalf("a repeated timeout: %s", got)
	}
	if n := len(e.exec.Sends()) - sends; n != 0 {
		t.Fatalf("%d decisions sent to tasks that had already closed", n)
	}
}

// Bypass mode decides certificate requests at once, as the system, and
// says so: the request is bypassed by system-bypass, no approval_requested
// row names the requester, the execution does not wait, and the job issues.
// Decisions on it are refused; profile edits stay gated.
func TestBypass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.svc.Bypass = true
	e.gatedProfile("prod", "**.example.com")
	s := e.newCert(alice, "web", "prod", "web.example.com")
	if s.ApprovalID == "" || s.Status != domain.JobPending {
		t.Fatalf("started: %+v", s)
	}
	a := e.approval(s.ApprovalID)
	if a.State != domain.ApprovalBypassed || a.DecidedBy != domain.SystemBypass || a.DecidedType != domain.ActorSystem || a.RequestedBy != "alice" {
		t.Fatalf("request: %+v", a)
	}
	if j := e.job(s.JobID); j.Status != domain.JobPending || !j.RequiresApproval {
		t.Fatalf("job: %+v", j)
	}
	if got := e.actions(s.ApprovalID); len(got) != 1 || got[0] != domain.AuditApprovalBypassed {
		t.Fatalf("audit of the request: %v", got)
	}
	if rows := e.rowsBy(s.ApprovalID, domain.AuditApprovalBypassed); rows[0].Actor != domain.SystemBypass || rows[0].ActorType != domain.ActorSystem {
		t.Fatalf("bypass row: %+v", rows[0])
	}
	if starts := e.exec.Starts(); len(starts) != 1 || starts[0].RequiresApproval || starts[0].ApprovalID != s.ApprovalID {
		t.Fatalf("execution input: %+v", starts)
	}
	if e.obs.Count("bypassed") != 1 {
		t.Fatalf("bypassed decisions observed: %d", e.obs.Count("bypassed"))
	}
	_, err := e.svc.Approve(ctx, bob, s.ApprovalID, "")
	wantKind(t, "deciding a bypassed request", err, domain.ErrConflict)
	e.issued("web", s.JobID)

	_, pending, err := e.svc.UpdateProfile(ctx, alice, "prod", domain.ProfileInput{Name: domain.Ptr("renamed")})
	if err != nil || pending == nil {
		t.Fatalf("a profile edit under bypass: %+v %v", pending, err)
	}
	_, err = e.svc.Approve(ctx, alice, pending.ApprovalID, "")
	if !errors.Is(err, domain.ErrSameActor) {
		t.Fatalf("self-approval under bypass: %v", err)
	}
}

// With bypass off (the default), nothing is ever decided as system-bypass.
func TestNoBypassByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.pendingCert("web")
	if a := e.approval(s.ApprovalID); a.State != domain.ApprovalPending || a.DecidedBy != "" {
		t.Fatalf("request: %+v", a)
	}
	if starts := e.exec.Starts(); len(starts) != 1 || !starts[0].RequiresApproval || starts[0].TimeoutSeconds != int64((168*time.Hour).Seconds()) {
		t.Fatalf("execution input: %+v", starts)
	}
	if got := e.actions(s.ApprovalID); len(got) != 1 || got[0] != domain.AuditApprovalRequested {
		t.Fatalf("audit: %v", got)
	}
}

// If the execution cannot be started, nothing is left waiting for it: the
// job fails, its request expires, the certificate says Failed, and the
// caller is told to retry (503).
func TestStartFailureLeavesNothingWaiting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.example.com")
	e.exec.failNextStart(errors.New("throttled"))
	_, err := e.svc.CreateCertificate(t.Context(), alice, domainCert(t, "web", "prod", "web.example.com"))
	wantKind(t, "create with the workflow down", err, domain.ErrUnavailable)
	c := e.cert("web")
	if c.Status != domain.CertFailed || c.CurrentJobID != "" {
		t.Fatalf("certificate: %+v", c)
	}
	starts := e.exec.Starts()
	j := e.job(starts[0].JobID)
	if j.Status != domain.JobFailed || !strings.HasPrefix(j.Error, "could not start the workflow") {
		t.Fatalf("job: %s %q", j.Status, j.Error)
	}
	if a := e.approval(j.ApprovalID); a.State != domain.ApprovalExpired {
		t.Fatalf("request: %+v", a)
	}
	if q := e.startQueue(); len(q) != 0 {
		t.Fatalf("start queue: %+v", q)
	}
}

// A job whose start was never confirmed stays queued; the reaper starts
// it after the grace period (a start is idempotent), once.
func TestReaperRestartsUnconfirmedStarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.gatedProfile("prod", "**.example.com")
	lost := true
	e.st.clearStart = func(ctx context.Context, jobID string) error {
		if lost {
			lost = false
			return errors.New("the function died before confirming the start")
		}
		return e.st.Store.ClearStart(ctx, jobID)
	}
	s := e.newCert(alice, "web", "prod", "web.example.com")
	if q := e.startQueue(); len(q) != 1 || q[0].JobID != s.JobID {
		t.Fatalf("start queue: %+v", q)
	}
	if res, err := e.svc.Reap(ctx); err != nil || res.Restarted != 0 {
		t.Fatalf("within the grace: %+v %v", res, err)
	}
	e.clock.Advance(2 * time.Minute)
	if res, err := e.svc.Reap(ctx); err != nil || res.Restarted != 1 {
		t.Fatalf("after the grace: %+v %v", res, err)
	}
	starts := e.exec.Starts()
	if len(starts) != 2 || starts[1] != starts[0] {
		t.Fatalf("starts: %+v", starts)
	}
	e.clock.Advance(2 * time.Minute)
	if res, err := e.svc.Reap(ctx); err != nil || res.Restarted != 0 || len(e.exec.Starts()) != 2 {
		t.Fatalf("restarted twice: %+v %v", res, err)
	}
}

// A repair ends a job only once its execution has stopped: the job fails,
// its pending request expires and the certificate is restored, audited
// under the admin.
func TestRepairJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	s := e.pendingCert("web")
	_, err := e.svc.RepairJob(ctx, admin, s.JobID)
	wantKind(t, "repair of a running execution's job", err, domain.ErrConflict)
	if j := e.job(s.JobID); j.Status != domain.JobAwaitingApproval {
		t.Fatalf("job: %s", j.Status)
	}
	e.exec.status = "ABORTED"
	j, err := e.svc.RepairJob(ctx, admin, s.JobID)
	if err != nil || j.Status != domain.JobFailed || !strings.Contains(j.Error, admin.ID) {
		t.Fatalf("repair: %+v %v", j, err)
	}
	if a := e.approval(s.ApprovalID); a.State != domain.ApprovalExpired {
		t.Fatalf("request: %+v", a)
	}
	if c := e.cert("web"); c.CurrentJobID != "" || c.Status != domain.CertFailed {
		t.Fatalf("certificate: %+v", c)
	}
	if rows := e.rowsBy(s.JobID, domain.AuditRenewalJobFailed); len(rows) != 1 || rows[0].Actor != admin.ID {
		t.Fatalf("audit: %+v", rows)
	}
	_, err = e.svc.RepairJob(ctx, admin, s.JobID)
	wantKind(t, "repair of an ended job", err, domain.ErrConflict)
}
