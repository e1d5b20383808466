package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// ReapResult summarises one reaper run.
type ReapResult struct {
	Expired     int `json:"expired"`
	Resolved    int `json:"already_decided"`
	Failed      int `json:"failed"`
	Redelivered int `json:"redelivered"`
	Restarted   int `json:"restarted"`
	// Reminded and Escalated count the reminders and escalations sent;
	// Published, the queued events published again.
	Reminded  int `json:"reminded"`
	Escalated int `json:"escalated"`
	Published int `json:"published"`
	// Deliveries of issued versions retried: delivered, failed again.
	Delivered        int `json:"delivered"`
	DeliveriesFailed int `json:"deliveries_failed"`
	// After the run: the oldest request still pending, and what is still
	// queued for delivery or start (each alarmed on when it grows).
	OldestPendingSeconds int64 `json:"oldest_pending_seconds"`
	HandoffsQueued       int   `json:"handoffs_queued"`
	StartsQueued         int   `json:"starts_queued"`
	EventsQueued         int   `json:"events_queued"`
	DeliveriesQueued     int   `json:"deliveries_queued"`
}

// reapPageSize bounds one query; the reaper pages through every stale request.
const reapPageSize = 100

// Reap expires every request pending longer than the approval timeout, then
// sends again any decision whose hand-off to its execution failed. It is
// idempotent (each expiry is a conditional transaction), keeps going past a
// failing item, and pages through all stale requests rather than a window.
func (s *Service) Reap(ctx context.Context) (ReapResult, error) {
	var res ReapResult
	sent, failed, err := s.redeliver(ctx)
	res.Redelivered, res.Failed = sent, failed
	if err != nil {
		return res, err
	}
	started, failed, err := s.restartQueued(ctx)
	res.Restarted, res.Failed = started, res.Failed+failed
	if err != nil {
		return res, err
	}
	// Deliveries never block the rest: a failing target is recorded and
	// counted, and alarmed on through the queue's length.
	delivered, deliveryFailures, waiting, err := s.DrainDeliveries(ctx)
	res.Delivered, res.DeliveriesFailed, res.DeliveriesQueued = delivered, deliveryFailures, waiting
	if err != nil {
		s.log().ErrorContext(ctx, "reaper: could not drain the delivery queue", "error", err)
	}
	cutoff := s.now().Add(-s.ApprovalTimeout)
	token := ""
	for {
		stale, next, err := s.Queues.PendingOlderThan(ctx, cutoff, domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return res, err
		}
		for _, a := range stale {
			outcome, err := s.ExpireApproval(ctx, a.ID, "reaper")
			switch {
			case err != nil:
				res.Failed++
				s.log().ErrorContext(ctx, "reaper: could not expire request", "approval_id", a.ID, "error", err)
			case outcome == string(domain.ApprovalExpired):
				res.Expired++
			default:
				res.Resolved++
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	reminded, escalated, failed, err := s.remind(ctx)
	res.Reminded, res.Escalated, res.Failed = reminded, escalated, res.Failed+failed
	if err != nil {
		return res, err
	}
	published, failed, err := s.republish(ctx)
	res.Published, res.Failed = published, res.Failed+failed
	if err != nil {
		return res, err
	}
	if err := s.measureQueues(ctx, &res); err != nil {
		s.log().WarnContext(ctx, "reaper: could not measure the queues", "error", err)
	}
	s.log().InfoContext(ctx, "reaper run", "expired", res.Expired, "already_decided", res.Resolved,
		"redelivered", res.Redelivered, "restarted", res.Restarted, "reminded", res.Reminded, "escalated", res.Escalated,
		"published", res.Published, "failed", res.Failed, "events_queued", res.EventsQueued,
		"delivered", res.Delivered, "deliveries_failed", res.DeliveriesFailed, "deliveries_queued", res.DeliveriesQueued,
		"oldest_pending_seconds", res.OldestPendingSeconds, "handoffs_queued", res.HandoffsQueued, "starts_queued", res.StartsQueued)
	if res.Failed > 0 {
		return res, errors.New("reaper: some requests could not be expired or handed over; they are retried on the next run")
	}
	return res, nil
}

// restartQueued starts the executions of jobs whose start was never
// confirmed (the creating request died, or its start failed in a way that
// left the job in flight). A start is idempotent: the execution is named
// after the job, so one that already exists is simply confirmed.
func (s *Service) restartQueued(ctx context.Context) (started, failed int, err error) {
	token := ""
	cutoff := s.now().Add(-s.handoffGrace())
	for {
		queued, next, err := s.Queues.PendingStarts(ctx, cutoff, domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return started, failed, err
		}
		for _, q := range queued {
			var in ExecutionInput
			if err := json.Unmarshal([]byte(q.Input), &in); err != nil || in.JobID != q.JobID {
				failed++
				s.log().ErrorContext(ctx, "reaper: queued start has no valid input", "job_id", q.JobID, "error", err)
				continue
			}
			if err := s.Exec.Start(ctx, in); err != nil {
				failed++
				s.log().ErrorContext(ctx, "reaper: start failed; will retry", "job_id", q.JobID, "error", err)
				continue
			}
			if err := s.Queues.ClearStart(ctx, q.JobID); err != nil {
				failed++
				continue
			}
			started++
		}
		if next == "" {
			return started, failed, nil
		}
		token = next
	}
}

// measureQueues reads, after a run, the oldest pending request and the
// length of the hand-off and start queues (entries past the grace period:
// what the run could not clear), and reports them.
func (s *Service) measureQueues(ctx context.Context, res *ReapResult) error {
	oldest, _, err := s.Queues.PendingOlderThan(ctx, s.now(), domain.PageRequest{Limit: 1})
	if err != nil {
		return err
	}
	if len(oldest) > 0 {
		res.OldestPendingSeconds = int64(s.now().Sub(oldest[0].CreatedAt).Seconds())
	}
	cutoff := s.now().Add(-s.handoffGrace())
	handoffs, _, err := s.Queues.PendingHandoffs(ctx, cutoff, domain.PageRequest{Limit: reapPageSize})
	if err != nil {
		return err
	}
	starts, _, err := s.Queues.PendingStarts(ctx, cutoff, domain.PageRequest{Limit: reapPageSize})
	if err != nil {
		return err
	}
	res.HandoffsQueued, res.StartsQueued = len(handoffs), len(starts)
	if s.Outbox != nil {
		events, _, err := s.Outbox.PendingOutbox(ctx, cutoff, domain.PageRequest{Limit: reapPageSize})
		if err != nil {
			return err
		}
		res.EventsQueued = len(events)
	}
	gauges, err := s.Queues.PendingGauges(ctx)
	if err != nil {
		return err
	}
	if s.Observer != nil {
		s.Observer.Queues(time.Duration(res.OldestPendingSeconds)*time.Second, res.HandoffsQueued, res.StartsQueued)
		s.Observer.Pending(gauges, s.now())
	}
	return nil
}

// remind sends the reminders and escalations that are due: a pending
// request gets reminder n once it is n × RemindAfter old, and is escalated
// once it is EscalateAfter old. Each is a conditional write on the request
// (still pending, not already sent) with its audit row, so a request
// decided meanwhile gets none, and two runs never send one twice. A
// reminder missed (the reaper did not run) is not sent late: the next one
// due is.
func (s *Service) remind(ctx context.Context) (reminded, escalated, failed int, err error) {
	n := s.Notify
	timeout := s.ApprovalTimeout
	remindOn, escalateOn := n.RemindAfter > 0 && n.RemindAfter < timeout, n.EscalateAfter > 0 && n.EscalateAfter < timeout
	if !remindOn && !escalateOn {
		return 0, 0, 0, nil
	}
	first := n.RemindAfter
	if !remindOn || (escalateOn && n.EscalateAfter < first) {
		first = n.EscalateAfter
	}
	now := s.now()
	token := ""
	for {
		due, next, err := s.Queues.PendingOlderThan(ctx, now.Add(-first), domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return reminded, escalated, failed, err
		}
		for _, a := range due {
			age := now.Sub(a.CreatedAt)
			if age >= timeout {
				continue // expired (or about to be): no reminder
			}
			r := Reminder{Approval: a, At: now}
			if remindOn {
				if k := int(age / n.RemindAfter); k > a.RemindersSent {
					r.Number = k
				}
			}
			r.Escalate = escalateOn && age >= n.EscalateAfter && a.EscalatedAt == nil
			if r.Number == 0 && !r.Escalate {
				continue
			}
			if s.retiredSince(ctx, a) {
				continue // revoked or archived while it waited: approving it cannot issue, so nobody is asked again
			}
			s.reminderRows(&r)
			err := s.Queues.RemindPending(ctx, r)
			switch {
			case IsChanged(err):
				continue // decided, voted on, or reminded by another run, meanwhile (the next run sends what is still due)
			case err != nil:
				failed++
				s.log().ErrorContext(ctx, "reaper: could not send a reminder", "approval_id", a.ID, "error", err)
				continue
			}
			if r.Number > 0 {
				reminded++
			}
			if r.Escalate {
				escalated++
			}
			s.publish(ctx, r.Audits...)
		}
		if next == "" {
			return reminded, escalated, failed, nil
		}
		token = next
	}
}

// retiredSince reports whether a certificate request's certificate was
// revoked or archived while the request waited (a read error counts as
// not: the reminder is sent, as it would have been).
func (s *Service) retiredSince(ctx context.Context, a *domain.Approval) bool {
	if a.Kind != domain.KindCertIssuance || a.CertificateID == "" {
		return false
	}
	c, err := s.Decisions.GetCertificate(ctx, a.CertificateID)
	return err == nil && c.Retired()
}

// reminderRows builds a reminder's audit rows and their events.
func (s *Service) reminderRows(r *Reminder) {
	a := r.Approval
	details := func() map[string]any {
		return map[string]any{"kind": string(a.Kind), "profile_id": a.ProfileID, "requested_by": a.RequestedBy,
			"pending_age_seconds": int64(r.At.Sub(a.CreatedAt).Seconds())}
	}
	to := s.recipients(a.Notify)
	if r.Number > 0 {
		ev := &domain.AuditEvent{Actor: domain.SystemReaper, ActorType: domain.ActorSystem, Action: domain.AuditApprovalReminder,
			ResourceType: "approval", ResourceID: a.ID, Timestamp: r.At, Details: details()}
		ev.Details["reminder"] = r.Number
		s.attach(ev, domain.EventApprovalReminder, s.pendingDetail(a, r.At, to, fmt.Sprintf("Reminder %d, approval waiting", r.Number), r.Number))
		r.Audits = append(r.Audits, ev)
	}
	if r.Escalate {
		ev := &domain.AuditEvent{Actor: domain.SystemReaper, ActorType: domain.ActorSystem, Action: domain.AuditApprovalEscalated,
			ResourceType: "approval", ResourceID: a.ID, Timestamp: r.At, Details: details()}
		ev.Details["escalated_to"] = s.Notify.Escalation
		esc := append(to, s.Notify.Escalation...)
		slices.Sort(esc)
		s.attach(ev, domain.EventApprovalEscalated, s.pendingDetail(a, r.At, slices.Compact(esc),
			"Escalation, approval waiting for "+human(r.At.Sub(a.CreatedAt)), 0))
		r.Audits = append(r.Audits, ev)
	}
}
