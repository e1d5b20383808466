package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/identity"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// approverActor is an approver named id (the principal exists too, for
// pools that name it).
func (e *env) approverActor(id string) domain.Actor {
	e.t.Helper()
	p := domain.Principal{ID: id, Roles: []domain.Role{domain.RoleApprover}, UpdatedAt: epoch}
	if err := e.st.PutPrincipal(e.t.Context(), &apikey.PrincipalChange{Next: &p}, &domain.AuditEvent{
		Actor: "bootstrap", ActorType: domain.ActorSystem, Action: domain.AuditRolesGranted, ResourceType: "principal", ResourceID: id, Timestamp: epoch,
	}); err != nil && !strings.Contains(err.Error(), "exists") {
		e.t.Fatal(err)
	}
	return domain.Actor{ID: id, Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
}

// quorumCert creates an approval-tier profile with the given policy (or
// required approvals), a certificate request under it by alice, and
// stores the execution's task token.
func (e *env) quorumCert(id string, in domain.ProfileInput) *domain.Started {
	e.t.Helper()
	in.ID, in.Name, in.RequiresApproval, in.AllowedNames = "p-"+id, domain.Ptr(id), domain.Ptr(true), names("**."+id+".example.com")
	e.gatedProfileFrom(in)
	s := e.newCert(alice, id, in.ID, "www."+id+".example.com")
	e.waitToken(s.ApprovalID, "token-"+id)
	return s
}

func (e *env) vote(actor domain.Actor, approvalID string) *domain.Decision {
	e.t.Helper()
	d, err := e.svc.Approve(e.t.Context(), actor, approvalID, "vote of "+actor.ID)
	if err != nil {
		e.t.Fatalf("%s votes on %s: %v", actor.ID, approvalID, err)
	}
	return d
}

func voters(a *domain.Approval) []string {
	var out []string
	for _, v := range a.Votes {
		out = append(out, v.Actor)
	}
	return out
}

// With required_approvals 2, one approval is a vote that leaves the
// request pending and the job waiting, audited on its own; the same actor
// again is 409, the requester 403; a second actor's vote approves once,
// with the job, metric, audit and hand-off of an approval, and issues.
func TestQuorumOfTwo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	s := e.quorumCert("q2", domain.ProfileInput{RequiredApprovals: domain.Ptr(2)})
	if a := e.approval(s.ApprovalID); a.ApprovalPolicy.Total() != 2 || a.ApprovalPolicy[0].Name != domain.DefaultFactorName {
		t.Fatalf("snapshot: %+v", a.ApprovalPolicy)
	}

	d := e.vote(bob, s.ApprovalID)
	if d.Action != domain.ActionVoted || d.State != domain.ApprovalPending || d.DecidedBy != "" ||
		d.Missing == nil || d.Missing.Approvals != 1 || len(d.Missing.Factors) != 1 || d.Missing.Factors[0].Votes != 1 {
		t.Fatalf("first vote: %+v %+v", d, d.Missing)
	}
	if a := e.approval(s.ApprovalID); a.State != domain.ApprovalPending || a.DecidedBy != "" || !slices.Equal(voters(a), []string{"bob"}) {
		t.Fatalf("after one vote: %+v", a)
	}
	if j := e.job(s.JobID); j.Status != domain.JobAwaitingApproval {
		t.Fatalf("job after one vote: %s", j.Status)
	}
	if got := e.actions(s.ApprovalID); !slices.Equal(got, []string{domain.AuditApprovalRequested, domain.AuditApprovalVote}) {
		t.Fatalf("audit after one vote: %v", got)
	}
	if len(e.exec.Sends()) != 0 || e.obs.Count("approved") != 0 {
		t.Fatalf("a vote that does not complete the policy was handed over or counted: %v", e.exec.Sends())
	}
	v, err := e.svc.GetApproval(ctx, s.ApprovalID)
	if err != nil || v.RequiredApprovals != 2 || v.Missing == nil || v.Missing.Approvals != 1 || v.Votes[0].Factor != domain.DefaultFactorName {
		t.Fatalf("view: %+v %v", v, err)
	}

	_, err = e.svc.Approve(ctx, bob, s.ApprovalID, "again")
	wantKind(t, "the same actor votes again", err, domain.ErrConflict)
	_, err = e.svc.Reject(ctx, bob, s.ApprovalID, "changed my mind")
	wantKind(t, "the same actor rejects after voting", err, domain.ErrConflict)
	if _, err := e.svc.Approve(ctx, alice, s.ApprovalID, "mine"); !errors.Is(err, domain.ErrSameActor) {
		t.Fatalf("the requester votes: %v", err)
	}

	d = e.vote(carol, s.ApprovalID)
	if d.Action != domain.ActionApproved || d.State != domain.ApprovalApproved || d.DecidedBy != "carol" || d.Missing != nil {
		t.Fatalf("completing vote: %+v", d)
	}
	a := e.approval(s.ApprovalID)
	if a.State != domain.ApprovalApproved || a.DecidedBy != "carol" || !slices.Equal(voters(a), []string{"bob", "carol"}) || !a.Votes[1].At.Equal(*a.DecidedAt) {
		t.Fatalf("approved: %+v", a)
	}
	if got := e.actions(s.ApprovalID); !slices.Equal(got, []string{domain.AuditApprovalRequested, domain.AuditApprovalVote, domain.AuditApprovalVote, domain.AuditApprovalApproved}) {
		t.Fatalf("audit: %v", got)
	}
	if sends := e.exec.Sends(); len(sends) != 1 || sends[0] != (sent{"token-q2", "approved"}) || e.obs.Count("approved") != 1 {
		t.Fatalf("hand-offs %v, observed %d", sends, e.obs.Count("approved"))
	}
	_, err = e.svc.Approve(ctx, e.approverActor("dana"), s.ApprovalID, "late")
	wantKind(t, "a vote after the decision", err, domain.ErrConflict)
	e.issued(s.Certificate.ID, s.JobID)
	if n := len(e.versions(s.Certificate.ID)); n != 1 || e.ca.Signed() != 1 {
		t.Fatalf("%d versions, %d signatures", n, e.ca.Signed())
	}
}

