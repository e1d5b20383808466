package workflow

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// checkPool stores IAM identities in a pool in canonical form, so the pool
// compares the same identities two-person integrity does, and refuses an
// entry no one could ever decide as: a key principal that does not exist
// or cannot decide, an IAM identity that is not canonical or that no rule
// of the IAM mapping grants approver (or admin). A pool no one can satisfy
// would leave every request to expire.
func (s *Service) checkPool(ctx context.Context, field string, pool *domain.ApproverPool) error {
	if pool == nil {
		return nil
	}
	for i, id := range pool.Principals {
		if strings.HasPrefix(id, "arn:") || strings.HasPrefix(id, "iam:") {
			if s.IAMApprovers == nil {
				return domain.Invalidf("%s.principals: %q: this deployment maps no IAM callers, so no IAM identity can decide", field, id)
			}
			c, err := s.IAMApprovers.ApproverID(ctx, id)
			if err != nil {
				return err
			}
			pool.Principals[i] = c
			continue
		}
		if err := domain.ValidateID(field+".principals", id); err != nil {
			return err
		}
		p, err := s.Profiles.GetPrincipal(ctx, id)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return domain.Invalidf("%s.principals: principal %q does not exist", field, id)
		case err != nil:
			return err
		}
		if !(domain.Actor{Roles: p.Roles}).Has(domain.RoleApprover) {
			return domain.Invalidf("%s.principals: %q holds no approver role, so could never decide", field, id)
		}
	}
	return nil
}

// checkNames refuses a name pattern that is a public suffix, or a wildcard
// directly over one (co.uk, *.com, **.co.uk): a profile covering every
// name of a registry is never what anyone means, and an approval-tier one
// would claim names nobody else can then issue without its approvers.
func checkNames(p *domain.Profile) error {
	for _, pat := range p.AllowedNames {
		name := strings.TrimPrefix(strings.TrimPrefix(string(pat), "**."), "*.")
		if _, err := netip.ParseAddr(name); err == nil {
			continue
		}
		suffix, icann := publicsuffix.PublicSuffix(name)
		// An unlisted top-level domain answers itself, not ICANN's: only
		// listed suffixes (ICANN's, or a private one of several labels)
		// count.
		if suffix == name && (icann || strings.Contains(suffix, ".")) {
			if name == string(pat) {
				return domain.Invalidf("allowed_names: %q is a public suffix: name a domain under it", pat)
			}
			return domain.Invalidf("allowed_names: %q is a wildcard over the public suffix %q: name a domain under it", pat, name)
		}
	}
	return nil
}

// checkProfile validates a profile about to be stored. Its pools are
// checked (and stored canonical) after its shape, and whether its policy
// can be satisfied is asked again of the canonical pools: two spellings
// of one identity are one approver.
func (s *Service) checkProfile(ctx context.Context, p *domain.Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := checkNames(p); err != nil {
		return err
	}
	if p.IssuerID != domain.DefaultIssuerID {
		return domain.Invalidf("issuer_id: issuer %q does not exist (configured: %s)", p.IssuerID, domain.DefaultIssuerID)
	}
	if err := s.checkNotify(p.Notify); err != nil {
		return err
	}
	if err := p.Delivery.Validate(s.Stage); err != nil {
		return err
	}
	if err := s.checkPool(ctx, "approvers", p.Approvers); err != nil {
		return err
	}
	for i, f := range p.ApprovalPolicy {
		if err := s.checkPool(ctx, fmt.Sprintf("approval_policy[%d].approvers", i), f.Approvers); err != nil {
			return err
		}
	}
	return p.Policy().Satisfiable("")
}

