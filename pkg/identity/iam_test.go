package identity

import (
	"context"
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
  {"arn": "arn:aws:sts::123456789012:assumed-role/SSO-Admin/alice@example.com", "principal": "alice"},
  {"role": "CertOps", "roles": ["operator"]},
  {"role": "Sec*", "roles": ["approver", "viewer"]},
  {"arn": "arn:aws:iam::123456789012:user/ci", "roles": ["operator"]},
  {"arn": "arn:aws:iam::123456789012:role/platform/Deployer", "roles": ["viewer"]}
]`

func resolver(t *testing.T) *Resolver {
	t.Helper()
	rules, err := ParseRules(rulesJSON)
	if err != nil {
		t.Fatal(err)
	}
	return NewResolver(rules, principals{"alice": {domain.RoleOperator, domain.RoleApprover}})
}

func TestLinkedIAMIdentityIsThePrincipal(t *testing.T) {
	a, err := resolver(t).FromIAM(context.Background(), "arn:aws:sts::123456789012:assumed-role/sso-admin/ALICE@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "alice" || !a.Has(domain.RoleApprover) {
		t.Fatalf("linked identity: %+v", a)
	}
}

func TestRolePatternsGrantRoles(t *testing.T) {
	r := resolver(t)
	a, _ := r.FromIAM(context.Background(), "arn:aws:sts::123456789012:assumed-role/SecurityTeam/carol")
	if a.ID != "iam:aws:123456789012:role/securityteam/carol" || !a.Has(domain.RoleApprover) || a.Has(domain.RoleOperator) {
		t.Fatalf("pattern: %+v", a)
	}
	b, _ := r.FromIAM(context.Background(), "arn:aws:sts::123456789012:assumed-role/certops/dave")
	if !b.Has(domain.RoleOperator) || b.Has(domain.RoleApprover) {
		t.Fatalf("exact role name: %+v", b)
	}
	ci, _ := r.FromIAM(context.Background(), "arn:aws:iam::123456789012:user/path/CI")
	if ci.ID != "iam:aws:123456789012:user/ci" || !ci.Has(domain.RoleOperator) {
		t.Fatalf("user rule: %+v", ci)
	}
}

// A rule written with the role's iam ARN covers the role's sts sessions.
func TestRoleARNCoversItsSessions(t *testing.T) {
	a, _ := resolver(t).FromIAM(context.Background(), "arn:aws:sts::123456789012:assumed-role/deployer/pipeline-42")
	if !a.Has(domain.RoleViewer) {
		t.Fatalf("iam role ARN rule did not cover its session: %+v", a)
	}
	b, _ := resolver(t).FromIAM(context.Background(), "arn:aws:sts::123456789012:assumed-role/deployer-two/x")
	if b.Has(domain.RoleViewer) {
		t.Fatalf("rule leaked to a role with a longer name: %+v", b)
	}
	if _, err := ParseRules(`[{"arn":"arn:aws:iam::123456789012:role/Ops","principal":"alice"}]`); err == nil {
		t.Fatal("linking a whole role to one principal must be refused")
	}
}

func TestUnknownIAMPrincipalHasNoRoles(t *testing.T) {
	a, err := resolver(t).FromIAM(context.Background(), "arn:aws:sts::123456789012:assumed-role/Random/eve")
	if err != nil || len(a.Roles) != 0 || a.ID == "" {
		t.Fatalf("unknown principal: %+v, %v", a, err)
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
	} {
		if _, err := ParseRules(bad); err == nil || !strings.Contains(err.Error(), EnvIAMPrincipals) {
			t.Errorf("%s: want an error naming %s, got %v", bad, EnvIAMPrincipals, err)
		}
	}
}
