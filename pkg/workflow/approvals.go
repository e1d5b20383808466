package workflow

import (
	"context"
	"errors"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// MaxNoteLen bounds a decision note.
const MaxNoteLen = 2000

// Approve approves a pending request as actor.
func (s *Service) Approve(ctx context.Context, actor domain.Actor, id, note string) (*domain.Decision, error) {
	return s.decide(ctx, actor, id, domain.ApprovalApproved, note)
}

// Reject rejects a pending request as actor; a note saying why is required.
func (s *Service) Reject(ctx context.Context, actor domain.Actor, id, note string) (*domain.Decision, error) {
	if strings.TrimSpace(note) == "" {
		return nil, domain.Invalidf("note is required when rejecting")
	}
	return s.decide(ctx, actor, id, domain.ApprovalRejected, note)
}

// decide records the decision first (one transaction), then hands it to the
// waiting execution. If the token is not stored yet, the approval-wait
// function finds the decision and hands it over itself.
func (s *Service) decide(ctx context.Context, actor domain.Actor, id string, state domain.ApprovalState, note string) (*domain.Decision, error) {
	if len(note) > MaxNoteLen {
		return nil, domain.Invalidf("note must be at most %d characters", MaxNoteLen)
	}
	for attempt := 0; attempt < maxRetries; attempt++ {
		a, err := s.Decisions.GetApproval(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := decidable(a, actor); err != nil {
			return nil, err
		}
		d := s.decision(a, state, actor.ID, actor.Type, note)
		if err := s.seeCert(ctx, &d); err != nil {
			return nil, err
		}
		if a.Kind == domain.KindCertificateMove && state == domain.ApprovalApproved {
			stale, err := s.moveDecision(ctx, &d)
			if err != nil {
				return nil, err
			}
			if stale != "" {
				return nil, s.rejectStale(ctx, a, stale)
			}
		}
		if d.Profile != nil && state == domain.ApprovalApproved {
			if err := s.stepGovernance(ctx, &d); err != nil {
				return nil, err
			}
		}
		err = s.Decisions.Decide(ctx, d)
		if IsChanged(err) {
			if stale := s.staleEdit(ctx, a); stale != "" && state == domain.ApprovalApproved {
				return nil, s.rejectStale(ctx, a, stale)
			}
			// Decided, or the token arrived, between our read and write:
			// re-read and classify again.
			continue
		}
		if err != nil {
			return nil, err
		}
		s.observeDecision(d)
		s.handOff(ctx, a, string(d.State))
		return &domain.Decision{ID: a.ID, DecidedBy: actor.ID, Action: string(state)}, nil
	}
	return nil, domain.Conflictf("approval %s is changing concurrently; retry", id)
}

// decidable says why a request cannot be decided by actor, if it cannot.
func decidable(a *domain.Approval, actor domain.Actor) error {
	if a.State != domain.ApprovalPending {
		return domain.Conflictf("approval %s is already %s", a.ID, a.State)
	}
	if a.RequestedBy == actor.ID {
		return domain.ErrSameActor
	}
	if !a.ApproverPool.Allows(actor) {
		return domain.Forbiddenf("%s is not in the approver pool of profile %s", actor.ID, a.ProfileID)
	}
	if a.Move != nil && !a.Move.FromApprovers.Allows(actor) {
		return domain.Forbiddenf("%s is not in the approver pool of profile %s, which the certificate leaves", actor.ID, a.Move.From.ID)
	}
	return nil
}

// decision builds the transition for a decision on a, including what happens
// to its job and certificate.
func (s *Service) decision(a *domain.Approval, state domain.ApprovalState, by string, byType domain.ActorType, note string) Decision {
	now := s.now()
	d := Decision{
		Approval: a, State: state, DecidedBy: by, ActorType: byType, Note: note, At: now,
		RetryAt: now.Add(RenewalRetryBackoff),
	}
	action := map[domain.ApprovalState]string{
		domain.ApprovalApproved: domain.AuditApprovalApproved,
		domain.ApprovalRejected: domain.AuditApprovalRejected,
		domain.ApprovalExpired:  domain.AuditApprovalExpired,
	}[state]
	switch state {
	case domain.ApprovalApproved:
		d.JobStatus = domain.JobPending
	case domain.ApprovalRejected:
		d.JobStatus, d.JobError, d.RestoreCert = domain.JobCancelled, "approval rejected: "+note, true
	case domain.ApprovalExpired:
		d.JobStatus, d.JobError, d.RestoreCert, d.Reason = domain.JobCancelled, "approval expired", true, "approval expired"
	}
	d.Audit = &domain.AuditEvent{
		Actor: by, ActorType: byType, Action: action, ResourceType: "approval", ResourceID: a.ID, Timestamp: now,
		Details: map[string]any{
			"kind": string(a.Kind), "job_id": a.JobID, "certificate_id": a.CertificateID, "profile_id": a.ProfileID,
			"requested_by": a.RequestedBy, "note": note, "state": string(state),
			"pending_age_seconds": int64(now.Sub(a.CreatedAt).Seconds()),
		},
	}
	switch a.Kind {
	case domain.KindProfileEdit:
		d.JobStatus, d.JobError, d.RestoreCert = "", "", false
		s.profileEditDecision(&d, note)
	case domain.KindCertificateMove:
		// Rejected or expired, it only releases the certificate; an
		// approval is filled in by moveDecision, against what is now.
		d.JobStatus, d.JobError, d.RestoreCert = "", "", false
		d.Move = &MoveChange{CertID: a.CertificateID, ApprovalID: a.ID}
	}
	return d
}

// seeCert reads the certificate a decision restores, so the restore is
// conditioned on its status (and leaves a revoked one revoked).
func (s *Service) seeCert(ctx context.Context, d *Decision) error {
	if !d.RestoreCert {
		return nil
	}
	c, err := s.Decisions.GetCertificate(ctx, d.Approval.CertificateID)
	if err != nil {
		return err
	}
	d.CertSeen = c.Status
	return nil
}

// handOff sends a recorded decision to the waiting execution and takes it
// out of the hand-off queue. Failure here loses nothing: Decide queued the
// request atomically with the decision, and the reaper sends it again (at
// the latest, the execution's timeout path reads the decision back).
func (s *Service) handOff(ctx context.Context, a *domain.Approval, outcome string) {
	if a.TaskToken == "" || a.JobID == "" {
		return
	}
	err := s.Exec.SendDecision(ctx, a.TaskToken, outcome)
	if err != nil && !errors.Is(err, ErrTokenUnknown) {
		s.log().ErrorContext(ctx, "decision recorded but hand-off to the execution failed; the reaper will send it again",
			"approval_id", a.ID, "job_id", a.JobID, "outcome", outcome, "error", err)
		return
	}
	if err := s.Decisions.ClearHandoff(context.WithoutCancel(ctx), a.ID); err != nil {
		s.log().WarnContext(ctx, "decision delivered; clearing its hand-off entry failed (the reaper will clear it)", "approval_id", a.ID, "error", err)
	}
}

// redeliver sends queued decisions to their executions again. Entries
// younger than HandoffGrace are left to the request that queued them.
func (s *Service) redeliver(ctx context.Context) (sent, failed int, err error) {
	token := ""
	cutoff := s.now().Add(-s.handoffGrace())
	for {
		queued, next, err := s.Queues.PendingHandoffs(ctx, cutoff, domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return sent, failed, err
		}
		for _, a := range queued {
			err := s.Exec.SendDecision(ctx, a.TaskToken, string(a.State))
			if err != nil && !errors.Is(err, ErrTokenUnknown) {
				failed++
				s.log().ErrorContext(ctx, "redelivery failed; will retry", "approval_id", a.ID, "error", err)
				continue
			}
			if err := s.Queues.ClearHandoff(ctx, a.ID); err != nil {
				failed++
				continue
			}
			sent++
		}
		if next == "" {
			return sent, failed, nil
		}
		token = next
	}
}

// GetApproval reads one request for display.
func (s *Service) GetApproval(ctx context.Context, id string) (*domain.ApprovalView, error) {
	a, err := s.Decisions.GetApproval(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.view(a), nil
}

func (s *Service) view(a *domain.Approval) *domain.ApprovalView {
	end := s.now()
	if a.DecidedAt != nil {
		end = *a.DecidedAt
	}
	return &domain.ApprovalView{Approval: a, PendingAgeSeconds: int64(end.Sub(a.CreatedAt).Seconds())}
}

// ListApprovals lists requests, validating the filters.
func (s *Service) ListApprovals(ctx context.Context, f domain.ApprovalFilter, page domain.PageRequest) ([]*domain.ApprovalView, string, error) {
	if f.State != "" {
		if _, ok := domain.ParseApprovalState(f.State); !ok {
			return nil, "", domain.Invalidf("state must be one of pending, approved, rejected, expired, bypassed")
		}
	}
	if f.Kind != "" {
		if _, ok := domain.ParseApprovalKind(f.Kind); !ok {
			return nil, "", domain.Invalidf("kind must be cert_issuance, profile_edit or certificate_move")
		}
	}
	items, next, err := s.Decisions.ListApprovals(ctx, f, page)
	if err != nil {
		return nil, "", err
	}
	out := make([]*domain.ApprovalView, len(items))
	for i, a := range items {
		out[i] = s.view(a)
	}
	return out, next, nil
}
