package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
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
