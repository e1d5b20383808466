package identity

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

type principals map[string][]domain.Role

func (p principals) GetPrincipal(_ context.Context, id string) (*domain.Principal, error) {
	roles, ok := p[id]
	if !ok {
		return nil, domain.NotFoundf("principal %s", id)
	}
	return &domain.Principal{ID: id, Roles: roles}, nil
}

const rulesJSON = `[
  {"arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com", "principal": "alice"},
  {"role": "CertOps", "roles": ["operator"]},
  {"role": "Sec*", "roles": ["approver", "viewer"]},
  {"role": "AWSReservedSSO_CertApprovers_*", "roles": ["approver"]},
  {"role": "CertApprovers", "sessions": "source-identity", "roles": ["approver"]},
  {"arn": "arn:aws:iam::123456789012:user/ci", "roles": ["operator"]},
  {"arn": "arn:aws:iam::123456789012:role/platform/Deployer", "roles": ["viewer"]}
]`

func resolver(t *testing.T) *Resolver {
	t.Helper()
	return mustResolver(t, rulesJSON)
}

func TestLinkedIAMIdentityIsThePrincipal(t *testing.T) {
	a := from(t, resolver(t), request(ownAccount), "arn:aws:sts::123456789012:assumed-role/awsreservedsso_admin_0123/ALICE@example.com")
	if a.ID != "alice" || !a.Has(domain.RoleApprover) {
		t.Fatalf("linked identity: %+v", a)
	}
}

func TestRolePatternsGrantRoles(t *testing.T) {
	r, ctx := resolver(t), request(ownAccount)
	a := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/SecurityTeam/carol")
	if a.ID != "iam:aws:123456789012:role/securityteam" || !a.Has(domain.RoleApprover) || a.Has(domain.RoleOperator) {
		t.Fatalf("pattern: %+v", a)
	}
	b := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/certops/dave")
	if b.ID != "iam:aws:123456789012:role/certops" || !b.Has(domain.RoleOperator) || b.Has(domain.RoleApprover) {
		t.Fatalf("exact role name: %+v", b)
	}
	ci := from(t, r, ctx, "arn:aws:iam::123456789012:user/path/CI")
	if ci.ID != "iam:aws:person/ci" || !ci.Has(domain.RoleOperator) {
		t.Fatalf("user rule: %+v", ci)
	}
}

// IAM Identity Center names each session after the signed-in user: those
// sessions are people, one actor each.
func TestIdentityCenterSessionsArePeople(t *testing.T) {
	r, ctx := resolver(t), request(ownAccount)
	a := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertApprovers_4f2a/erin@example.com")
	b := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertApprovers_4f2a/frank@example.com")
	if a.ID == b.ID || a.ID != "iam:aws:person/erin@example.com" || !a.Has(domain.RoleApprover) ||
		!slices.Equal(a.Aliases, []string{"iam:aws:123456789012:role/awsreservedsso_certapprovers_4f2a"}) {
		t.Fatalf("Identity Center sessions: %+v, %+v", a, b)
	}
	// Only IAM's own spelling counts: Identity Center creates the prefix in
	// this case, so another case is some other role, whose sessions are one.
	c := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/awsreservedsso_CertApprovers_x/erin@example.com")
	d := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/awsreservedsso_CertApprovers_x/frank@example.com")
	if c.ID != d.ID {
		t.Fatalf("a look-alike role's sessions are two actors: %s, %s", c.ID, d.ID)
	}
}

// A role whose trust policy requires sts:SourceIdentity, and whose session
// names the API's resource policy pins to it, has one actor per session.
func TestSourceIdentitySessionsArePeople(t *testing.T) {
	r, ctx := resolver(t), request(ownAccount)
	a := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertApprovers/erin")
	b := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertApprovers/frank")
	if a.ID == b.ID || a.ID != "iam:aws:person/erin" || !a.Has(domain.RoleApprover) {
		t.Fatalf("source-identity sessions: %+v, %+v", a, b)
	}
	// The resource policy compares the role's ARN with its case, so the
	// rule does too: another spelling is not covered, and holds nothing.
	c := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/certapprovers/erin")
	if len(c.Roles) != 0 || c.ID != "iam:aws:123456789012:role/certapprovers" {
		t.Fatalf("case variant: %+v", c)
	}
	// If any rule that covers the role shares its sessions, they are one.
	r = mustResolver(t, `[{"role": "CertApprovers", "sessions": "source-identity", "roles": ["approver"]},
		{"role": "Cert*", "roles": ["viewer"]}]`)
	a = from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertApprovers/erin")
	b = from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertApprovers/frank")
	if a.ID != b.ID || !a.Has(domain.RoleApprover) || !a.Has(domain.RoleViewer) {
		t.Fatalf("mixed rules: %+v, %+v", a, b)
	}
	// A role ARN rule can say the same.
	r = mustResolver(t, `[{"arn": "arn:aws:iam::123456789012:role/people/CertApprovers", "sessions": "source-identity", "roles": ["approver"]}]`)
	a = from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertApprovers/erin")
	if a.ID != "iam:aws:person/erin" || !a.Has(domain.RoleApprover) {
		t.Fatalf("role ARN with source identity: %+v", a)
	}
}

