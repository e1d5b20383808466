package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// EnvIAMPrincipals names the IAM mapping: a JSON array of rules.
const EnvIAMPrincipals = config.EnvIAMPrincipals

// Rule maps IAM callers to an actor. Exactly one of ARN and Role is set.
//   - ARN with Principal links that exact identity (a role session or a
//     user) to a stored principal: they are one actor, with its roles.
//   - ARN or Role (a role-name pattern such as "CertOps" or "Sec*") with
//     Roles grants those roles to the caller, who stays its own actor.
type Rule struct {
	ARN       string        `json:"arn,omitempty"`
	Role      string        `json:"role,omitempty"`
	Principal string        `json:"principal,omitempty"`
	Roles     []domain.Role `json:"roles,omitempty"`

	canonical string
}

// ParseRules reads and validates the IAM mapping.
func ParseRules(text string) ([]Rule, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var rules []Rule
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array of rules: %w", EnvIAMPrincipals, err)
	}
	for i := range rules {
		r := &rules[i]
		if (r.ARN == "") == (r.Role == "") {
			return nil, fmt.Errorf("%s rule %d: set exactly one of arn and role", EnvIAMPrincipals, i)
		}
		if (r.Principal == "") == (len(r.Roles) == 0) {
			return nil, fmt.Errorf("%s rule %d: set exactly one of principal and roles", EnvIAMPrincipals, i)
		}
		if domain.IsSystemActor(r.Principal) {
			return nil, fmt.Errorf("%s rule %d: principal %q is reserved for the system", EnvIAMPrincipals, i, r.Principal)
		}
		if r.Role != "" && r.Principal != "" {
			return nil, fmt.Errorf("%s rule %d: a role pattern covers many people and cannot be linked to one principal", EnvIAMPrincipals, i)
		}
		if r.ARN != "" {
			c, err := CanonicalARN(r.ARN)
			if err != nil {
				return nil, fmt.Errorf("%s rule %d: %w", EnvIAMPrincipals, i, err)
			}
			if r.Principal != "" && isRoleOnly(c) {
				return nil, fmt.Errorf("%s rule %d: a role ARN covers every session of the role and cannot be linked to one principal; link the session ARN", EnvIAMPrincipals, i)
			}
			r.canonical = c
		}
		if r.Role != "" {
			if _, err := path.Match(strings.ToLower(r.Role), ""); err != nil {
				return nil, fmt.Errorf("%s rule %d: bad role pattern %q", EnvIAMPrincipals, i, r.Role)
			}
		}
		for _, role := range r.Roles {
			if _, ok := domain.ParseRole(string(role)); !ok {
				return nil, fmt.Errorf("%s rule %d: unknown role %q", EnvIAMPrincipals, i, role)
			}
		}
	}
	return rules, nil
}

// Principals reads stored principals.
type Principals interface {
	GetPrincipal(ctx context.Context, id string) (*domain.Principal, error)
}

// Resolver maps IAM callers to actors.
type Resolver struct {
	rules      []Rule
	principals Principals
}

// NewResolver returns a resolver over the rules.
func NewResolver(rules []Rule, principals Principals) *Resolver {
	return &Resolver{rules: rules, principals: principals}
}

// FromIAM resolves a SigV4-verified caller ARN. A caller no rule covers is
// still identified (so audit rows name it) but holds no roles: 403, never
// silent access.
func (r *Resolver) FromIAM(ctx context.Context, userARN string) (domain.Actor, error) {
	id, err := CanonicalARN(userARN)
	if err != nil {
		return domain.Actor{}, fmt.Errorf("%w: %v", domain.ErrUnauthorized, err)
	}
	for _, rule := range r.rules {
		if rule.canonical == id && rule.Principal != "" {
			p, err := r.principals.GetPrincipal(ctx, rule.Principal)
			if errors.Is(err, domain.ErrNotFound) {
				return domain.Actor{ID: rule.Principal, Type: domain.ActorUser}, nil
			}
			if err != nil {
				return domain.Actor{}, fmt.Errorf("identity: principal %s: %w", rule.Principal, err)
			}
			return domain.Actor{ID: p.ID, Type: domain.ActorUser, Roles: p.Roles}, nil
		}
	}
	actor := domain.Actor{ID: id, Type: domain.ActorUser}
	role := RoleName(id)
	for _, rule := range r.rules {
		matched := Covers(rule.canonical, id)
		if rule.Role != "" && role != "" {
			matched, _ = path.Match(strings.ToLower(rule.Role), role)
		}
		if matched {
			for _, granted := range rule.Roles {
				if !slices.Contains(actor.Roles, granted) {
					actor.Roles = append(actor.Roles, granted)
				}
			}
		}
	}
	return actor, nil
}

// isRoleOnly reports a canonical role id without a session.
func isRoleOnly(canonical string) bool {
	_, after, ok := strings.Cut(canonical, ":role/")
	return ok && !strings.Contains(after, "/")
}

// Covers reports whether the canonical id pattern names actor: the same
// identity, or a role (its iam form, arn:aws:iam::…:role/Name) whose session
// (its sts form, arn:aws:sts::…:assumed-role/Name/session) actor is.
func Covers(pattern, actor string) bool {
	if pattern == "" {
		return false
	}
	return pattern == actor || (isRoleOnly(pattern) && strings.HasPrefix(actor, pattern+"/"))
}
