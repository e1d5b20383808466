package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// requestProfileEdit records a gated change of cur as a profile_edit
// request: a creation when cur is nil, a deletion when proposed is nil.
// Nothing changes until a different actor approves it.
func (s *Service) requestProfileEdit(ctx context.Context, actor domain.Actor, cur, proposed *domain.Profile) (*domain.PendingEdit, error) {
	now := s.now()
	edit := &domain.ProfileEdit{Base: cur, Proposed: proposed, Create: cur == nil, Delete: proposed == nil, Diff: domain.ProfileDiff(cur, proposed)}
	// The edit is decided under the profile's policy as it is (its own
	// proposal, whether stricter or looser, applies to later requests); a
	// profile that does not exist yet has the default: one approval.
	id, pool, policy := "", (*domain.ApproverPool)(nil), domain.SimplePolicy(nil, 1)
	if cur != nil {
		id, pool, policy, edit.BaseVersion = cur.ID, cur.Approvers, cur.Policy(), cur.Version
	} else {
		id = proposed.ID
	}
	a := &domain.Approval{
		ID:             newID("ar-"),
		Kind:           domain.KindProfileEdit,
		State:          domain.ApprovalPending,
		ProfileID:      id,
		RequestedBy:    actor.ID,
		RequestedType:  actor.Type,
		ProfileEdit:    edit,
		ApproverPool:   pool,
		ApprovalPolicy: policy,
		CreatedAt:      now,
		ExpiresAt:      now.Add(s.ApprovalTimeout),
	}
	if err := satisfiableWithout(a, actor.ID); err != nil {
		return nil, err
	}
	audit := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditProfileEditRequested,
		ResourceType: "approval", ResourceID: a.ID, Timestamp: now,
		Details: map[string]any{"profile_id": id, "base_version": edit.BaseVersion, "create": edit.Create, "delete": edit.Delete, "diff": edit.Diff},
	}
	if err := s.Profiles.RequestProfileEdit(ctx, a, audit); err != nil {
		return nil, err
	}
	return &domain.PendingEdit{Status: "pending_approval", ApprovalID: a.ID}, nil
}

// profileEditDecision fills in what a decision on a profile_edit request
// does: approval applies (or deletes) at the base version; anything else
// drops the edit and releases the profile.
func (s *Service) profileEditDecision(d *Decision, note string) {
	a, edit := d.Approval, d.Approval.ProfileEdit
	change := &ProfileChange{ID: a.ProfileID, ApprovalID: a.ID, BaseVersion: edit.BaseVersion, Base: edit.Base, Create: edit.Create}
	d.Profile = change
	if d.State != domain.ApprovalApproved {
		return
	}
	switch {
	case edit.Delete:
		change.Delete = true
	case edit.Create:
		p := *edit.Proposed
		p.Version, p.CreatedBy, p.CreatedAt, p.UpdatedAt, p.PendingEditID = 1, a.RequestedBy, d.At, d.At, ""
		change.Apply = &p
	default:
		p := *edit.Proposed
		p.Version, p.UpdatedAt, p.PendingEditID = edit.BaseVersion+1, d.At, ""
		change.Apply = &p
	}
	d.MoreAudits = append(d.MoreAudits, &domain.AuditEvent{
		Actor: d.DecidedBy, ActorType: d.ActorType, Action: domain.AuditProfileEditApplied,
		ResourceType: "profile", ResourceID: a.ProfileID, Timestamp: d.At,
		Details: map[string]any{
			"approval_id": a.ID, "requested_by": a.RequestedBy, "note": note,
			"from_version": edit.BaseVersion, "create": edit.Create, "delete": edit.Delete, "diff": edit.Diff,
		},
	})
}

// stepGovernance reads the governance version and attaches to an approved
// profile change the governance step it makes, recorded in the change's
// audit row: the write then applies only if governance is still at that
// version.
func (s *Service) stepGovernance(ctx context.Context, d *Decision) error {
	c := d.Profile
	var before, after []domain.NamePattern
	if c.Base != nil {
		before = c.Base.Governs()
	}
	if c.Apply != nil {
		after = c.Apply.Governs()
	}
	if len(before)+len(after) == 0 {
		return nil
	}
	g, err := s.Decisions.ReadGovernance(ctx, nil, nil)
	if err != nil {
		return err
	}
	c.Governance = domain.NewGovernanceChange(g.Version, before, after)
	for _, ev := range d.MoreAudits {
		if ev.Action == domain.AuditProfileEditApplied && c.Governance != nil {
			ev.Details["governance"] = c.Governance
		}
	}
	return nil
}

// staleEdit says why a pending profile_edit can no longer apply, or "".
func (s *Service) staleEdit(ctx context.Context, a *domain.Approval) string {
	if a.Kind != domain.KindProfileEdit {
		return ""
	}
	cur, err := s.Decisions.GetProfile(ctx, a.ProfileID)
	switch {
	case a.ProfileEdit.Create && err == nil:
		return "stale edit: a profile with this id was created meanwhile"
	case a.ProfileEdit.Create:
		return ""
	case errors.Is(err, domain.ErrNotFound):
		return "stale edit: the profile no longer exists"
	case err != nil:
		return ""
	case cur.Version != a.ProfileEdit.BaseVersion:
		return fmt.Sprintf("stale edit: the profile changed from version %d to %d since the edit was requested", a.ProfileEdit.BaseVersion, cur.Version)
	case a.ProfileEdit.Delete && cur.CertificateCount > 0:
		return fmt.Sprintf("stale edit: the profile is now used by %d certificates", cur.CertificateCount)
	}
	return ""
}

// rejectStale ends a stale edit as rejected, by the system, with the reason,
// and tells the approver nothing was applied. If someone else ends the
// request first, the approver is told that instead, and nothing is counted.
func (s *Service) rejectStale(ctx context.Context, a *domain.Approval, reason string) error {
	for attempt := 0; attempt < maxRetries; attempt++ {
		fresh, err := s.Decisions.GetApproval(ctx, a.ID)
		if err != nil {
			return err
		}
		if fresh.State != domain.ApprovalPending {
			return domain.Conflictf("approval %s is already %s", a.ID, fresh.State)
		}
		d := s.decision(fresh, domain.ApprovalRejected, domain.SystemWorkflow, domain.ActorSystem, "")
		d.Reason = reason
		d.Audit.Details["reason"] = reason
		err = s.Decisions.Decide(ctx, d)
		if IsChanged(err) {
			continue // decided or changed meanwhile: read again and tell the truth
		}
		if err != nil {
			return err
		}
		s.observeDecision(d)
		return domain.Conflictf("approval %s: %s; nothing was applied and the request is now rejected", a.ID, reason)
	}
	return domain.Conflictf("approval %s is changing concurrently; retry", a.ID)
}
