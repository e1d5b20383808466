package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// noticed is an audit row carrying its event, as the workflow attaches it.
func noticed(action, resource, id string) *domain.AuditEvent {
	e := ev(action, resource)
	e.ID = id
	e.Notice = &domain.Notice{ID: id, Type: domain.EventApprovalDecided, Time: now, Detail: json.RawMessage(`{"id":"` + id + `"}`)}
	return e
}

// An event is in the outbox exactly when its transition committed: a
// decision whose condition fails writes none, one that commits writes its
// own; clearing is idempotent.
func TestOutboxFollowsTheTransaction(t *testing.T) {
	st, _, _, _ := newStore(t)
	ctx := t.Context()
	_, _, a := gatedJob(t, st)
	refused := decision(a, "alice", domain.ApprovalApproved) // the requester: refused in the write
	refused.Audit = noticed("approval_approved", a.ID, "01JREFUSED0000000000000000")
	if err := st.Decide(ctx, refused); !workflow.IsChanged(err) {
		t.Fatalf("refused decision: %v", err)
	}
	queued, _, err := st.PendingOutbox(ctx, now.Add(time.Hour), domain.PageRequest{Limit: 10})
	if err != nil || len(queued) != 0 {
		t.Fatalf("outbox after a refused transition: %+v %v", queued, err)
	}
	ok := decision(a, "bob", domain.ApprovalApproved)
	ok.Audit = noticed("approval_approved", a.ID, "01JCOMMITTED00000000000000")
	if err := st.Decide(ctx, ok); err != nil {
		t.Fatal(err)
	}
	queued, _, err = st.PendingOutbox(ctx, now.Add(time.Hour), domain.PageRequest{Limit: 10})
	if err != nil || len(queued) != 1 || queued[0].ID != "01JCOMMITTED00000000000000" || queued[0].Type != domain.EventApprovalDecided ||
		string(queued[0].Detail) != `{"id":"01JCOMMITTED00000000000000"}` {
		t.Fatalf("outbox after the decision: %+v %v", queued, err)
	}
	if queued, _, _ := st.PendingOutbox(ctx, now.Add(-time.Minute), domain.PageRequest{Limit: 10}); len(queued) != 0 {
		t.Fatalf("an entry younger than the cutoff was returned: %+v", queued)
	}
	for range 2 {
		if err := st.ClearOutbox(ctx, "01JCOMMITTED00000000000000"); err != nil {
			t.Fatal(err)
		}
	}
	if queued, _, _ := st.PendingOutbox(ctx, now.Add(time.Hour), domain.PageRequest{Limit: 10}); len(queued) != 0 {
		t.Fatalf("outbox after clearing: %+v", queued)
	}
	// A notice whose id is not its row's is a programming error.
	bad := decision(a, "carol", domain.ApprovalRejected)
	bad.Audit = noticed("approval_rejected", a.ID, "01JOTHER000000000000000000")
	bad.Audit.ID = "01JROW00000000000000000000"
	if err := st.Decide(ctx, bad); err == nil || workflow.IsChanged(err) {
		t.Fatalf("a notice with another id: %v", err)
	}
}

