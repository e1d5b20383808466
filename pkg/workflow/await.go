package workflow

import (
	"context"
	"fmt"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// AwaitInput is what the AwaitApproval state sends to the approval-wait function.
type AwaitInput struct {
	TaskToken  string `json:"task_token"`
	JobID      string `json:"job_id"`
	ApprovalID string `json:"approval_id"`
}

// AwaitApproval stores the task token on the pending request. If the request
// was decided before the token arrived, it sends the recorded decision
// itself: either way exactly one side holds both the decision and the token.
func (s *Service) AwaitApproval(ctx context.Context, in AwaitInput) error {
	if in.TaskToken == "" || in.ApprovalID == "" {
		return domain.Invalidf("approval-wait: task_token and approval_id are required")
	}
	var a *domain.Approval
	var stored bool
	for attempt := 0; ; attempt++ {
		var err error
		a, stored, err = s.Decisions.StoreTaskToken(ctx, in.ApprovalID, in.TaskToken)
		if err != nil {
			return retryable(fmt.Errorf("approval-wait: %w", err))
		}
		if stored || a.State != domain.ApprovalPending {
			break
		}
		// Not stored, yet still pending: the write lost to a concurrent
		// one on the request (a vote's transaction), not to a decision.
		// Never hand over "pending": store the token again, or let the
		// state machine retry the task.
		if attempt+1 == maxRetries {
			return &RetryableError{Err: fmt.Errorf("approval-wait: the token of pending request %s could not be stored; retry", in.ApprovalID)}
		}
	}
	if stored {
		s.log().InfoContext(ctx, "waiting for a decision", "approval_id", a.ID, "job_id", a.JobID)
		return nil
	}
	s.log().InfoContext(ctx, "decision recorded before the token: handing it over", "approval_id", a.ID, "job_id", a.JobID, "state", a.State)
	if err := s.Exec.SendDecision(ctx, in.TaskToken, string(a.State)); err != nil {
		return retryable(fmt.Errorf("approval-wait: hand over %s decision: %w", a.State, err))
	}
	return nil
}
