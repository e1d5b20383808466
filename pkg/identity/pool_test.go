package identity

import (
	"errors"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// An approver pool may name only IAM identities the mapping lets decide,
// and stores them in the form the actors take.
func TestApproverID(t *testing.T) {
	r := mustResolver(t, `[
	  {"arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com", "principal": "alice"},
	  {"role": "CertOps", "roles": ["operator"]},
	  {"role": "Approvers", "roles": ["approver"]},
	  {"role": "AWSReservedSSO_CertApprovers_*", "roles": ["approver"]},
	  {"arn": "arn:aws:iam::123456789012:user/Dan", "roles": ["approver"]}
	]`)
	ctx := request(ownAccount)
	for entry, want := range map[string]string{
		"arn:aws:iam::123456789012:role/team/Approvers":                                             "iam:aws:123456789012:role/approvers",
		"iam:aws:123456789012:role/approvers":                                                       "iam:aws:123456789012:role/approvers",
		"arn:aws:iam::123456789012:role/AWSReservedSSO_CertApprovers_2222":                          "iam:aws:123456789012:role/awsreservedsso_certapprovers_2222",
		"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertApprovers_2222/Erin@example.com": "iam:aws:person/erin@example.com",
		"iam:aws:person/erin@example.com":                                                           "iam:aws:person/erin@example.com",
		"arn:aws:iam::123456789012:user/ops/dan":                                                    "iam:aws:person/dan",
		"iam:aws:person/alice@example.com":                                                          "iam:aws:person/alice@example.com",
	} {
		got, err := r.ApproverID(ctx, entry)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", entry, got, err, want)
		}
	}
	for entry, why := range map[string]string{
		"iam:aws:000000000000:role/nobody":                   "grants it approver",
		"arn:aws:iam::123456789012:role/CertOps":             "grants it approver",
		"arn:aws:iam::210987654321:role/Approvers":           "grants it approver",
		"arn:aws:sts::123456789012:assumed-role/Approvers/x": "name the role",
		"iam:aws:123456789012:role/Approvers":                "not a canonical IAM id",
		"iam:aws:123456789012:role/approvers/x":              "not a canonical IAM id",
		"iam:aws:123456789012:user/dan":                      "not a canonical IAM id",
		"iam:aws:person/":                                    "not a canonical IAM id",
		"arn:aws:sts::123456789012:federated-user/dan":       "name an IAM role",
		"arn:nope": "not an ARN",
	} {
		_, err := r.ApproverID(ctx, entry)
		if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want an Invalid error saying %q", entry, err, why)
		}
	}
	// Without a rule that could make a session a person who approves, no
	// person entry is accepted.
	r = mustResolver(t, `[{"role": "CertOps", "roles": ["approver"]}, {"role": "AWSReservedSSO_View_*", "roles": ["viewer"]}]`)
	if _, err := r.ApproverID(ctx, "iam:aws:person/erin@example.com"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("a person no rule can make an approver: %v", err)
	}
}

func TestMayNameIdentityCenterRole(t *testing.T) {
	for pattern, want := range map[string]bool{
		"AWSReservedSSO_CertApprovers_*": true, "awsreservedsso_*": true, "*": true, "AWS*": true, "AWSReservedSSO_X": true,
		"CertOps": false, "AWS": false, "Cert*": false, "AWSReservedSS": false,
	} {
		if got := mayNameIdentityCenterRole(pattern); got != want {
			t.Errorf("%s: %v, want %v", pattern, got, want)
		}
	}
}
