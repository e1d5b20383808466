package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// ApproverID vets an IAM identity named in a profile's approver pool and
// returns it in the canonical form the pool stores (implements
// workflow.IAMApprovers). An entry is an IAM ARN (a role, a user, or a
// session that is a person) or a canonical id (iam:<partition>:<account>:role/<name>
// or iam:<partition>:person/<name>); the rules must be able to grant it
// approver (or admin), or no one could ever decide as it.
func (r *Resolver) ApproverID(ctx context.Context, entry string) (string, error) {
	bad := func(format string, a ...any) error {
		return domain.Invalidf("approvers.principals: %q: %s", entry, fmt.Sprintf(format, a...))
	}
	none := func() error {
		return bad("no rule of %s grants it approver or admin, so it could never decide", EnvIAMPrincipals)
	}
	arn := entry
	if strings.HasPrefix(entry, "iam:") {
		if domain.IsIAMPerson(entry) {
			ok, err := r.personMayDecide(ctx, entry)
			switch {
			case err != nil:
				return "", err
			case !ok:
				return "", none()
			}
			return entry, nil
		}
		a, err := roleARNOf(entry)
		if err != nil {
			return "", bad("%v", err)
		}
		arn = a
	}
	exact, err := CanonicalARN(arn)
	if err != nil {
		return "", bad("%v", err)
	}
	kind, _, _ := arnParts(arn)
	switch kind {
	case kindRole, kindUser, kindSession:
	default:
		return "", bad("name an IAM role, an IAM user, or a session of an Identity Center or source-identity role")
	}
	actor, err := r.FromIAM(ctx, arn)
	if err != nil {
		return "", bad("%v", err)
	}
	if !actor.Has(domain.RoleApprover) {
		return "", none()
	}
	switch kind {
	case kindRole:
		return exact, nil
	case kindSession:
		if person := domain.IAMPersonOf(exact); actor.Is(person) {
			return person, nil
		}
		return "", bad("names one session of a role whose session names the caller chooses, so every session of it is "+
			"one actor, the role: name the role (%s)", roleOf(exact))
	default: // a user: the person
		return domain.IAMPersonOf(exact), nil
	}
}

// roleARNOf turns a canonical role id (iam:<partition>:<account>:role/<name>)
// back into a role ARN; any other iam: id is not a canonical pool entry.
func roleARNOf(id string) (string, error) {
	parts := strings.SplitN(strings.TrimPrefix(id, "iam:"), ":", 3)
	if id == strings.ToLower(id) && len(parts) == 3 && parts[0] != "" && isAccount(parts[1]) {
		if name, ok := strings.CutPrefix(parts[2], "role/"); ok && name != "" && !strings.Contains(name, "/") {
			return "arn:" + parts[0] + ":iam::" + parts[1] + ":role/" + name, nil
		}
	}
	return "", errors.New("not a canonical IAM id: want iam:<partition>:<account>:role/<name>, iam:<partition>:person/<name> " +
		"(an IAM user, or the session name of an Identity Center or source-identity role), or an ARN")
}

// personMayDecide reports whether some IAM caller who is person could hold
// approver: a link of that person to a principal who holds it, or a rule
// granting approver or admin to that very user or session, or to roles
// whose sessions are people (source-identity roles, and patterns that can
// name an Identity Center role).
func (r *Resolver) personMayDecide(ctx context.Context, person string) (bool, error) {
	for _, rule := range r.rules {
		if rule.Principal != "" {
			if rule.person != person {
				continue
			}
			p, err := r.principals.GetPrincipal(ctx, rule.Principal)
			switch {
			case errors.Is(err, domain.ErrNotFound):
				continue
			case err != nil:
				return false, fmt.Errorf("identity: principal %s: %w", rule.Principal, err)
			}
			if (domain.Actor{Roles: p.Roles}).Has(domain.RoleApprover) {
				return true, nil
			}
			continue
		}
		if !(domain.Actor{Roles: rule.Roles}).Has(domain.RoleApprover) {
			continue
		}
		switch {
		case rule.Sessions == SessionsSourceIdentity:
			return true, nil
		case rule.ARN != "" && rule.person != "":
			if rule.person == person {
				return true, nil
			}
		case rule.ARN != "":
			if strings.HasPrefix(rule.arnRole, IdentityCenterRolePrefix) {
				return true, nil
			}
		case mayNameIdentityCenterRole(rule.Role):
			return true, nil
		}
	}
	return false, nil
}

// mayNameIdentityCenterRole reports whether a role-name pattern could match
// some role whose name starts with the Identity Center prefix: its literal
// start, up to the first wildcard, agrees with the prefix (patterns match
// without regard to case, as covers does).
func mayNameIdentityCenterRole(pattern string) bool {
	p, prefix := strings.ToLower(pattern), strings.ToLower(IdentityCenterRolePrefix)
	lit := p
	if i := strings.IndexAny(p, "*?[\\"); i >= 0 {
		lit = p[:i]
	}
	if len(lit) >= len(prefix) {
		return strings.HasPrefix(lit, prefix)
	}
	return lit != p && strings.HasPrefix(prefix, lit)
}