// A rule written with the role's iam ARN covers the role's sts sessions.
func TestRoleARNCoversItsSessions(t *testing.T) {
	ctx := request(ownAccount)
	a := from(t, resolver(t), ctx, "arn:aws:sts::123456789012:assumed-role/deployer/pipeline-42")
	if !a.Has(domain.RoleViewer) || a.ID != "iam:aws:123456789012:role/deployer" {
		t.Fatalf("iam role ARN rule did not cover its session: %+v", a)
	}
	b := from(t, resolver(t), ctx, "arn:aws:sts::123456789012:assumed-role/deployer-two/x")
	if b.Has(domain.RoleViewer) {
		t.Fatalf("rule leaked to a role with a longer name: %+v", b)
	}
	if _, err := ParseRules(`[{"arn":"arn:aws:iam::123456789012:role/Ops","principal":"alice"}]`); err == nil {
		t.Fatal("linking a whole role to one principal must be refused")
	}
}

func TestUnknownIAMPrincipalHasNoRoles(t *testing.T) {
	a := from(t, resolver(t), request(ownAccount), "arn:aws:sts::123456789012:assumed-role/Random/eve")
	if len(a.Roles) != 0 || a.ID != "iam:aws:123456789012:role/random" {
		t.Fatalf("unknown principal: %+v", a)
	}
	if _, err := resolver(t).FromIAM(context.Background(), "not-an-arn"); err == nil {
		t.Fatal("junk caller accepted")
	}
}

