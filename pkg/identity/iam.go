package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// EnvIAMPrincipals names the IAM mapping: a JSON array of rules.
const EnvIAMPrincipals = config.EnvIAMPrincipals

// SessionsSourceIdentity is the value of a rule's "sessions" that declares a
// role's session names are not the caller's choice: the role's trust policy
// requires sts:SourceIdentity (set to the caller's own identity, and
// unchangeable once set), and the API's resource policy refuses any session
// of the role whose name is not that source identity (infra builds it from
// the same rules). Each session name is then one person.
const SessionsSourceIdentity = "source-identity"

// IdentityCenterRolePrefix starts the name of every role IAM Identity
// Center provisions for a permission set. Identity Center names each
// session after the signed-in user; the caller cannot choose it.
const IdentityCenterRolePrefix = "AWSReservedSSO_"

// Rule maps IAM callers to an actor. Exactly one of ARN and Role is set.
//   - ARN with Principal links that exact identity (an IAM user, or a role
//     session whose name the caller cannot choose) to a stored principal:
//     they are one actor, with its roles.
//   - ARN or Role (a role-name pattern such as "CertOps" or "Sec*") with
//     Roles grants those roles to the caller.
//
// Every session of a role is one actor, the role, because the session name
// is whatever the caller passed to sts:AssumeRole: one person could create
// as session "a" and approve as session "b". Sessions are told apart only
// where their names are not the caller's choice: IAM Identity Center roles,
// and roles whose rule says "sessions": "source-identity".
type Rule struct {
	ARN       string        `json:"arn,omitempty"`
	Role      string        `json:"role,omitempty"`
	Account   string        `json:"account,omitempty"`  // role patterns: the role's account (default: the API's own)
	Sessions  string        `json:"sessions,omitempty"` // "" or "source-identity"
	Principal string        `json:"principal,omitempty"`
	Roles     []domain.Role `json:"roles,omitempty"`

	canonical string // of ARN, exact to its account and role
	person    string // of ARN, when it names a user or a session that is a person
	arnRole   string // the role name in ARN, as written (role and session ARNs)
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
		if err := rules[i].check(); err != nil {
			return nil, fmt.Errorf("%s rule %d: %w", EnvIAMPrincipals, i, err)
		}
	}
	return rules, nil
}

func (r *Rule) check() error {
	if (r.ARN == "") == (r.Role == "") {
		return errors.New("set exactly one of arn and role")
	}
	if (r.Principal == "") == (len(r.Roles) == 0) {
		return errors.New("set exactly one of principal and roles")
	}
	if domain.IsSystemActor(r.Principal) {
		return fmt.Errorf("principal %q is reserved for the system", r.Principal)
	}
	if r.Role != "" && r.Principal != "" {
		return errors.New("a role pattern covers many people and cannot be linked to one principal")
	}
	switch r.Sessions {
	case "", SessionsSourceIdentity:
	default:
		return fmt.Errorf("sessions %q: the only value is %q", r.Sessions, SessionsSourceIdentity)
	}
	if r.Account != "" {
		if r.Role == "" {
			return errors.New("account goes with a role pattern; an arn names its account itself")
		}
		if !isAccount(r.Account) {
			return fmt.Errorf("account %q: want a 12-digit account id", r.Account)
		}
	}
	if r.Role != "" {
		if _, err := path.Match(strings.ToLower(r.Role), ""); err != nil {
			return fmt.Errorf("bad role pattern %q", r.Role)
		}
		if r.Sessions == SessionsSourceIdentity && strings.ContainsAny(r.Role, "*?[") {
			// The API's resource policy names the role exactly; a pattern
			// here could cover a role that policy does not.
			return fmt.Errorf("sessions %q needs an exact role name, not the pattern %q", SessionsSourceIdentity, r.Role)
		}
	}
	if r.ARN != "" {
		c, err := CanonicalARN(r.ARN)
		if err != nil {
			return err
		}
		r.canonical, r.person = c, domain.IAMPersonOf(c)
		kind, role, _ := arnParts(r.ARN)
		r.arnRole = role
		switch {
		case kind == kindFederated:
			return errors.New("a federated user's name is chosen by whoever calls sts:GetFederationToken: " +
				"it identifies no one; map the IAM user or role behind it")
		case kind == kindRole && r.Principal != "":
			return errors.New("a role ARN covers every session of the role and cannot be linked to one principal; link the session ARN")
		case kind == kindSession && !trustedSessions(role, r.Sessions):
			return fmt.Errorf("%s names one session, but the session name is the caller's choice: anyone who may assume "+
				"the role could take it. Use the role (every session is then one actor), an IAM Identity Center role, "+
				"or a role whose trust policy requires sts:SourceIdentity with \"sessions\": %q (see README)", r.ARN, SessionsSourceIdentity)
		case r.Sessions != "" && kind != kindRole && kind != kindSession:
			return fmt.Errorf("sessions %q goes with a role", r.Sessions)
		}
	}
	for _, role := range r.Roles {
		if _, ok := domain.ParseRole(string(role)); !ok {
			return fmt.Errorf("unknown role %q", role)
		}
	}
	return nil
}

