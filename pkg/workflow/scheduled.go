package workflow

import (
	"context"
	"errors"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// ReapResult summarises one reaper run.
type ReapResult struct {
	Expired  int `json:"expired"`
	Resolved int `json:"already_decided"`
	Failed   int `json:"failed"`
}

// reapPageSize bounds one query; the reaper pages through every stale request.
const reapPageSize = 100

// Reap expires every request pending longer than the approval timeout. It is
// idempotent (each expiry is a conditional transaction), keeps going past a
// failing item, and pages through all stale requests rather than a window.
func (s *Service) Reap(ctx context.Context) (ReapResult, error) {
	var res ReapResult
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
	s.log().InfoContext(ctx, "reaper run", "expired", res.Expired, "already_decided", res.Resolved, "failed", res.Failed)
	if res.Failed > 0 {
		return res, errors.New("reaper: some requests could not be expired; they are retried on the next run")
	}
	return res, nil
}