// CreateProfile validates a new profile. An approval-tier profile applies
// at once: it only adds a gate. A profile that needs no approval is a path
// to certificates without a second person, so creating one is itself a
// request another person must approve (PendingEdit).
func (s *Service) CreateProfile(ctx context.Context, actor domain.Actor, in domain.ProfileInput) (*domain.Profile, *domain.PendingEdit, error) {
	if in.ID == "" {
		in.ID = newID("prof-")
	}
	p := in.Profile()
	if err := s.checkProfile(ctx, p); err != nil {
		return nil, nil, err
	}
	if !p.RequiresApproval {
		if _, err := s.Profiles.GetProfile(ctx, p.ID); err == nil {
			return nil, nil, domain.Conflictf("profile %q already exists", p.ID)
		}
		pending, err := s.requestProfileEdit(ctx, actor, nil, p)
		return nil, pending, err
	}
	for attempt := 0; attempt < maxRetries; attempt++ {
		g, err := s.Profiles.ReadGovernance(ctx, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		gov := domain.NewGovernanceChange(g.Version, nil, p.Governs())
		now := s.now()
		p.Version, p.CreatedBy, p.CreatedAt, p.UpdatedAt = 1, actor.ID, now, now
		audit := &domain.AuditEvent{
			Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditProfileCreated,
			ResourceType: "profile", ResourceID: p.ID, Timestamp: now,
			Details: map[string]any{"requires_approval": p.RequiresApproval, "version": p.Version, "allowed_names": p.AllowedNames, "governance": gov},
		}
		err = s.Profiles.CreateProfile(ctx, p, gov, audit)
		if !IsChanged(err) {
			if err != nil {
				return nil, nil, err
			}
			return p, nil, nil
		}
		if _, getErr := s.Profiles.GetProfile(ctx, p.ID); getErr == nil {
			return nil, nil, domain.Conflictf("profile %q already exists", p.ID)
		}
		// Governance moved on meanwhile: read it again.
	}
	return nil, nil, domain.Conflictf("name governance is changing concurrently; retry")
}

// UpdateProfile changes a profile; fields left out of in keep their values.
// When the live or the proposed profile is approval-tier, or the change
// widens a profile that needs no approval (more names, key algorithms or
// validity, another issuer), nothing changes yet: the edit becomes a
// profile_edit request (returned as PendingEdit) applied only after a
// different actor approves it, and only if the profile has not changed
// meanwhile. Other edits apply at once, unless a gated edit is pending.
func (s *Service) UpdateProfile(ctx context.Context, actor domain.Actor, id string, in domain.ProfileInput) (*domain.Profile, *domain.PendingEdit, error) {
	if in.ID != "" && in.ID != id {
		return nil, nil, domain.Invalidf("id in the body (%q) does not match the path (%q)", in.ID, id)
	}
	cur, err := s.Profiles.GetProfile(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	p := *cur
	p.AllowedNames, p.AllowedKeyAlgorithms = slices.Clone(cur.AllowedNames), slices.Clone(cur.AllowedKeyAlgorithms)
	in.ApplyTo(&p)
	if err := s.checkProfile(ctx, &p); err != nil {
		return nil, nil, err
	}
	diff := domain.ProfileDiff(cur, &p)
	if len(diff) == 0 {
		return cur, nil, nil // nothing to change, nothing to approve
	}
	if cur.RequiresApproval || p.RequiresApproval || cur.Widens(&p) || cur.PolicyChanges(&p) {
		pending, err := s.requestProfileEdit(ctx, actor, cur, &p)
		return nil, pending, err
	}
	now := s.now()
	p.Version, p.UpdatedAt = cur.Version+1, now
	audit := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditProfileUpdated,
		ResourceType: "profile", ResourceID: p.ID, Timestamp: now,
		Details: map[string]any{"from_version": cur.Version, "version": p.Version, "diff": diff},
	}
	if err := s.Profiles.UpdateProfile(ctx, &p, cur.Version, audit); err != nil {
		return nil, nil, err
	}
	return &p, nil, nil
}

// DeleteProfile deletes a profile no certificate uses; deleting an
// approval-tier profile is a gated edit like any other. The delete's own
// condition refuses a profile that gained a certificate meanwhile.
func (s *Service) DeleteProfile(ctx context.Context, actor domain.Actor, id string) (*domain.PendingEdit, error) {
	cur, err := s.Profiles.GetProfile(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.CertificateCount > 0 {
		return nil, domain.Conflictf("profile %q is used by %d certificates; move or archive them first", id, cur.CertificateCount)
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
	return nil, s.Profiles.DeleteProfile(ctx, cur, nil, audit) // it governs nothing
}

// GetProfile reads one profile.
func (s *Service) GetProfile(ctx context.Context, id string) (*domain.Profile, error) {
	return s.Profiles.GetProfile(ctx, id)
}

// ListProfiles lists profiles.
func (s *Service) ListProfiles(ctx context.Context, page domain.PageRequest) ([]*domain.Profile, string, error) {
	return s.Profiles.ListProfiles(ctx, page)
}
