package workflow

import (
	"context"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// ProfileInput is the writable part of a profile.
type ProfileInput struct {
	ID                   string   `json:"id"`
	Name                 string   `json:"name"`
	RequiresApproval     bool     `json:"requires_approval"`
	AllowedKeyAlgorithms []string `json:"allowed_key_algorithms"`
	MaxValiditySeconds   int64    `json:"max_validity_seconds"`
	RenewBeforeSeconds   int64    `json:"renew_before_seconds"`
	IssuerID             string   `json:"issuer_id"`
}

func (in ProfileInput) profile() *domain.Profile {
	p := &domain.Profile{
		ID:                   in.ID,
		Name:                 in.Name,
		RequiresApproval:     in.RequiresApproval,
		AllowedKeyAlgorithms: in.AllowedKeyAlgorithms,
		MaxValiditySeconds:   in.MaxValiditySeconds,
		RenewBeforeSeconds:   in.RenewBeforeSeconds,
		IssuerID:             in.IssuerID,
	}
	p.ApplyDefaults()
	return p
}

// CreateProfile validates and stores a new profile. New profiles apply at
// once; it is later changes to approval-tier profiles that are gated.
func (s *Service) CreateProfile(ctx context.Context, actor domain.Actor, in ProfileInput) (*domain.Profile, error) {
	if in.ID == "" {
		in.ID = newID("prof-")
	}
	p := in.profile()
	if err := p.Validate(); err != nil {
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

// UpdateProfile replaces a profile's writable fields, guarded by its version.
func (s *Service) UpdateProfile(ctx context.Context, actor domain.Actor, id string, in ProfileInput) (*domain.Profile, error) {
	if in.ID != "" && in.ID != id {
		return nil, domain.Invalidf("id in the body (%q) does not match the path (%q)", in.ID, id)
	}
	cur, err := s.Store.GetProfile(ctx, id)
	if err != nil {
		return nil, err
	}
	in.ID = id
	p := in.profile()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	p.Version, p.CreatedBy, p.CreatedAt, p.UpdatedAt = cur.Version+1, cur.CreatedBy, cur.CreatedAt, now
	audit := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditProfileUpdated,
		ResourceType: "profile", ResourceID: p.ID, Timestamp: now,
		Details: map[string]any{"from_version": cur.Version, "version": p.Version, "changes": ProfileDiff(cur, p)},
	}
	if err := s.Store.ReplaceProfile(ctx, p, cur.Version, audit); err != nil {
		return nil, err
	}
	return p, nil
}

// GetProfile reads one profile.
func (s *Service) GetProfile(ctx context.Context, id string) (*domain.Profile, error) {
	return s.Store.GetProfile(ctx, id)
}

// ListProfiles lists profiles.
func (s *Service) ListProfiles(ctx context.Context, page store.PageRequest) ([]*domain.Profile, string, error) {
	return s.Store.ListProfiles(ctx, page)
}

// Change is one field's old and new value.
type Change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// ProfileDiff lists the writable fields that differ between a and b.
func ProfileDiff(a, b *domain.Profile) map[string]Change {
	d := map[string]Change{}
	add := func(name string, old, new any, same bool) {
		if !same {
			d[name] = Change{Old: old, New: new}
		}
	}
	add("name", a.Name, b.Name, a.Name == b.Name)
	add("requires_approval", a.RequiresApproval, b.RequiresApproval, a.RequiresApproval == b.RequiresApproval)
	add("allowed_key_algorithms", a.AllowedKeyAlgorithms, b.AllowedKeyAlgorithms, equalStrings(a.AllowedKeyAlgorithms, b.AllowedKeyAlgorithms))
	add("max_validity_seconds", a.MaxValiditySeconds, b.MaxValiditySeconds, a.MaxValiditySeconds == b.MaxValiditySeconds)
	add("renew_before_seconds", a.RenewBeforeSeconds, b.RenewBeforeSeconds, a.RenewBeforeSeconds == b.RenewBeforeSeconds)
	add("issuer_id", a.IssuerID, b.IssuerID, a.IssuerID == b.IssuerID)
	return d
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