func TestParseRulesRefusesAmbiguity(t *testing.T) {
	for _, bad := range []string{
		`[{"arn":"arn:aws:iam::123456789012:user/a","role":"X","roles":["viewer"]}]`,
		`[{"role":"X","principal":"alice"}]`,
		`[{"role":"X"}]`,
		`[{"role":"X","roles":["superuser"]}]`,
		`[{"arn":"nope","roles":["viewer"]}]`,
		`[{"role":"[","roles":["viewer"]}]`,
		`{"role":"X"}`,
		`[{"role":"X","roles":["viewer"],"extra":1}]`,
		// A session of a role whose session names the caller chooses names no one.
		`[{"arn":"arn:aws:sts::123456789012:assumed-role/CertOps/alice","principal":"alice"}]`,
		`[{"arn":"arn:aws:sts::123456789012:assumed-role/CertOps/alice","roles":["approver"]}]`,
		// Nor does a federated user's name, which the caller picks.
		`[{"arn":"arn:aws:sts::123456789012:federated-user/alice","principal":"alice"}]`,
		`[{"arn":"arn:aws:sts::123456789012:federated-user/ci","roles":["operator"]}]`,
		// Source identity is enforced per exact role name.
		`[{"role":"Cert*","sessions":"source-identity","roles":["approver"]}]`,
		`[{"role":"X","sessions":"yes","roles":["approver"]}]`,
		`[{"arn":"arn:aws:iam::123456789012:user/a","sessions":"source-identity","roles":["viewer"]}]`,
		// Accounts: 12 digits, and only beside a role pattern.
		`[{"role":"X","account":"1234","roles":["viewer"]}]`,
		`[{"arn":"arn:aws:iam::123456789012:user/a","account":"123456789012","roles":["viewer"]}]`,
	} {
		if _, err := ParseRules(bad); err == nil || !strings.Contains(err.Error(), EnvIAMPrincipals) {
			t.Errorf("%s: want an error naming %s, got %v", bad, EnvIAMPrincipals, err)
		}
	}
	// Sessions that do identify a person may be linked.
	for _, good := range []string{
		`[{"arn":"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Ops_1/alice@example.com","principal":"alice"}]`,
		`[{"arn":"arn:aws:sts::123456789012:assumed-role/CertApprovers/alice","sessions":"source-identity","principal":"alice"}]`,
	} {
		if _, err := ParseRules(good); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
}

// One person holding two roles or permission sets is one actor: a session
// that is a person is the person, whatever the role and the account, so
// alice the operator cannot approve as alice the approver.
func TestOnePersonInTwoRolesIsOneActor(t *testing.T) {
	r := mustResolver(t, `[
	  {"role": "AWSReservedSSO_CertOps_*", "roles": ["operator"]},
	  {"role": "AWSReservedSSO_CertApprovers_*", "roles": ["approver"]},
	  {"role": "AWSReservedSSO_CertApprovers_*", "account": "210987654321", "roles": ["approver"]},
	  {"role": "CertApprovers", "sessions": "source-identity", "roles": ["approver"]},
	  {"arn": "arn:aws:iam::123456789012:user/alice", "roles": ["operator"]}
	]`)
	ctx := request(ownAccount)
	ops := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertOps_1111/alice@example.com")
	if ops.ID != "iam:aws:person/alice@example.com" || !ops.Has(domain.RoleOperator) || ops.Has(domain.RoleApprover) {
		t.Fatalf("operator session: %+v", ops)
	}
	for _, arn := range []string{
		"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertApprovers_2222/alice@example.com",
		"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertApprovers_2222/Alice@Example.com",
		// Another account's permission set: still alice (merging is the safe side).
		"arn:aws:sts::210987654321:assumed-role/AWSReservedSSO_CertApprovers_3333/alice@example.com",
	} {
		if a := from(t, r, ctx, arn); a.ID != ops.ID || !a.Has(domain.RoleApprover) {
			t.Errorf("%s: %+v, want the same actor as %s", arn, a, ops.ID)
		}
	}
	// An IAM user and the source-identity sessions named after the user
	// (the README's trust policy names them so) are one person too.
	user := from(t, r, ctx, "arn:aws:iam::123456789012:user/team/alice")
	session := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertApprovers/alice")
	if user.ID != "iam:aws:person/alice" || session.ID != user.ID || !user.Has(domain.RoleOperator) || !session.Has(domain.RoleApprover) {
		t.Fatalf("user and its source-identity session: %+v, %+v", user, session)
	}
	// Roles whose session names the caller picks stay one actor per role.
	r = mustResolver(t, `[{"role": "CertOps", "roles": ["operator"]}, {"role": "CertApprove", "roles": ["approver"]}]`)
	a := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertOps/alice")
	b := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertApprove/alice")
	if a.ID != "iam:aws:123456789012:role/certops" || b.ID != "iam:aws:123456789012:role/certapprove" || len(a.Aliases)+len(b.Aliases) != 0 {
		t.Fatalf("untrusted roles: %+v, %+v", a, b)
	}
}

// A link makes the person the key principal, through whichever of the
// person's roles they come; the principal's stored roles apply only to the
// identity the rule names, other roles grant what their rules grant.
func TestLinkFollowsThePerson(t *testing.T) {
	r := mustResolver(t, `[
	  {"arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com", "principal": "alice"},
	  {"role": "AWSReservedSSO_CertViewers_*", "roles": ["viewer"]}
	]`)
	ctx := request(ownAccount)
	named := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com")
	if named.ID != "alice" || !named.Has(domain.RoleApprover) || !named.Is("iam:aws:person/alice@example.com") {
		t.Fatalf("the linked identity: %+v", named)
	}
	other := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertViewers_9/alice@example.com")
	if other.ID != "alice" || other.Has(domain.RoleApprover) || !other.Has(domain.RoleViewer) ||
		!other.Is("iam:aws:123456789012:role/awsreservedsso_certviewers_9") {
		t.Fatalf("alice through another permission set: %+v", other)
	}
	if bob := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertViewers_9/bob@example.com"); bob.ID != "iam:aws:person/bob@example.com" {
		t.Fatalf("someone else: %+v", bob)
	}
	// A link to a user links the person, so the user's source-identity
	// sessions are the principal too.
	r = mustResolver(t, `[
	  {"arn": "arn:aws:iam::123456789012:user/Alice", "principal": "alice"},
	  {"role": "CertApprovers", "sessions": "source-identity", "roles": ["approver"]}
	]`)
	if a := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertApprovers/alice"); a.ID != "alice" || !a.Has(domain.RoleApprover) {
		t.Fatalf("the linked user's session: %+v", a)
	}
}