// A two-factor policy needs one vote from each pool: a second vote from
// a pool already satisfied does not count (409, saying what is missing),
// and one actor in both pools counts once.
func TestTwoFactorPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dana, erin := e.approverActor("dana"), e.approverActor("erin")
	policy := domain.ApprovalPolicy{
		{Name: "security", Approvers: &domain.ApproverPool{Principals: []string{"dana"}}, Count: 1},
		{Name: "owners", Approvers: &domain.ApproverPool{Roles: []domain.Role{domain.RoleApprover}}, Count: 1},
	}
	s := e.quorumCert("two", domain.ProfileInput{ApprovalPolicy: &policy})
	if p := e.profile("p-two"); p.RequiredApprovals != 2 {
		t.Fatalf("required approvals of a two-factor policy: %d", p.RequiredApprovals)
	}
	if d := e.vote(bob, s.ApprovalID); d.State != domain.ApprovalPending || d.Missing.Factors[0].Name != "security" || len(d.Missing.Factors) != 1 {
		t.Fatalf("bob (owners): %+v %+v", d, d.Missing)
	}
	_, err := e.svc.Approve(t.Context(), erin, s.ApprovalID, "")
	wantKind(t, "a second owner", err, domain.ErrConflict)
	if !strings.Contains(err.Error(), "would not count") || !strings.Contains(err.Error(), "1 approval from security") {
		t.Fatalf("the refusal must say what is missing: %v", err)
	}
	if d := e.vote(dana, s.ApprovalID); d.Action != domain.ActionApproved {
		t.Fatalf("dana (security): %+v", d)
	}
	v, err := e.svc.GetApproval(t.Context(), s.ApprovalID)
	if err != nil || v.Votes[0].Factor != "owners" || v.Votes[1].Factor != "security" || v.Missing != nil {
		t.Fatalf("view: %+v %v", v.Votes, err)
	}

	// dana is in both pools: her vote fills one factor, never two.
	both := domain.ApprovalPolicy{
		{Name: "security", Approvers: &domain.ApproverPool{Principals: []string{"dana"}}, Count: 1},
		{Name: "owners", Approvers: &domain.ApproverPool{Principals: []string{"dana", "bob"}}, Count: 1},
	}
	s = e.quorumCert("both", domain.ProfileInput{ApprovalPolicy: &both})
	if d := e.vote(dana, s.ApprovalID); d.State != domain.ApprovalPending || d.Missing.Approvals != 1 {
		t.Fatalf("one actor in both pools approved alone: %+v", d)
	}
	_, err = e.svc.Approve(t.Context(), dana, s.ApprovalID, "")
	wantKind(t, "dana again", err, domain.ErrConflict)
	_, err = e.svc.Approve(t.Context(), carol, s.ApprovalID, "")
	wantKind(t, "carol is in neither pool", err, domain.ErrForbidden)
	if d := e.vote(bob, s.ApprovalID); d.Action != domain.ActionApproved {
		t.Fatalf("bob completes: %+v", d)
	}
}

