package identity

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// ownAccount is the account that owns the API in these tests.
const ownAccount = "123456789012"

// request is the context of a SigV4 request to an API owned by account, as
// pkg/apigw attaches it: API Gateway puts the API owner's account in
// requestContext.accountId.
func request(account string) context.Context {
	return apigw.WithRequestContext(context.Background(), events.APIGatewayProxyRequestContext{AccountID: account})
}

func mustResolver(t *testing.T, rules string) *Resolver {
	t.Helper()
	r, err := ParseRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	return NewResolver(r, principals{"alice": {domain.RoleOperator, domain.RoleApprover}})
}

func from(t *testing.T, r *Resolver, ctx context.Context, arn string) domain.Actor {
	t.Helper()
	a, err := r.FromIAM(ctx, arn)
	if err != nil {
		t.Fatalf("%s: %v", arn, err)
	}
	return a
}

// The split: one person who may assume CertOps names the session that
// creates "a" and the one that approves "b". The session name is the
// caller's choice, so it cannot tell two people apart: both sessions must
// be one actor, and two-person integrity then refuses the approval.
func TestSessionsOfOneRoleAreOneActor(t *testing.T) {
	r := mustResolver(t, `[{"role": "CertOps", "roles": ["operator", "approver"]}]`)
	ctx := request(ownAccount)
	a := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertOps/a")
	b := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertOps/b")
	if a.ID != b.ID {
		t.Fatalf("two sessions of one role are two actors (%s, %s): one person can create and approve", a.ID, b.ID)
	}
	if a.ID != "iam:aws:123456789012:role/certops" || !a.Has(domain.RoleApprover) {
		t.Fatalf("actor %+v, want the role itself with its roles", a)
	}
	// The same holds for a rule naming the role by its ARN.
	r = mustResolver(t, `[{"arn": "arn:aws:iam::123456789012:role/team/CertOps", "roles": ["approver"]}]`)
	a = from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertOps/a")
	b = from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertOps/b")
	if a.ID != b.ID || !a.Has(domain.RoleApprover) {
		t.Fatalf("role ARN rule: %+v and %+v", a, b)
	}
}

// A role-name pattern names a role in an account: the API's own unless the
// rule says another. The same role name in another account is someone else.
func TestRolePatternsMatchTheAccount(t *testing.T) {
	r := mustResolver(t, `[{"role": "CertOps", "roles": ["approver"]}]`)
	ctx := request(ownAccount)
	if a := from(t, r, ctx, "arn:aws:sts::210987654321:assumed-role/CertOps/a"); len(a.Roles) != 0 {
		t.Fatalf("a role of another account got roles: %+v", a)
	}
	if a := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertOps/a"); !a.Has(domain.RoleApprover) {
		t.Fatalf("the API's own account: %+v", a)
	}
	// Without a known API account, a rule without an account matches no one.
	if a := from(t, r, context.Background(), "arn:aws:sts::123456789012:assumed-role/CertOps/a"); len(a.Roles) != 0 {
		t.Fatalf("no API account known, yet roles: %+v", a)
	}
	// An explicit account names that account only.
	r = mustResolver(t, `[{"role": "CertOps", "account": "210987654321", "roles": ["viewer"]}]`)
	if a := from(t, r, ctx, "arn:aws:sts::210987654321:assumed-role/CertOps/a"); !a.Has(domain.RoleViewer) {
		t.Fatalf("explicit account: %+v", a)
	}
	if a := from(t, r, ctx, "arn:aws:sts::123456789012:assumed-role/CertOps/a"); len(a.Roles) != 0 {
		t.Fatalf("explicit account leaked to the API's account: %+v", a)
	}
}
