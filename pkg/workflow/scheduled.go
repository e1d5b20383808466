package workflow

import (
	"context"
	"encoding/json"
	"errors"
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
	// Deliveries of issued versions retried: delivered, failed again.
	Delivered        int `json:"delivered"`
	DeliveriesFailed int `json:"deliveries_failed"`
	// After the run: the oldest request still pending, and what is still
	// queued for delivery or start (each alarmed on when it grows).
	OldestPendingSeconds int64 `json:"oldest_pending_seconds"`
	HandoffsQueued       int   `json:"handoffs_queued"`
	StartsQueued         int   `json:"starts_queued"`
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
	if err := s.measureQueues(ctx, &res); err != nil {
		s.log().WarnContext(ctx, "reaper: could not measure the queues", "error", err)
	}
	s.log().InfoContext(ctx, "reaper run", "expired", res.Expired, "already_decided", res.Resolved,
		"redelivered", res.Redelivered, "restarted", res.Restarted, "failed", res.Failed,
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
	if s.Observer != nil {
		s.Observer.Queues(time.Duration(res.OldestPendingSeconds)*time.Second, res.HandoffsQueued, res.StartsQueued)
	}
	return nil
}