// Which factor a vote counts toward is a maximum matching, not the first
// factor the voter may count toward: dana votes first and could count for
// owners or security; bob, who may only count for owners, still completes
// the policy (dana moves to security). A first-fit count would refuse him.
func TestVotesAreMatchedNotFirstFit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dana := e.approverActor("dana")
	policy := domain.ApprovalPolicy{
		{Name: "owners", Approvers: &domain.ApproverPool{Principals: []string{"dana", "bob"}}, Count: 1},
		{Name: "security", Approvers: &domain.ApproverPool{Principals: []string{"dana"}}, Count: 1},
	}
	s := e.quorumCert("match", domain.ProfileInput{ApprovalPolicy: &policy})
	if d := e.vote(dana, s.ApprovalID); d.State != domain.ApprovalPending {
		t.Fatalf("dana: %+v", d)
	}
	if v, _ := e.svc.GetApproval(t.Context(), s.ApprovalID); v.Votes[0].Factor != "owners" {
		t.Fatalf("dana first counts toward the first factor she may: %+v", v.Votes)
	}
	if d := e.vote(bob, s.ApprovalID); d.Action != domain.ActionApproved {
		t.Fatalf("bob: %+v", d)
	}
	if v, _ := e.svc.GetApproval(t.Context(), s.ApprovalID); v.Votes[0].Factor != "security" || v.Votes[1].Factor != "owners" {
		t.Fatalf("assignment after bob: %+v", v.Votes)
	}
	if rows := e.rowsBy(s.ApprovalID, domain.AuditApprovalVote); len(rows) != 2 || rows[1].Details["completes"] != true {
		t.Fatalf("vote rows: %+v", rows)
	}
}

// Any rejection ends the request, whatever votes it has; expiry ends it
// too and keeps the votes; bypass approves at once and collects none.
func TestRejectExpiryAndBypassUnderAQuorum(t *testing.T) {
	t.Parallel()
	t.Run("reject", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		s := e.quorumCert("rej", domain.ProfileInput{RequiredApprovals: domain.Ptr(3)})
		e.vote(bob, s.ApprovalID)
		_, err := e.svc.Reject(t.Context(), carol, s.ApprovalID, "")
		wantKind(t, "reject without a note", err, domain.ErrInvalid)
		d, err := e.svc.Reject(t.Context(), carol, s.ApprovalID, "wrong names")
		if err != nil || d.Action != domain.ActionRejected || d.DecidedBy != "carol" {
			t.Fatalf("reject: %+v %v", d, err)
		}
		a := e.approval(s.ApprovalID)
		if a.State != domain.ApprovalRejected || !slices.Equal(voters(a), []string{"bob"}) {
			t.Fatalf("rejected: %+v", a)
		}
		if j := e.job(s.JobID); j.Status != domain.JobCancelled || j.Error != "approval rejected: wrong names" {
			t.Fatalf("job: %+v", j)
		}
		_, err = e.svc.Approve(t.Context(), e.approverActor("dana"), s.ApprovalID, "")
		wantKind(t, "a vote after the rejection", err, domain.ErrConflict)
	})
	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		s := e.quorumCert("exp", domain.ProfileInput{RequiredApprovals: domain.Ptr(2)})
		e.vote(bob, s.ApprovalID)
		e.clock.Advance(e.svc.ApprovalTimeout + time.Second)
		if res, err := e.svc.Reap(t.Context()); err != nil || res.Expired != 1 {
			t.Fatalf("reap: %+v %v", res, err)
		}
		if a := e.approval(s.ApprovalID); a.State != domain.ApprovalExpired || a.DecidedBy != domain.SystemReaper || len(a.Votes) != 1 {
			t.Fatalf("expired: %+v", a)
		}
		_, err := e.svc.Approve(t.Context(), carol, s.ApprovalID, "")
		wantKind(t, "a vote after expiry", err, domain.ErrConflict)
	})
	t.Run("bypass", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.svc.Bypass = true
		e.gatedProfileFrom(domain.ProfileInput{ID: "p", Name: domain.Ptr("p"), RequiresApproval: domain.Ptr(true), AllowedNames: names("**.example.com"),
			RequiredApprovals: domain.Ptr(3)})
		s := e.newCert(alice, "c", "p", "c.example.com")
		if a := e.approval(s.ApprovalID); a.State != domain.ApprovalBypassed || len(a.Votes) != 0 || a.ApprovalPolicy.Total() != 3 {
			t.Fatalf("bypassed: %+v", a)
		}
	})
}

