package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// fakeBus records what is published; while fail is set it accepts nothing.
type fakeBus struct {
	mu        sync.Mutex
	published []domain.Notice
	fail      bool
}

func (b *fakeBus) Publish(_ context.Context, ns []domain.Notice) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail {
		return nil, errors.New("bus down")
	}
	var ids []string
	for _, n := range ns {
		b.published = append(b.published, n)
		ids = append(ids, n.ID)
	}
	return ids, nil
}

func (b *fakeBus) types(approvalID string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, n := range b.published {
		var d domain.EventDetail
		_ = json.Unmarshal(n.Detail, &d)
		if d.Approval != nil && d.Approval.ID == approvalID {
			out = append(out, n.Type)
		}
	}
	return out
}

func notifyEnv(t *testing.T) (*env, *fakeBus) {
	e := newEnv(t)
	bus := &fakeBus{}
	e.svc.Events = bus
	e.svc.Notify = workflow.NotifySettings{Stage: "test", Default: []string{"ops"}, Escalation: []string{"sec"},
		Targets: []string{"ops", "sec"}, RemindAfter: 24 * time.Hour, EscalateAfter: 72 * time.Hour}
	return e, bus
}

// Reminder n at n × RemindAfter, each once; a missed one is not sent late;
// the escalation once; none after the decision, none past the timeout.
func TestRemindersFollowTheClock(t *testing.T) {
	e, bus := notifyEnv(t)
	ctx := t.Context()
	e.gatedProfile("pr", "**.r.example.com")
	a := e.newCert(alice, "c1", "pr", "a.r.example.com").ApprovalID
	reap := func() workflow.ReapResult {
		t.Helper()
		res, err := e.svc.Reap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	e.clock.Advance(23 * time.Hour)
	if res := reap(); res.Reminded != 0 || res.Escalated != 0 {
		t.Fatalf("before the first reminder: %+v", res)
	}
	e.clock.Advance(2 * time.Hour) // 25h
	if res := reap(); res.Reminded != 1 || res.Escalated != 0 {
		t.Fatalf("at 25h: %+v", res)
	}
	if res := reap(); res.Reminded != 0 {
		t.Fatalf("the same reminder twice: %+v", res)
	}
	e.clock.Advance(72 * time.Hour) // 97h: reminders 2 and 3 were missed; 4 is due, and the escalation
	if res := reap(); res.Reminded != 1 || res.Escalated != 1 {
		t.Fatalf("at 97h: %+v", res)
	}
	if got := e.approval(a); got.RemindersSent != 4 || got.EscalatedAt == nil {
		t.Fatalf("request after reminders: %+v", got)
	}
	if n := len(e.rowsBy(a, domain.AuditApprovalReminder)); n != 2 {
		t.Fatalf("%d reminder rows, want 2", n)
	}
	if n := len(e.rowsBy(a, domain.AuditApprovalEscalated)); n != 1 {
		t.Fatalf("%d escalation rows, want 1", n)
	}
	e.approve(bob, a)
	e.clock.Advance(24 * time.Hour)
	if res := reap(); res.Reminded != 0 || res.Escalated != 0 {
		t.Fatalf("after the decision: %+v", res)
	}
	want := []string{domain.EventApprovalRequested, domain.EventApprovalReminder, domain.EventApprovalReminder,
		domain.EventApprovalEscalated, domain.EventApprovalDecided}
	if got := bus.types(a); len(got) != len(want) {
		t.Fatalf("published %v, want %v", got, want)
	}
	// A second request left alone: reminders until the timeout, then the
	// expiry and nothing more.
	b := e.newCert(alice, "c2", "pr", "b.r.example.com").ApprovalID
	e.clock.Advance(169 * time.Hour)
	if res := reap(); res.Expired != 1 || res.Reminded != 0 {
		t.Fatalf("past the timeout: %+v", res)
	}
	if got := bus.types(b); len(got) != 2 || got[1] != domain.EventApprovalExpired {
		t.Fatalf("published %v for a request left to expire", got)
	}
}

// A failed publish loses nothing: the event waits in the outbox and the
// reaper publishes it, once, after the grace period, with its id.
func TestFailedPublishIsPublishedByTheReaper(t *testing.T) {
	e, bus := notifyEnv(t)
	ctx := t.Context()
	e.gatedProfile("pf", "**.f.example.com")
	a := e.newCert(alice, "c1", "pf", "a.f.example.com").ApprovalID
	bus.mu.Lock()
	bus.fail = true
	bus.mu.Unlock()
	e.approve(bob, a)
	queued, _, err := e.st.PendingOutbox(ctx, e.clock.Now().Add(time.Hour), domain.PageRequest{Limit: 10})
	if err != nil || len(queued) != 1 || queued[0].Type != domain.EventApprovalDecided {
		t.Fatalf("outbox after a failed publish: %+v %v", queued, err)
	}
	bus.mu.Lock()
	bus.fail = false
	bus.mu.Unlock()
	if res, err := e.svc.Reap(ctx); err != nil || res.Published != 0 {
		t.Fatalf("within the grace period: %+v %v", res, err)
	}
	e.clock.Advance(2 * time.Minute)
	if res, err := e.svc.Reap(ctx); err != nil || res.Published != 1 || res.EventsQueued != 0 {
		t.Fatalf("after the grace period: %+v %v", res, err)
	}
	if res, err := e.svc.Reap(ctx); err != nil || res.Published != 0 {
		t.Fatalf("published twice: %+v %v", res, err)
	}
	got := bus.types(a)
	if len(got) != 2 || got[1] != domain.EventApprovalDecided {
		t.Fatalf("published %v", got)
	}
	if rows := e.rowsBy(a, domain.AuditApprovalApproved); len(rows) != 1 || rows[0].ID != queued[0].ID {
		t.Fatalf("the event's id %s is not its audit row's: %+v", queued[0].ID, rows)
	}
}

// about returns the events about an approval, in order.
func (b *fakeBus) about(approvalID string) []domain.Notice {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []domain.Notice
	for _, n := range b.published {
		var d domain.EventDetail
		_ = json.Unmarshal(n.Detail, &d)
		if d.Approval != nil && d.Approval.ID == approvalID {
			out = append(out, n)
		}
	}
	return out
}

func detail(t *testing.T, n domain.Notice) domain.EventDetail {
	t.Helper()
	var d domain.EventDetail
	if err := json.Unmarshal(n.Detail, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func voteActors(vs []domain.Vote) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Actor)
	}
	return strings.Join(out, ",")
}