// Reminders and escalations: only while pending, each once; the pending
// gauge counts the request in and out.
func TestRemindPendingConditions(t *testing.T) {
	st, _, _, _ := newStore(t)
	ctx := t.Context()
	_, _, a := gatedJob(t, st)
	g, err := st.PendingGauges(ctx)
	if err != nil || len(g) != 1 || g[0].ProfileID != "p1" || g[0].Count != 1 || g[0].Oldest == nil || !g[0].Oldest.Equal(now) {
		t.Fatalf("gauges with one request pending: %+v %v", g, err)
	}
	remind := func(n int, escalate bool) error {
		return st.RemindPending(ctx, workflow.Reminder{Approval: a, Number: n, Escalate: escalate, At: now.Add(time.Minute),
			Audits: []*domain.AuditEvent{ev(domain.AuditApprovalReminder, a.ID)}})
	}
	if err := remind(1, false); err != nil {
		t.Fatalf("first reminder: %v", err)
	}
	if err := remind(1, false); !workflow.IsChanged(err) {
		t.Fatalf("the same reminder again: %v", err)
	}
	if err := remind(3, true); err != nil {
		t.Fatalf("third reminder with the escalation: %v", err)
	}
	if err := remind(0, true); !workflow.IsChanged(err) {
		t.Fatalf("a second escalation: %v", err)
	}
	// A vote committed after the request was read: the reminder, which
	// reports the votes, is not written (the next run sends it).
	if err := st.Vote(ctx, workflow.Ballot{Approval: a, Vote: domain.Vote{Actor: "bob", ActorType: domain.ActorUser, At: now.Add(time.Minute), Eligible: []string{"approvers"}},
		Audit: ev(domain.AuditApprovalVote, a.ID)}); err != nil {
		t.Fatal(err)
	}
	if err := remind(4, false); !workflow.IsChanged(err) {
		t.Fatalf("a reminder counted against votes it does not know: %v", err)
	}
	got, err := st.GetApproval(ctx, a.ID)
	if err != nil || got.RemindersSent != 3 || got.EscalatedAt == nil || !got.Gauged || len(got.Votes) != 1 {
		t.Fatalf("after reminders: %+v %v", got, err)
	}
	a = got
	if err := remind(4, false); err != nil {
		t.Fatalf("the reminder counted against the vote: %v", err)
	}
	if got, err = st.GetApproval(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.Decide(ctx, decision(got, "bob", domain.ApprovalRejected)); err != nil {
		t.Fatal(err)
	}
	if err := remind(5, false); !workflow.IsChanged(err) {
		t.Fatalf("a reminder of a decided request: %v", err)
	}
	g, err = st.PendingGauges(ctx)
	if err != nil || len(g) != 1 || g[0].Count != 0 || g[0].Oldest != nil {
		t.Fatalf("gauges once decided: %+v %v", g, err)
	}
}

// An expiry warning is for the current version only, once.
func TestWarnExpiringConditions(t *testing.T) {
	st, _, _, _ := newStore(t)
	ctx := t.Context()
	_, j, a := gatedJob(t, st)
	got, _, _ := st.StoreTaskToken(ctx, a.ID, "tok")
	if err := st.Decide(ctx, decision(got, "bob", domain.ApprovalApproved)); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkJobRunning(ctx, j.ID, now); err != nil {
		t.Fatal(err)
	}
	j.Status = domain.JobRunning
	v := &domain.CertificateVersion{CertificateID: "c1", JobID: j.ID, SerialNumber: "0a", NotBefore: now, NotAfter: now.Add(48 * time.Hour), IssuedAt: now,
		FingerprintSHA256: "ff", PEMChain: "pem"}
	if err := st.CompleteIssuance(ctx, workflow.Completion{Job: j, Version: v, RenewAt: now.Add(24 * time.Hour), ProfileVersion: 1, Approval: a.ID,
		Audit: ev(domain.AuditRenewalJobCompleted, j.ID)}); err != nil {
		t.Fatal(err)
	}
	if due, _, _ := st.ExpiringBefore(ctx, now.Add(47*time.Hour), domain.PageRequest{Limit: 10}); len(due) != 0 {
		t.Fatalf("warned before the window: %+v", due)
	}
	due, _, err := st.ExpiringBefore(ctx, now.Add(49*time.Hour), domain.PageRequest{Limit: 10})
	if err != nil || len(due) != 1 || due[0].SerialNumber != "0a" {
		t.Fatalf("expiring: %+v %v", due, err)
	}
	if err := st.WarnExpiring(ctx, "c1", "0b", ev(domain.AuditCertExpiring, "c1")); !workflow.IsChanged(err) {
		t.Fatalf("a warning for another version: %v", err)
	}
	if err := st.WarnExpiring(ctx, "c1", "0a", ev(domain.AuditCertExpiring, "c1")); err != nil {
		t.Fatal(err)
	}
	if err := st.WarnExpiring(ctx, "c1", "0a", ev(domain.AuditCertExpiring, "c1")); !workflow.IsChanged(err) {
		t.Fatalf("a second warning: %v", err)
	}
}
