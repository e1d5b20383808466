package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// iamRule is one rule of CERTCTL_IAM_PRINCIPALS, as far as the stack needs
// it: the api function validates the mapping fully at cold start
// (pkg/identity); the stack checks its shape and builds the IAM API's
// resource policy from the roles whose sessions are people.
type iamRule struct {
	ARN       string   `json:"arn"`
	Role      string   `json:"role"`
	Account   string   `json:"account"`
	Sessions  string   `json:"sessions"`
	Principal string   `json:"principal"`
	Roles     []string `json:"roles"`
}

// sessionsSourceIdentity marks a rule whose role's session names are pinned
// to the caller's source identity (pkg/identity.SessionsSourceIdentity).
const sessionsSourceIdentity = "source-identity"

var (
	tableNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	// An exact IAM role name: the resource policy names it, with its case.
	roleNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)
)

// parseIAMPrincipals catches a malformed CERTCTL_IAM_PRINCIPALS at synth
// time: a JSON array of rules, each with exactly one of arn/role and one of
// principal/roles, and the fields pkg/identity knows.
func parseIAMPrincipals(v string) ([]iamRule, error) {
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, fmt.Errorf("iamPrincipals: want a JSON array of rules such as "+
			`[{"role":"CertOps","roles":["operator"]}]: %w`, err)
	}
	var rules []iamRule
	if err := json.Unmarshal([]byte(v), &rules); err != nil {
		return nil, fmt.Errorf("iamPrincipals: %w", err)
	}
	for i, r := range raw {
		_, arn := r["arn"]
		_, role := r["role"]
		_, principal := r["principal"]
		_, roles := r["roles"]
		if arn == role || principal == roles {
			return nil, fmt.Errorf("iamPrincipals rule %d: set exactly one of arn and role, and exactly one of principal and roles", i)
		}
		for k := range r {
			switch k {
			case "arn", "role", "account", "sessions", "principal", "roles":
			default:
				return nil, fmt.Errorf("iamPrincipals rule %d: unknown field %q", i, k)
			}
		}
		rule := rules[i]
		if rule.Account != "" && (!accountRE.MatchString(rule.Account) || rule.Role == "") {
			return nil, fmt.Errorf("iamPrincipals rule %d: account %q: want a 12-digit account id beside a role pattern", i, rule.Account)
		}
		switch rule.Sessions {
		case "":
		case sessionsSourceIdentity:
			if rule.Role != "" && !roleNameRE.MatchString(rule.Role) {
				return nil, fmt.Errorf("iamPrincipals rule %d: sessions %q needs an exact role name, not %q", i, sessionsSourceIdentity, rule.Role)
			}
			if rule.ARN != "" {
				if _, _, ok := roleOfARN(rule.ARN); !ok {
					return nil, fmt.Errorf("iamPrincipals rule %d: sessions %q goes with a role or role session ARN, not %q", i, sessionsSourceIdentity, rule.ARN)
				}
			}
		default:
			return nil, fmt.Errorf("iamPrincipals rule %d: sessions %q: the only value is %q", i, rule.Sessions, sessionsSourceIdentity)
		}
	}
	return rules, nil
}

// roleOfARN reads the account and role name of an IAM role ARN
// (arn:aws:iam::<account>:role/<path>/<name>) or role session ARN
// (arn:aws:sts::<account>:assumed-role/<name>/<session>).
func roleOfARN(arn string) (account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || !accountRE.MatchString(parts[4]) {
		return "", "", false
	}
	kind, rest, _ := strings.Cut(parts[5], "/")
	segments := strings.Split(rest, "/")
	switch {
	case parts[2] == "iam" && kind == "role" && rest != "":
		name = segments[len(segments)-1]
	case parts[2] == "sts" && kind == "assumed-role" && len(segments) == 2:
		name = segments[0]
	default:
		return "", "", false
	}
	return parts[4], name, roleNameRE.MatchString(name)
}

// sourceIdentityRoles are the roles whose sessions are pinned to their
// source identity, as (account, role name); an empty account is the
// stack's own.
func (p Props) sourceIdentityRoles() [][2]string {
	var out [][2]string
	seen := map[[2]string]bool{}
	for _, r := range p.iamRules {
		if r.Sessions != sessionsSourceIdentity {
			continue
		}
		key := [2]string{r.Account, r.Role}
		if r.ARN != "" {
			account, name, _ := roleOfARN(r.ARN)
			key = [2]string{account, name}
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
	}
	return out
}

var callerRoleRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,29}$`)

// certctlRoles are the roles a rule may grant (pkg/domain).
var certctlRoles = map[string]bool{"admin": true, "operator": true, "approver": true, "viewer": true, "auditor": true}

func (p Props) checkCallerRoles() error {
	for _, name := range sortedKeys(p.CallerRoles) {
		if !callerRoleRE.MatchString(name) {
			return fmt.Errorf("callerRoles %q: want 1-30 characters of a-z, 0-9 and -, starting with a letter", name)
		}
		if len(p.CallerRoles[name]) == 0 {
			return fmt.Errorf("callerRoles %q: give it at least one role", name)
		}
		for _, r := range p.CallerRoles[name] {
			if !certctlRoles[r] {
				return fmt.Errorf("callerRoles %q: unknown role %q (admin, operator, approver, viewer, auditor)", name, r)
			}
		}
	}
	return nil
}

// CallerRoleName is the IAM role the stack creates for callerRoles[name].
func (p Props) CallerRoleName(name string) string { return "certctl-" + p.Stage + "-" + name }

// withCallerRoleRules appends, to the stage's IAM mapping, one rule per
// caller role: its roles, its sessions people (their trust policy requires
// the source identity, and the IAM API's resource policy the session name).
func (p Props) withCallerRoleRules() (string, error) {
	var rules []json.RawMessage
	if strings.TrimSpace(p.IAMPrincipals) != "" {
		if err := json.Unmarshal([]byte(p.IAMPrincipals), &rules); err != nil {
			return "", fmt.Errorf("iamPrincipals: want a JSON array of rules: %w", err)
		}
	}
	for _, name := range sortedKeys(p.CallerRoles) {
		b, err := json.Marshal(struct {
			Role     string   `json:"role"`
			Sessions string   `json:"sessions"`
			Roles    []string `json:"roles"`
		}{p.CallerRoleName(name), sessionsSourceIdentity, p.CallerRoles[name]})
		if err != nil {
			return "", err
		}
		rules = append(rules, b)
	}
	b, err := json.Marshal(rules)
	return string(b), err
}