// A policy no votes can satisfy is refused where that can be known: at
// profile create and edit, from the pools' named principals; and a
// request whose requester is one of the few who could vote is refused
// rather than left to expire.
func TestUnsatisfiablePoliciesAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.approverActor("alice")
	e.approverActor("dana")
	ctx := t.Context()
	base := func(id string) domain.ProfileInput {
		return domain.ProfileInput{ID: id, Name: domain.Ptr(id), RequiresApproval: domain.Ptr(true), AllowedNames: names("**." + id + ".example.com")}
	}
	for what, mutate := range map[string]func(*domain.ProfileInput){
		"two from a pool of one": func(in *domain.ProfileInput) {
			in.Approvers, in.RequiredApprovals = &domain.ApproverPool{Principals: []string{"bob"}}, domain.Ptr(2)
		},
		"one person for two factors": func(in *domain.ProfileInput) {
			in.ApprovalPolicy = &domain.ApprovalPolicy{{Name: "a", Approvers: &domain.ApproverPool{Principals: []string{"dana"}}, Count: 1},
				{Name: "b", Approvers: &domain.ApproverPool{Principals: []string{"dana"}}, Count: 1}}
		},
		"one IAM user spelt twice": func(in *domain.ProfileInput) {
			in.Approvers = &domain.ApproverPool{Principals: []string{"arn:aws:iam::123456789012:user/Dan", "arn:aws:iam::123456789012:user/ops/dan"}}
			in.RequiredApprovals = domain.Ptr(2)
		},
		"eleven approvals": func(in *domain.ProfileInput) { in.RequiredApprovals = domain.Ptr(11) },
		"zero approvals":   func(in *domain.ProfileInput) { in.RequiredApprovals = domain.Ptr(0) },
		"a pool and a policy": func(in *domain.ProfileInput) {
			in.Approvers, in.ApprovalPolicy = &domain.ApproverPool{Principals: []string{"bob"}}, &domain.ApprovalPolicy{{Name: "a", Count: 1}}
		},
		"a total that differs": func(in *domain.ProfileInput) {
			in.RequiredApprovals, in.ApprovalPolicy = domain.Ptr(3), &domain.ApprovalPolicy{{Name: "a", Count: 1}}
		},
		"a duplicate factor": func(in *domain.ProfileInput) {
			in.ApprovalPolicy = &domain.ApprovalPolicy{{Name: "a", Count: 1}, {Name: "a", Count: 1}}
		},
		"a factor of no one": func(in *domain.ProfileInput) {
			in.ApprovalPolicy = &domain.ApprovalPolicy{{Name: "a", Count: 1, Approvers: &domain.ApproverPool{Principals: []string{"nobody"}}}}
		},
		"a factor named badly": func(in *domain.ProfileInput) {
			in.ApprovalPolicy = &domain.ApprovalPolicy{{Name: "Security Team", Count: 1}}
		},
		"a factor of operators": func(in *domain.ProfileInput) {
			in.ApprovalPolicy = &domain.ApprovalPolicy{{Name: "a", Count: 1, Approvers: &domain.ApproverPool{Principals: []string{"olivia"}}}}
		},
	} {
		in := base("bad")
		mutate(&in)
		_, _, err := e.svc.CreateProfile(ctx, alice, in)
		wantKind(t, what, err, domain.ErrInvalid)
	}
	// An IAM role admits its people's sessions: any number may count (a
	// pool may name only IAM identities the mapping lets decide).
	rules, err := identity.ParseRules(`[{"role": "Approvers", "account": "123456789012", "roles": ["approver"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.IAMApprovers = identity.NewResolver(rules, e.st)
	in := base("role")
	in.Approvers, in.RequiredApprovals = &domain.ApproverPool{Principals: []string{"arn:aws:iam::123456789012:role/team/Approvers"}}, domain.Ptr(3)
	if p := e.gatedProfileFrom(in); p.Approvers.Principals[0] != "iam:aws:123456789012:role/approvers" {
		t.Fatalf("pool: %+v", p.Approvers)
	}
	// An edit to an unsatisfiable policy is refused before it is requested.
	e.gatedProfileFrom(base("ok"))
	_, pending, err := e.svc.UpdateProfile(ctx, alice, "ok", domain.ProfileInput{Approvers: &domain.ApproverPool{Principals: []string{"bob"}}, RequiredApprovals: domain.Ptr(2)})
	wantKind(t, "edit to two from one", err, domain.ErrInvalid)
	if pending != nil || e.profile("ok").PendingEditID != "" {
		t.Fatal("an unsatisfiable edit was requested")
	}
	// Two of alice and bob: alice's own request could never be approved.
	in = base("pair")
	in.Approvers, in.RequiredApprovals = &domain.ApproverPool{Principals: []string{"alice", "bob"}}, domain.Ptr(2)
	e.gatedProfileFrom(in)
	_, err = e.svc.CreateCertificate(ctx, alice, domainCert(t, "c", "pair", "c.pair.example.com"))
	wantKind(t, "a request only its requester could complete", err, domain.ErrConflict)
	if !strings.Contains(err.Error(), "other than the requester alice") {
		t.Fatalf("message: %v", err)
	}
	if _, err := e.svc.CreateCertificate(ctx, olivia, domainCert(t, "c", "pair", "c.pair.example.com")); err != nil {
		t.Fatalf("olivia is in no pool: %v", err)
	}
}

// Changing the policy is a gated edit decided under the policy as it is;
// requests in flight keep the policy they were made with.
func TestPolicyChangesAreGatedAndRequestsKeepTheirs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.gatedProfile("prod", "**.example.com")
	before := e.newCert(alice, "before", "prod", "before.example.com")

	_, pending, err := e.svc.UpdateProfile(ctx, alice, "prod", domain.ProfileInput{RequiredApprovals: domain.Ptr(2)})
	if err != nil || pending == nil {
		t.Fatalf("raise the quorum: %+v %v", pending, err)
	}
	if a := e.approval(pending.ApprovalID); a.ApprovalPolicy.Total() != 1 {
		t.Fatalf("the edit is decided under the policy as it is: %+v", a.ApprovalPolicy)
	}
	e.approve(bob, pending.ApprovalID) // one approval, as the profile says now
	if p := e.profile("prod"); p.RequiredApprovals != 2 {
		t.Fatalf("applied: %+v", p)
	}
	after := e.newCert(alice, "after", "prod", "after.example.com")
	if d := e.vote(bob, before.ApprovalID); d.Action != domain.ActionApproved {
		t.Fatalf("the request made before the change keeps one approval: %+v", d)
	}
	if d := e.vote(bob, after.ApprovalID); d.Action != domain.ActionVoted {
		t.Fatalf("a request made after the change needs two: %+v", d)
	}

	// Lowering it again needs the two approvals the profile needs now.
	_, pending, err = e.svc.UpdateProfile(ctx, alice, "prod", domain.ProfileInput{RequiredApprovals: domain.Ptr(1)})
	if err != nil || pending == nil {
		t.Fatalf("lower the quorum: %+v %v", pending, err)
	}
	if d := e.vote(bob, pending.ApprovalID); d.Action != domain.ActionVoted || e.profile("prod").RequiredApprovals != 2 {
		t.Fatalf("one vote applied the edit: %+v", d)
	}
	if d := e.vote(carol, pending.ApprovalID); d.Action != domain.ActionApproved || e.profile("prod").RequiredApprovals != 1 {
		t.Fatalf("the second vote did not apply the edit: %+v", d)
	}
	if rows := e.rowsBy("prod", domain.AuditProfileEditApplied); len(rows) != 2 || rows[1].Actor != "carol" {
		t.Fatalf("edit_applied rows: %+v", rows)
	}
}

// The list of requests the caller can vote on: pending, not its own, not
// voted on yet, in one of the pools, and with a factor its vote would
// count toward. Only approvers can vote at all.
func TestCanVoteList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	dana := e.approverActor("dana")
	two := e.quorumCert("two", domain.ProfileInput{RequiredApprovals: domain.Ptr(2)})
	e.vote(bob, two.ApprovalID)
	policy := domain.ApprovalPolicy{
		{Name: "security", Approvers: &domain.ApproverPool{Principals: []string{"dana"}}, Count: 1},
		{Name: "owners", Approvers: &domain.ApproverPool{Principals: []string{"bob", "carol"}}, Count: 1},
	}
	fac := e.quorumCert("fac", domain.ProfileInput{ApprovalPolicy: &policy})
	e.vote(carol, fac.ApprovalID)
	own, err := e.svc.CreateCertificate(ctx, bob2(), domainCert(t, "own", "p-two", "own.two.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	list := func(actor domain.Actor) []string {
		t.Helper()
		vs, _, err := e.svc.ListApprovals(ctx, actor, domain.ApprovalFilter{CanVote: true}, domain.PageRequest{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.ID)
			if v.State != domain.ApprovalPending || v.Missing == nil {
				t.Fatalf("listed: %+v", v)
			}
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, tc := range []struct {
		who  domain.Actor
		want []string
	}{
		{bob, nil}, // voted on two, owners is full on fac, own is his
		{carol, sorted(two.ApprovalID, own.ApprovalID)}, // voted on fac
		{dana, sorted(two.ApprovalID, fac.ApprovalID, own.ApprovalID)},
		{alice, sorted(own.ApprovalID)},
		{olivia, nil}, // no approver role
	} {
		if got := list(tc.who); !slices.Equal(got, tc.want) {
			t.Errorf("%s can vote on %v, want %v", tc.who.ID, got, tc.want)
		}
	}
	_, _, err = e.svc.ListApprovals(ctx, bob, domain.ApprovalFilter{CanVote: true, State: string(domain.ApprovalApproved)}, domain.PageRequest{Limit: 50})
	wantKind(t, "can_vote with another state", err, domain.ErrInvalid)
}

// bob with the operator role as well, to request a certificate himself.
func bob2() domain.Actor {
	return domain.Actor{ID: "bob", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleOperator, domain.RoleApprover}}
}

// Many actors voting at once on a quorum of K: each vote is classified
// against every vote committed before it, so exactly K votes are stored
// (K-1 told "voted", one told "approved"), every other voter is told 409,
// the policy is completed once, and the decision is handed over once.
func TestConcurrentVotesCountExactly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     domain.ProfileInput
		voters int
	}{
		{"three of eight", domain.ProfileInput{RequiredApprovals: domain.Ptr(3)}, 8},
		{"ten of twelve", domain.ProfileInput{RequiredApprovals: domain.Ptr(10)}, 12},
		{"one from security and two owners, of eight", domain.ProfileInput{ApprovalPolicy: &domain.ApprovalPolicy{
			{Name: "security", Approvers: &domain.ApproverPool{Principals: []string{"v0", "v1", "v2"}}, Count: 1},
			{Name: "owners", Approvers: &domain.ApproverPool{Roles: []domain.Role{domain.RoleApprover}}, Count: 2},
		}}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			actors := make([]domain.Actor, tc.voters)
			for i := range actors {
				actors[i] = e.approverActor(fmt.Sprintf("v%d", i))
			}
			s := e.quorumCert("race", tc.in)
			required := e.approval(s.ApprovalID).ApprovalPolicy.Total()
			// Every voter reads the request before any of them writes.
			b := newBarrier(tc.voters)
			e.st.getApproval = func(ctx context.Context, id string) (*domain.Approval, error) {
				a, err := e.st.Store.GetApproval(ctx, id)
				b.Wait()
				return a, err
			}
			var mu sync.Mutex
			answers := map[string][]string{}
			var wg sync.WaitGroup
			for _, actor := range actors {
				wg.Go(func() {
					d, err := e.svc.Approve(context.Background(), actor, s.ApprovalID, "race")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						answers[d.Action] = append(answers[d.Action], actor.ID)
					case errors.Is(err, domain.ErrConflict):
						answers["409"] = append(answers["409"], actor.ID)
					default:
						t.Errorf("%s: %v", actor.ID, err)
					}
				})
			}
			wg.Wait()
			a := e.approval(s.ApprovalID)
			counted := append(slices.Clone(answers[domain.ActionVoted]), answers[domain.ActionApproved]...)
			slices.Sort(counted)
			stored := voters(a)
			slices.Sort(stored)
			if len(answers[domain.ActionApproved]) != 1 || len(answers[domain.ActionVoted]) != required-1 || len(answers["409"]) != tc.voters-required {
				t.Fatalf("answers %v, want 1 approved, %d voted, %d conflicts", answers, required-1, tc.voters-required)
			}
			if a.State != domain.ApprovalApproved || !slices.Equal(stored, counted) || a.DecidedBy != answers[domain.ActionApproved][0] {
				t.Fatalf("stored %s by %s with votes %v; told %v", a.State, a.DecidedBy, stored, answers)
			}
			if n := len(e.rowsBy(s.ApprovalID, domain.AuditApprovalVote)); n != required {
				t.Fatalf("%d approval_vote rows, want %d", n, required)
			}
			if n := len(e.rowsBy(s.ApprovalID, domain.AuditApprovalApproved)); n != 1 || len(e.exec.Sends()) != 1 || e.obs.Count("approved") != 1 {
				t.Fatalf("%d approval_approved rows, hand-offs %v, observed %d", n, e.exec.Sends(), e.obs.Count("approved"))
			}
			if !domain.ApprovalPolicy(a.ApprovalPolicy).Tally(a.Votes).Satisfied() {
				t.Fatalf("the stored votes do not satisfy the policy: %+v", a.Votes)
			}
		})
	}
}

// The vote count pins what a vote was classified against: a vote from a
// read that hides a stored vote (stale, or forged) never commits, so one
// actor is never counted twice, even when the Go check is fooled.
func TestAVoteFromAStaleReadNeverCommits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.quorumCert("stale", domain.ProfileInput{RequiredApprovals: domain.Ptr(3)})
	e.vote(bob, s.ApprovalID)
	e.st.getApproval = func(ctx context.Context, id string) (*domain.Approval, error) {
		a, err := e.st.Store.GetApproval(ctx, id)
		if a != nil {
			a.Votes = nil // bob's vote is not seen
		}
		return a, err
	}
	_, err := e.svc.Approve(t.Context(), bob, s.ApprovalID, "twice")
	wantKind(t, "bob again, from a read without his vote", err, domain.ErrConflict)
	e.st.getApproval = nil
	if a := e.approval(s.ApprovalID); !slices.Equal(voters(a), []string{"bob"}) {
		t.Fatalf("votes: %v", voters(a))
	}
	if n := len(e.rowsBy(s.ApprovalID, domain.AuditApprovalVote)); n != 1 {
		t.Fatalf("%d vote rows", n)
	}
}

// The completing transaction is conditioned on the votes too: a read
// that shows a vote that was never stored (forged, or from another
// request) cannot make the next vote approve.
func TestACompletingVoteIsPinnedToTheStoredVotes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.quorumCert("forged", domain.ProfileInput{RequiredApprovals: domain.Ptr(2)})
	e.st.getApproval = func(ctx context.Context, id string) (*domain.Approval, error) {
		a, err := e.st.Store.GetApproval(ctx, id)
		if a != nil && len(a.Votes) == 0 {
			a.Votes = []domain.Vote{{Actor: "mallory", ActorType: domain.ActorUser, At: epoch, Eligible: []string{domain.DefaultFactorName}}}
		}
		return a, err
	}
	_, err := e.svc.Approve(t.Context(), bob, s.ApprovalID, "")
	wantKind(t, "a vote that completes only with a forged one", err, domain.ErrConflict)
	e.st.getApproval = nil
	if a := e.approval(s.ApprovalID); a.State != domain.ApprovalPending || len(a.Votes) != 0 {
		t.Fatalf("request: %+v", a)
	}
	if j := e.job(s.JobID); j.Status != domain.JobAwaitingApproval || len(e.exec.Sends()) != 0 {
		t.Fatalf("job %s, sends %v", j.Status, e.exec.Sends())
	}
}

// A token write that loses to a vote's transaction (on DynamoDB, a
// TransactionConflict that outlasts the store's retries) leaves the
// request pending: approval-wait stores the token again, and never hands
// the execution a "pending" outcome; if it keeps losing, the task fails
// as retryable and the state machine runs it again.
func TestATokenThatLosesToAVoteIsStoredAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfileFrom(domain.ProfileInput{ID: "p", Name: domain.Ptr("p"), RequiresApproval: domain.Ptr(true), AllowedNames: names("**.example.com"),
		RequiredApprovals: domain.Ptr(2)})
	s := e.newCert(alice, "c", "p", "c.example.com")
	lose := 1
	e.st.storeTaskToken = func(ctx context.Context, id, token string) (*domain.Approval, bool, error) {
		if lose > 0 {
			lose--
			a, err := e.st.Store.GetApproval(ctx, id)
			return a, false, err
		}
		return e.st.Store.StoreTaskToken(ctx, id, token)
	}
	e.waitToken(s.ApprovalID, "token-c")
	if a := e.approval(s.ApprovalID); a.TaskToken != "token-c" || len(e.exec.Sends()) != 0 {
		t.Fatalf("token %q, sends %v", a.TaskToken, e.exec.Sends())
	}
	lose = 100
	err := e.svc.AwaitApproval(t.Context(), workflow.AwaitInput{TaskToken: "token-d", ApprovalID: s.ApprovalID})
	var retry *workflow.RetryableError
	if !errors.As(err, &retry) || len(e.exec.Sends()) != 0 {
		t.Fatalf("a token that keeps losing: %v, sends %v", err, e.exec.Sends())
	}
}

// One person, one vote, across the keys they minted: a principal whose
// key another minted is that other's puppet (it can act as it), so the
// two count as one voter. The second of them is refused (409), inside
// the write, in either order; and a puppet of the requester cannot vote
// at all (403, two-person integrity).
func TestOnePersonOneVoteAcrossTheKeysTheyMinted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	puppet := func(id, minter string) domain.Actor {
		t.Helper()
		p := domain.Principal{ID: id, Roles: []domain.Role{domain.RoleApprover}, Controllers: []string{minter}, UpdatedAt: epoch}
		if err := e.st.PutPrincipal(ctx, &apikey.PrincipalChange{Next: &p}, &domain.AuditEvent{
			Actor: minter, ActorType: domain.ActorUser, Action: domain.AuditAPIKeyCreated, ResourceType: "principal", ResourceID: id, Timestamp: epoch,
		}); err != nil {
			t.Fatal(err)
		}
		return domain.Actor{ID: id, Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
	}
	bobs, alices := puppet("bobs-puppet", "bob"), puppet("alices-puppet", "alice")
	dana := e.approverActor("dana")
	refused := func(who domain.Actor, id string, want error) {
		t.Helper()
		_, err := e.svc.Approve(ctx, who, id, "me again")
		wantKind(t, who.ID, err, want)
		if want == domain.ErrConflict && !strings.Contains(err.Error(), "can act as") {
			t.Fatalf("message: %v", err)
		}
	}
	// A quorum of three: the puppet's vote is refused both as a vote that
	// leaves the request pending and as the one that would complete it.
	for i, order := range [][]domain.Actor{{bob, bobs}, {bobs, bob}} {
		s := e.quorumCert(fmt.Sprintf("puppet%d", i), domain.ProfileInput{RequiredApprovals: domain.Ptr(3)})
		e.vote(order[0], s.ApprovalID)
		refused(order[1], s.ApprovalID, domain.ErrConflict)
		refused(alices, s.ApprovalID, domain.ErrForbidden)
		e.vote(carol, s.ApprovalID)
		refused(order[1], s.ApprovalID, domain.ErrConflict)
		if a := e.approval(s.ApprovalID); len(a.Votes) != 2 || a.State != domain.ApprovalPending {
			t.Fatalf("after the puppet's votes: %+v", a)
		}
		if d := e.vote(dana, s.ApprovalID); d.Action != domain.ActionApproved {
			t.Fatalf("dana: %+v", d)
		}
	}
}
