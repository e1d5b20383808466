package workflow

import (
	"context"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/identity"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// canonicalPool stores IAM ARNs in a pool in canonical form, so the pool
// compares the same identities two-person integrity does.
func canonicalPool(pool *domain.ApproverPool) error {
	if pool == nil {
		return nil
	}
	for i, id := range pool.Principals {
		if strings.HasPrefix(id, "arn:") {
			c, err := identity.CanonicalARN(id)
			if err != nil {
				return domain.Invalidf("approvers.principals: %v", err)
			}
			pool.Principals[i] = c
			continue
		}
		if strings.HasPrefix(id, "iam:") {
			continue
		}
		if err := domain.ValidateID("approvers.principals", id); err != nil {
			return err
		}
	}
	return nil
}

// CreateProfile validates and stores a new profile. New profiles apply at
// once; it is later changes to approval-tier profiles that are gated.
func (s *Service) CreateProfile(ctx context.Context, actor domain.Actor, in domain.ProfileInput) (*domain.Profile, error) {
	if in.ID == "" {
		in.ID = newID("prof-")
	}
	p := in.Profile()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := canonicalPool(p.Approvers); err != nil {
		return nil, err
	}
	now := s.now()
	p.Version, p.CreatedBy, p.CreatedAt, p.UpdatedAt = 1, actor.ID, now, now
	audit := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditProfileCreated,
		ResourceType: "profile", ResourceID: p.ID, Timestamp: now,
		Details: map[string]any{"requires_approval": p.RequiresApproval, "version": p.Version},
	}
	if err := s.Store.CreateProfile(ctx, p, audit); err != nil {
		return nil, err
	}
	return p, nil
}

// UpdateProfile changes a profile. When the live or the proposed profile
// is approval-tier, nothing changes yet: the edit becomes a profile_edit
// request (returned as PendingEdit) applied only after a different actor
// approves it, and only if the profile has not changed meanwhile.
func (s *Service) UpdateProfile(ctx context.Context, actor domain.Actor, id string, in domain.ProfileInput) (*domain.Profile, *domain.PendingEdit, error) {
	if in.ID != "" && in.ID != id {
		return nil, nil, domain.Invalidf("id in the body (%q) does not match the path (%q)", in.ID, id)
	}
	cur, err := s.Store.GetProfile(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	in.ID = id
	p := in.Profile()
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	if err := canonicalPool(p.Approvers); err != nil {
		return nil, nil, err
	}
	diff := domain.ProfileDiff(cur, p)
	if len(diff) == 0 {
		return cur, nil, nil // nothing to change, nothing to approve
	}
	if cur.RequiresApproval || p.RequiresApproval {
		pending, err := s.requestProfileEdit(ctx, actor, cur, p)
		return nil, pending, err
	}
	now := s.now()
	p.Version, p.CreatedBy, p.CreatedAt, p.UpdatedAt, p.PendingEditID = cur.Version+1, cur.CreatedBy, cur.CreatedAt, now, cur.PendingEditID
	audit := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditProfileUpdated,
		ResourceType: "profile", ResourceID: p.ID, Timestamp: now,
		Details: map[string]any{"from_version": cur.Version, "version": p.Version, "diff": diff},
	}
	if err := s.Store.ReplaceProfile(ctx, p, cur.Version, audit); err != nil {
		return nil, nil, err
	}
	return p, nil, nil
}

// DeleteProfile deletes a profile; deleting an approval-tier profile is a
// gated edit like any other.
func (s *Service) DeleteProfile(ctx context.Context, actor domain.Actor, id string) (*domain.PendingEdit, error) {
	cur, err := s.Store.GetProfile(ctx, id)
	if err != nil {
		return nil, err
	}
	// A profile in use would leave its certificates unable to renew.
	inUse, _, err := s.Store.ListCertificates(ctx, store.CertificateFilter{ProfileID: id}, store.PageRequest{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(inUse) > 0 {
		return nil, domain.Conflictf("profile %q is used by certificate %q (and maybe others); move or archive them first", id, inUse[0].ID)
	}
	if cur.RequiresApproval {
		return s.requestProfileEdit(ctx, actor, cur, nil)
	}
	now := s.now()
	audit := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditProfileDeleted,
		ResourceType: "profile", ResourceID: id, Timestamp: now,
		Details: map[string]any{"version": cur.Version},
	}
	return nil, s.Store.DeleteProfile(ctx, id, cur.Version, audit)
}

// GetProfile reads one profile.
func (s *Service) GetProfile(ctx context.Context, id string) (*domain.Profile, error) {
	return s.Store.GetProfile(ctx, id)
}

// ListProfiles lists profiles.
func (s *Service) ListProfiles(ctx context.Context, page store.PageRequest) ([]*domain.Profile, string, error) {
	return s.Store.ListProfiles(ctx, page)
}