// A quorum's events say the votes so far and what is still missing: the
// request (none yet), each vote that leaves it pending (its own event,
// written in the vote's transaction under its approval_vote row's id),
// a reminder, and the decision, whose event is the completing vote's (that
// vote's row publishes nothing of its own). A rejection says what it
// lacked.
func TestQuorumEventsSayWhatIsMissing(t *testing.T) {
	e, bus := notifyEnv(t)
	ctx := t.Context()
	s := e.quorumCert("nq", domain.ProfileInput{RequiredApprovals: domain.Ptr(2)})
	evs := bus.about(s.ApprovalID)
	if len(evs) != 1 || evs[0].Type != domain.EventApprovalRequested {
		t.Fatalf("after the request: %+v", evs)
	}
	req := detail(t, evs[0])
	if a := req.Approval; a.RequiredApprovals != 2 || a.Votes == nil || len(a.Votes) != 0 || a.Missing == nil || a.Missing.Approvals != 2 {
		t.Fatalf("requested: %+v", a)
	}
	for _, want := range []string{"Votes: 0 of 2.", "Still missing: 2 approvals from approvers (up to 2).", "To vote or reject"} {
		if !strings.Contains(req.Message.Text, want) {
			t.Errorf("request message lacks %q:\n%s", want, req.Message.Text)
		}
	}

	e.vote(bob, s.ApprovalID)
	evs = bus.about(s.ApprovalID)
	if len(evs) != 2 || evs[1].Type != domain.EventApprovalVoteRecorded {
		t.Fatalf("after one vote: %v", bus.types(s.ApprovalID))
	}
	voted := detail(t, evs[1])
	if a := voted.Approval; voted.Actor != "bob" || voted.Action != domain.AuditApprovalVote || a.State != "pending" ||
		voteActors(a.Votes) != "bob" || a.Votes[0].Factor != domain.DefaultFactorName || a.Missing == nil || a.Missing.Approvals != 1 || len(a.Decide) == 0 {
		t.Fatalf("vote recorded: %+v %+v", voted, a)
	}
	for _, want := range []string{"bob voted (1 of 2), approval waiting", "Votes: 1 of 2 (bob).", "Still missing: 1 approval from approvers (up to 1).", "bob's note: vote of bob"} {
		if !strings.Contains(voted.Message.Text, want) {
			t.Errorf("vote message lacks %q:\n%s", want, voted.Message.Text)
		}
	}
	if rows := e.rowsBy(s.ApprovalID, domain.AuditApprovalVote); len(rows) != 1 || rows[0].ID != evs[1].ID {
		t.Fatalf("the vote's event %s is not its approval_vote row's: %+v", evs[1].ID, rows)
	}

	// A reminder while it waits says the same.
	e.clock.Advance(25 * time.Hour)
	if _, err := e.svc.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	evs = bus.about(s.ApprovalID)
	if len(evs) != 3 || evs[2].Type != domain.EventApprovalReminder {
		t.Fatalf("after the reminder: %v", bus.types(s.ApprovalID))
	}
	if rem := detail(t, evs[2]); voteActors(rem.Approval.Votes) != "bob" || rem.Approval.Missing.Approvals != 1 || !strings.Contains(rem.Message.Text, "Votes: 1 of 2 (bob).") {
		t.Fatalf("reminder: %+v\n%s", rem.Approval, rem.Message.Text)
	}

	e.vote(carol, s.ApprovalID)
	evs = bus.about(s.ApprovalID)
	if len(evs) != 4 || evs[3].Type != domain.EventApprovalDecided {
		t.Fatalf("after the completing vote: %v", bus.types(s.ApprovalID))
	}
	dec := detail(t, evs[3])
	if a := dec.Approval; a.State != "approved" || a.DecidedBy != "carol" || voteActors(a.Votes) != "bob,carol" || a.Missing != nil {
		t.Fatalf("decided: %+v", a)
	}
	if !strings.Contains(dec.Message.Text, "Votes: 2 of 2 (bob, carol).") || strings.Contains(dec.Message.Text, "missing") {
		t.Errorf("decision message:\n%s", dec.Message.Text)
	}
	rows := e.rowsBy(s.ApprovalID, domain.AuditApprovalVote)
	if len(rows) != 2 || rows[1].ID == evs[3].ID || rows[1].Notice != nil {
		t.Fatalf("the completing vote's row: %+v", rows)
	}
	if queued, _, err := e.st.PendingOutbox(ctx, e.clock.Now().Add(time.Hour), domain.PageRequest{Limit: 10}); err != nil || len(queued) != 0 {
		t.Fatalf("outbox after publishing: %+v %v", queued, err)
	}

	// Rejected after one vote: the event says what it lacked.
	r := e.newCert(alice, "nq2", "p-nq", "www2.nq.example.com")
	e.vote(bob, r.ApprovalID)
	if _, err := e.svc.Reject(ctx, carol, r.ApprovalID, "no"); err != nil {
		t.Fatal(err)
	}
	evs = bus.about(r.ApprovalID)
	if got := bus.types(r.ApprovalID); len(got) != 3 || got[1] != domain.EventApprovalVoteRecorded || got[2] != domain.EventApprovalDecided {
		t.Fatalf("rejected after a vote: %v", got)
	}
	rej := detail(t, evs[2])
	if a := rej.Approval; a.State != "rejected" || voteActors(a.Votes) != "bob" || a.Missing == nil || a.Missing.Approvals != 1 ||
		!strings.Contains(rej.Message.Text, "Still missing: 1 approval") {
		t.Fatalf("rejected: %+v\n%s", a, rej.Message.Text)
	}
}

