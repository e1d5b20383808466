// Package identity turns authenticated callers into canonical actors, the
// identities two-person integrity compares. An IAM caller's ARN comes in
// several spellings for one principal; all of them map to one id.
package identity

import (
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// CanonicalARN returns the canonical, account-exact id of an IAM caller
// ARN (see domain.CanonicalIAMARN, where the parsing lives so that the rules
// can use it without this package's dependencies).
func CanonicalARN(arn string) (string, error) { return domain.CanonicalIAMARN(arn) }

// RoleName returns the role name of a canonical assumed-role id, or "".
func RoleName(canonical string) string { return domain.IAMRoleName(canonical) }

func isAccount(s string) bool { return domain.IsAccountID(s) }

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