// trustedSessions reports whether a role's session names are not the
// caller's choice: an IAM Identity Center role (its name, as IAM spells
// it), or a role the rules declare source-identity.
func trustedSessions(roleName, sessions string) bool {
	return strings.HasPrefix(roleName, IdentityCenterRolePrefix) || sessions == SessionsSourceIdentity
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
// silent access. The API's own account, which role patterns default to, is
// the requestContext.accountId API Gateway sends (the API owner's).
//
// The actor is the person wherever the name is not the caller's choice: an
// IAM user, and a session of an Identity Center or source-identity role,
// are iam:<partition>:person/<name>, whatever the role and the account, so
// one person holding two roles or permission sets is one actor. Sessions
// of any other role are the role (iam:<partition>:<account>:role/<name>).
// A link rule makes the person its key principal; the principal's stored
// roles apply when the caller is the very identity the rule names,
// otherwise the roles the rules grant this caller.
func (r *Resolver) FromIAM(ctx context.Context, userARN string) (domain.Actor, error) {
	id, err := CanonicalARN(userARN)
	if err != nil {
		return domain.Actor{}, domain.Unauthenticated("the caller is not an AWS principal this API recognises", err)
	}
	kind, roleName, _ := arnParts(userARN)
	actor := domain.Actor{ID: id, Type: domain.ActorUser}
	// Sessions are one actor per role unless every rule that grants this
	// caller anything trusts its session names (merging is the safe side).
	matchedAny, allTrust := false, true
	home := apiAccount(ctx)
	for _, rule := range r.rules {
		if rule.Principal != "" || !rule.covers(id, roleName, home) {
			continue
		}
		matchedAny = true
		allTrust = allTrust && rule.Sessions == SessionsSourceIdentity
		for _, granted := range rule.Roles {
			if !slices.Contains(actor.Roles, granted) {
				actor.Roles = append(actor.Roles, granted)
			}
		}
	}
	var exact *Rule // a link rule naming this very identity
	for i := range r.rules {
		if rule := &r.rules[i]; rule.Principal != "" && rule.canonical == id {
			exact = rule
			break
		}
	}
	trusted := kind == kindSession &&
		(strings.HasPrefix(roleName, IdentityCenterRolePrefix) || (matchedAny && allTrust) || exact != nil)
	switch {
	case kind == kindSession && !trusted:
		actor.ID = roleOf(id)
		return actor, nil
	case kind != kindSession && kind != kindUser:
		return actor, nil // a federated user or the root: as it is
	}
	person := domain.IAMPersonOf(id)
	actor.ID = person
	if kind == kindSession {
		actor.Aliases = []string{roleOf(id)}
	}
	link := exact
	for i := 0; link == nil && i < len(r.rules); i++ {
		if rule := &r.rules[i]; rule.Principal != "" && rule.person == person {
			link = rule
		}
	}
	if link == nil {
		return actor, nil
	}
	actor.ID, actor.Aliases = link.Principal, append(actor.Aliases, person)
	if link != exact {
		return actor, nil
	}
	p, err := r.principals.GetPrincipal(ctx, link.Principal)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		actor.Roles = nil
	case err != nil:
		return domain.Actor{}, fmt.Errorf("identity: principal %s: %w", link.Principal, err)
	default:
		actor.ID, actor.Roles = p.ID, p.Roles
	}
	return actor, nil
}

// covers reports whether a granting rule names the caller: its canonical id
// and the role name as IAM spells it.
func (rule Rule) covers(id, roleName, home string) bool {
	if rule.ARN != "" {
		if !Covers(rule.canonical, id) {
			return false
		}
		// A source-identity rule is enforced by the API's resource policy,
		// which compares ARNs with their case: match as it does.
		return rule.Sessions == "" || rule.arnRole == roleName
	}
	account := rule.Account
	if account == "" {
		account = home
	}
	if account == "" || roleName == "" || accountOf(id) != account {
		return false
	}
	if rule.Sessions == SessionsSourceIdentity {
		return rule.Role == roleName
	}
	ok, _ := path.Match(strings.ToLower(rule.Role), strings.ToLower(roleName))
	return ok
}

// apiAccount is the account that owns the API, from the request context.
func apiAccount(ctx context.Context) string {
	if rc, ok := apigw.RequestContext(ctx); ok && isAccount(rc.AccountID) {
		return rc.AccountID
	}
	return ""
}

// accountOf is the account of a canonical id (iam:<partition>:<account>:…).
func accountOf(canonical string) string {
	parts := strings.SplitN(canonical, ":", 4)
	if len(parts) < 4 {
		return ""
	}
	return parts[2]
}

// roleOf turns a canonical session id into its role's id:
// iam:aws:123456789012:role/certops/alice → iam:aws:123456789012:role/certops.
func roleOf(canonical string) string {
	before, after, ok := strings.Cut(canonical, ":role/")
	if !ok {
		return canonical
	}
	role, _, _ := strings.Cut(after, "/")
	return before + ":role/" + role
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
