package workflow

import (
	"context"
	"errors"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// ReapResult summarises one reaper run.
type ReapResult struct {
	Expired     int `json:"expired"`
	Resolved    int `json:"already_decided"`
	Failed      int `json:"failed"`
	Redelivered int `json:"redelivered"`
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
	cutoff := s.now().Add(-s.ApprovalTimeout)
	token := ""
	for {
		stale, next, err := s.Store.PendingOlderThan(ctx, cutoff, store.PageRequest{Limit: reapPageSize, Token: token})
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
	s.log().InfoContext(ctx, "reaper run", "expired", res.Expired, "already_decided", res.Resolved, "redelivered", res.Redelivered, "failed", res.Failed)
	if res.Failed > 0 {
		return res, errors.New("reaper: some requests could not be expired or handed over; they are retried on the next run")
	}
	return res, nil
}
