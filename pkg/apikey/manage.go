package apikey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Store is what key management needs from pkg/store.
type Store interface {
	Lookup
	PutAPIKey(ctx context.Context, k *Key, roles *PrincipalChange, audits ...*domain.AuditEvent) error
	GetAPIKeyByID(ctx context.Context, id string) (*Key, error)
	RevokeAPIKey(ctx context.Context, k *Key, at time.Time, audit *domain.AuditEvent) error
	ListAPIKeys(ctx context.Context, principal string, page domain.PageRequest) ([]*Key, string, error)
	PutPrincipal(ctx context.Context, c *PrincipalChange, audit *domain.AuditEvent) error
}

// Manager creates, lists and revokes keys and grants roles.
type Manager struct {
	Store Store
	Now   func() time.Time
}

func view(k *Key) domain.APIKey {
	return domain.APIKey{ID: k.ID, Prefix: k.Prefix, Principal: k.Principal, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// Create issues a key. An admin may create a key for any principal and set
// that principal's roles; anyone else may only create a key for themselves
// and change no roles. No one grants a role they lack, roles are only set
// for a principal named explicitly, and the last admin keeps admin.
func (m *Manager) Create(ctx context.Context, actor domain.Actor, req domain.APIKeyRequest) (*domain.NewAPIKey, error) {
	if req.Principal == "" {
		if req.Roles != nil {
			return nil, domain.Invalidf("principal is required when roles are given (roles replace that principal's roles)")
		}
		req.Principal = actor.ID
	}
	if err := ValidatePrincipal(req.Principal); err != nil {
		return nil, err
	}
	admin := actor.Has(domain.RoleAdmin)
	if req.Principal != actor.ID && !admin {
		return nil, domain.Forbiddenf("only an admin can create keys for another principal")
	}
	if err := grantable(actor, req.Roles); err != nil {
		return nil, err
	}
	now := m.now()
	if req.ExpiresAt != nil && !req.ExpiresAt.After(now) {
		return nil, domain.Invalidf("expires_at must be in the future")
	}
	var change *PrincipalChange
	roles := req.Roles
	prev, err := m.principal(ctx, req.Principal)
	if err != nil {
		return nil, err
	}
	// Whoever mints a key for someone else can act as them from then on:
	// the minter (and whoever controls the minter) joins the principal's
	// controllers, and two-person integrity keeps them apart.
	var controllers []string
	if req.Principal != actor.ID {
		minter, err := m.principal(ctx, actor.ID)
		if err != nil {
			return nil, err
		}
		controllers = controllersAfter(prev, req.Principal, actor.ID, minter)
	}
	if req.Roles != nil {
		if !admin {
			return nil, domain.Forbiddenf("only an admin can set roles")
		}
		if len(req.Roles) == 0 {
			return nil, domain.Invalidf("roles must name at least one role for a new key (leave roles out to keep the principal's)")
		}
		change = &PrincipalChange{Prev: prev, Next: &domain.Principal{ID: req.Principal, Roles: dedupe(req.Roles), Controllers: controllers, UpdatedAt: now}}
	} else {
		if prev == nil {
			return nil, domain.Invalidf("principal %q does not exist yet: give it roles", req.Principal)
		}
		roles = prev.Roles
		if !slices.Equal(controllers, prev.Controllers) && req.Principal != actor.ID {
			change = &PrincipalChange{Prev: prev, Next: &domain.Principal{ID: prev.ID, Roles: prev.Roles, Controllers: controllers, UpdatedAt: now}}
		}
	}
	secret, err := Generate()
	if err != nil {
		return nil, err
	}
	k := &Key{
		ID: "key-" + strings.ToLower(ulid.Make().String()), Hash: Hash(secret), Prefix: Prefix(secret),
		Principal: req.Principal, CreatedBy: actor.ID, CreatedAt: now, ExpiresAt: req.ExpiresAt,
	}
	details := map[string]any{"principal": k.Principal, "prefix": k.Prefix, "expires_at": k.ExpiresAt}
	if req.Principal != actor.ID {
		details["controllers"] = controllers
	}
	audits := []*domain.AuditEvent{{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditAPIKeyCreated, ResourceType: "apikey", ResourceID: k.ID, Timestamp: now,
		Details: details,
	}}
	if change != nil && req.Roles != nil {
		audits = append(audits, grantAudit(actor, change.Next, now))
	}
	if err := m.Store.PutAPIKey(ctx, k, change, audits...); err != nil {
		return nil, fmt.Errorf("create api key: %w", err)
	}
	return &domain.NewAPIKey{APIKey: view(k), Secret: secret, Roles: roles}, nil
}

// List lists keys: every key for an admin, one's own otherwise.
func (m *Manager) List(ctx context.Context, actor domain.Actor, principal string, page domain.PageRequest) ([]domain.APIKey, string, error) {
	if !actor.Has(domain.RoleAdmin) {
		if principal != "" && principal != actor.ID {
			return nil, "", domain.Forbiddenf("only an admin can list another principal's keys")
		}
		principal = actor.ID
	}
	keys, next, err := m.Store.ListAPIKeys(ctx, principal, page)
	if err != nil {
		return nil, "", err
	}
	out := make([]domain.APIKey, len(keys))
	for i, k := range keys {
		out[i] = view(k)
	}
	return out, next, nil
}

// Revoke revokes a key at once (the authorizer's cache may serve it for up
// to its TTL). Admins revoke any key, others only their own.
func (m *Manager) Revoke(ctx context.Context, actor domain.Actor, id string) (*domain.APIKey, error) {
	k, err := m.Store.GetAPIKeyByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if k.Principal != actor.ID && !actor.Has(domain.RoleAdmin) {
		return nil, domain.NotFoundf("api key %s", id) // do not confirm others' key ids
	}
	now := m.now()
	audit := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditAPIKeyRevoked, ResourceType: "apikey", ResourceID: k.ID, Timestamp: now,
		Details: map[string]any{"principal": k.Principal, "prefix": k.Prefix},
	}
	if err := m.Store.RevokeAPIKey(ctx, k, now, audit); err != nil {
		return nil, err
	}
	k.RevokedAt = &now
	v := view(k)
	return &v, nil
}

// SetRoles replaces a principal's roles (admin only, checked by the caller's
// route); no one can grant a role they do not hold.
func (m *Manager) SetRoles(ctx context.Context, actor domain.Actor, principal string, roles []domain.Role) (*domain.Principal, error) {
	if err := ValidatePrincipal(principal); err != nil {
		return nil, err
	}
	if roles == nil {
		return nil, domain.Invalidf("roles is required: the complete new role set ([] removes every role)")
	}
	if err := grantable(actor, roles); err != nil {
		return nil, err
	}
	prev, err := m.principal(ctx, principal)
	if err != nil {
		return nil, err
	}
	now := m.now()
	p := &domain.Principal{ID: principal, Roles: dedupe(roles), UpdatedAt: now}
	if prev != nil {
		p.Controllers = prev.Controllers // roles change; who can act as it does not
	}
	if err := m.Store.PutPrincipal(ctx, &PrincipalChange{Prev: prev, Next: p}, grantAudit(actor, p, now)); err != nil {
		return nil, err
	}
	return p, nil
}

// principal reads a principal; nil when it does not exist (an IAM actor, or
// one not created yet).
func (m *Manager) principal(ctx context.Context, id string) (*domain.Principal, error) {
	p, err := m.Store.GetPrincipal(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// controllersAfter is p's controllers once minter (controlled by
// minter's own controllers) has minted a key for it: a sorted set, never
// containing p itself.
func controllersAfter(prev *domain.Principal, p, minter string, minterP *domain.Principal) []string {
	var all []string
	if prev != nil {
		all = append(all, prev.Controllers...)
	}
	all = append(all, minter)
	if minterP != nil {
		all = append(all, minterP.Controllers...)
	}
	all = slices.DeleteFunc(all, func(c string) bool { return c == p })
	slices.Sort(all)
	return slices.Compact(all)
}

// ValidatePrincipal checks a key principal's id, and keeps the names of
// the system's own actors (and the bootstrap actor) from people, so an
// audit query for a system actor finds only the system.
func ValidatePrincipal(id string) error {
	if err := domain.ValidateID("principal", id); err != nil {
		return err
	}
	if domain.IsSystemActor(id) {
		return domain.Invalidf("principal %q is reserved for the system", id)
	}
	return nil
}

// grantable checks every role is known and held by the granter.
func grantable(actor domain.Actor, roles []domain.Role) error {
	for _, r := range roles {
		if _, ok := domain.ParseRole(string(r)); !ok {
			return domain.Invalidf("roles: unknown role %q", r)
		}
		if !actor.Has(r) {
			return domain.Forbiddenf("%s cannot grant role %q: it does not hold it", actor.ID, r)
		}
	}
	return nil
}

func grantAudit(actor domain.Actor, p *domain.Principal, now time.Time) *domain.AuditEvent {
	return &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditRolesGranted, ResourceType: "principal", ResourceID: p.ID, Timestamp: now,
		Details: map[string]any{"roles": domain.JoinRoles(p.Roles)},
	}
}

func dedupe(roles []domain.Role) []domain.Role {
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out)
}
