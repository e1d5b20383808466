// Package identity turns authenticated callers into canonical actors, the
// identities two-person integrity compares. An IAM caller's ARN comes in
// several spellings for one principal; all of them map to one id.
package identity

import (
	"fmt"
	"strings"
)

// CanonicalARN returns the canonical actor id of an IAM caller ARN:
//
//	arn:aws:sts::123456789012:assumed-role/Ops/alice  -> iam:aws:123456789012:role/ops/alice
//	arn:aws:iam::123456789012:role/team/Ops (+session) -> same, when the session is given
//	arn:aws:iam::123456789012:user/path/Bob           -> iam:aws:123456789012:user/bob
//
// Role and user names are case-insensitive in IAM and session names are
// folded too, so case variants never split one actor into two (folding can
// only merge identities, which errs on the safe side for two-person
// integrity). Paths are dropped: a role or user name is unique per account.
func CanonicalARN(arn string) (string, error) {
	parts := strings.SplitN(strings.TrimSpace(arn), ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[4] == "" {
		return "", fmt.Errorf("identity: %q is not an ARN", arn)
	}
	partition, service, account, resource := strings.ToLower(parts[1]), strings.ToLower(parts[2]), parts[4], parts[5]
	if !isAccount(account) {
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

// RoleName returns the role name of a canonical assumed-role id, or "".
func RoleName(canonical string) string {
	_, after, ok := strings.Cut(canonical, ":role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(after, "/")
	return role
}

func isAccount(s string) bool {
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

// Kinds of IAM caller ARN, as arnParts reads them.
const (
	kindSession   = "assumed-role"   // arn:aws:sts::<account>:assumed-role/<role>/<session>
	kindRole      = "role"           // arn:aws:iam::<account>:role/<path>/<role>
	kindUser      = "user"           // arn:aws:iam::<account>:user/<path>/<user>
	kindFederated = "federated-user" // arn:aws:sts::<account>:federated-user/<name>
)

// arnParts reads a valid IAM caller ARN (CanonicalARN accepted it): its
// kind, and for roles and sessions the role name and session name as
// written (IAM's own spelling when the ARN comes from AWS).
func arnParts(arn string) (kind, role, session string) {
	parts := strings.SplitN(strings.TrimSpace(arn), ":", 6)
	if len(parts) != 6 {
		return "", "", ""
	}
	k, rest, _ := strings.Cut(parts[5], "/")
	segments := strings.Split(rest, "/")
	switch strings.ToLower(k) {
	case kindSession:
		if len(segments) == 2 {
			return kindSession, segments[0], segments[1]
		}
	case kindRole:
		return kindRole, segments[len(segments)-1], ""
	case kindUser:
		return kindUser, "", ""
	case kindFederated:
		return kindFederated, "", ""
	}
	return "", "", ""
}
