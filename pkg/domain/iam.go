package domain

import (
	"fmt"
	"strings"
)

// CanonicalIAMARN returns the canonical id of an IAM caller ARN, exact to
// its account and role:
//
//	arn:aws:sts::123456789012:assumed-role/Ops/alice  -> iam:aws:123456789012:role/ops/alice
//	arn:aws:iam::123456789012:role/team/Ops (+session) -> same, when the session is given
//	arn:aws:iam::123456789012:user/path/Bob           -> iam:aws:123456789012:user/bob
//
// Role and user names are case-insensitive in IAM and session names are
// folded too, so case variants never split one actor into two (folding can
// only merge identities, which errs on the safe side for two-person
// integrity). Paths are dropped: a role or user name is unique per account.
// It lives here, with no dependency, so the rules (pkg/workflow) can read
// canonical ids without linking the HTTP and Lambda adapters.
func CanonicalIAMARN(arn string) (string, error) {
	parts := strings.SplitN(strings.TrimSpace(arn), ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[4] == "" {
		return "", fmt.Errorf("identity: %q is not an ARN", arn)
	}
	partition, service, account, resource := strings.ToLower(parts[1]), strings.ToLower(parts[2]), parts[4], parts[5]
	if !IsAccountID(account) {
		return "", fmt.Errorf("identity: %q has no valid account id", arn)
	}
	kind, rest, _ := strings.Cut(resource, "/")
	kind = strings.ToLower(kind)
	segments := strings.Split(rest, "/")
	last := func(n int) []string {
		if len(segments) < n {
			return nil
		}
		return segments[len(segments)-n:]
	}
	var id string
	switch {
	case service == "sts" && kind == "assumed-role":
		s := last(2)
		if s == nil || len(segments) != 2 || s[0] == "" || s[1] == "" {
			return "", fmt.Errorf("identity: %q: want assumed-role/<role>/<session>", arn)
		}
		id = "role/" + s[0] + "/" + s[1]
	case service == "iam" && kind == "user":
		s := last(1)
		if s == nil || s[0] == "" {
			return "", fmt.Errorf("identity: %q: want user/<name>", arn)
		}
		id = "user/" + s[0]
	case service == "iam" && kind == "role":
		// A role ARN names no session: it is a role, not a person.
		s := last(1)
		if s == nil || s[0] == "" {
			return "", fmt.Errorf("identity: %q: want role/<name>", arn)
		}
		id = "role/" + s[0]
	case service == "sts" && kind == "federated-user":
		s := last(1)
		if s == nil || s[0] == "" {
			return "", fmt.Errorf("identity: %q: want federated-user/<name>", arn)
		}
		id = "federated-user/" + s[0]
	case (service == "iam" || service == "sts") && strings.EqualFold(resource, "root"):
		id = "root"
	default:
		return "", fmt.Errorf("identity: %q is not an IAM user, role or role session", arn)
	}
	return strings.ToLower("iam:" + partition + ":" + account + ":" + id), nil
}

// IAMRoleName returns the role name of a canonical role or session id, or "".
func IAMRoleName(canonical string) string {
	_, after, ok := strings.Cut(canonical, ":role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(after, "/")
	return role
}

// IsAccountID reports a 12-digit AWS account id.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// IAMPersonOf returns the person behind a canonical IAM id whose name is
// not the caller's choice: iam:<partition>:person/<name>, independent of
// the account and of the role, for an IAM user (user/<name>) or a role
// session (role/<role>/<name>) whose session names are people. It returns
// "" for any other id. Whether a session's name is a person is the IAM
// mapping's call (pkg/identity); this only spells the id. One person who
// holds two roles or permission sets is then one actor, and a user and the
// sessions named after that user are one actor: folding across accounts
// and roles can only merge identities, the safe direction for two-person
// integrity.
func IAMPersonOf(canonical string) string {
	rest, ok := strings.CutPrefix(canonical, "iam:")
	if !ok {
		return ""
	}
	parts := strings.SplitN(rest, ":", 3) // partition, account, resource
	if len(parts) != 3 || parts[0] == "" || !IsAccountID(parts[1]) {
		return ""
	}
	name := ""
	switch kind, tail, _ := strings.Cut(parts[2], "/"); kind {
	case "user":
		if !strings.Contains(tail, "/") {
			name = tail
		}
	case "role":
		if role, session, ok := strings.Cut(tail, "/"); ok && role != "" && !strings.Contains(session, "/") {
			name = session
		}
	}
	if name == "" {
		return ""
	}
	return IAMPerson(parts[0], name)
}

// IAMPerson spells the canonical id of a person of partition.
func IAMPerson(partition, name string) string {
	return strings.ToLower("iam:" + partition + ":person/" + name)
}

// IsIAMPerson reports a canonical person id (iam:<partition>:person/<name>).
func IsIAMPerson(id string) bool {
	rest, ok := strings.CutPrefix(id, "iam:")
	if !ok {
		return false
	}
	partition, name, ok := strings.Cut(rest, ":person/")
	return ok && partition != "" && !strings.Contains(partition, ":") && name != "" && id == strings.ToLower(id)
}