// A request that needs one approval says so in its event, and its
// messages stay as they were (no votes line).
func TestSingleApprovalEventsCarryThePolicy(t *testing.T) {
	e, bus := notifyEnv(t)
	e.gatedProfile("ps", "**.s.example.com")
	a := e.newCert(alice, "c1", "ps", "a.s.example.com").ApprovalID
	e.approve(bob, a)
	evs := bus.about(a)
	if len(evs) != 2 {
		t.Fatalf("events: %v", bus.types(a))
	}
	req, dec := detail(t, evs[0]), detail(t, evs[1])
	if req.Approval.RequiredApprovals != 1 || req.Approval.Missing == nil || req.Approval.Missing.Approvals != 1 || strings.Contains(req.Message.Text, "Votes:") {
		t.Fatalf("requested: %+v\n%s", req.Approval, req.Message.Text)
	}
	if voteActors(dec.Approval.Votes) != "bob" || dec.Approval.Missing != nil || strings.Contains(dec.Message.Text, "Votes:") {
		t.Fatalf("decided: %+v\n%s", dec.Approval, dec.Message.Text)
	}
}

// A request whose certificate was revoked while it waited cannot issue:
// nobody is reminded of it or escalated to, though it stays pending until
// it is decided or expires.
func TestNoReminderForARevokedCertificate(t *testing.T) {
	e, bus := notifyEnv(t)
	ctx := t.Context()
	e.gatedProfile("pr", "**.r.example.com")
	first := e.newCert(alice, "c1", "pr", "a.r.example.com")
	e.approve(bob, first.ApprovalID)
	e.issued("c1", first.JobID)
	renewal, err := e.svc.Renew(ctx, alice, "c1", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.revoke("c1", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(97 * time.Hour)
	res, err := e.svc.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reminded != 0 || res.Escalated != 0 {
		t.Fatalf("reminded about a revoked certificate's renewal: %+v", res)
	}
	if got := bus.types(renewal.ApprovalID); len(got) != 1 || got[0] != domain.EventApprovalRequested {
		t.Fatalf("published %v", got)
	}
}

// A profile's notify list is edited like its other fields, and read back.
func TestNotifyIsEdited(t *testing.T) {
	e, _ := notifyEnv(t)
	ctx := t.Context()
	e.gatedProfile("pn", "**.n.example.com")
	_, pending, err := e.svc.UpdateProfile(ctx, alice, "pn", domain.ProfileInput{Notify: &[]string{"sec"}})
	if err != nil {
		t.Fatal(err)
	}
	if pending != nil {
		e.approve(bob, pending.ApprovalID)
	}
	if p := e.profile("pn"); !slices.Equal(p.Notify, []string{"sec"}) {
		t.Fatalf("notify %v after the edit, want [sec]", p.Notify)
	}
}
