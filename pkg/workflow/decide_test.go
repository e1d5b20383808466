package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/identity"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// pendingCert makes a gated certificate request by alice, with the task
// token stored, and returns it.
func (e *env) pendingCert(certID string) *domain.Started {
	e.t.Helper()
	if _, err := e.st.Store.GetProfile(e.t.Context(), "prod"); err != nil {
		e.gatedProfile("prod", "**.example.com")
	}
	s := e.newCert(alice, certID, "prod", certID+".example.com")
	e.waitToken(s.ApprovalID, "token-"+certID)
	return s
}

// The requester decides nothing about their own request: neither approve
// nor reject, whatever key or roles they come with, for certificates and
// for profile edits alike. The refusal is a 403 and nothing changes.
func TestRequesterCannotDecideOwnRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.pendingCert("web")
	_, edit, err := e.svc.CreateProfile(t.Context(), alice, domain.ProfileInput{ID: "dev", Name: domain.Ptr("dev"), AllowedNames: names("**.dev.example.com")})
	if err != nil || edit == nil {
		t.Fatalf("profile edit request: %+v %v", edit, err)
	}
	// Another of alice's keys: the same principal, other roles.
	aliceOtherKey := domain.Actor{ID: "alice", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleAdmin}}
	for _, id := range []string{s.ApprovalID, edit.ApprovalID} {
		for _, actor := range []domain.Actor{alice, aliceOtherKey} {
			_, err := e.svc.Approve(t.Context(), actor, id, "mine")
			wantKind(t, "requester approves", err, domain.ErrForbidden)
			if !errors.Is(err, domain.ErrSameActor) {
				t.Fatalf("requester approves: %v, want the two-person integrity error", err)
			}
			_, err = e.svc.Reject(t.Context(), actor, id, "withdrawn")
			if !errors.Is(err, domain.ErrSameActor) {
				t.Fatalf("requester rejects: %v, want the two-person integrity error", err)
			}
		}
		if a := e.approval(id); a.State != domain.ApprovalPending || a.DecidedBy != "" {
			t.Fatalf("request after the requester's attempts: %+v", a)
		}
	}
	if j := e.job(s.JobID); j.Status != domain.JobAwaitingApproval {
		t.Fatalf("job: %s", j.Status)
	}
	if _, err := e.st.Store.GetProfile(t.Context(), "dev"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the self-approved profile exists: %v", err)
	}
	if n := e.st.Calls("Decide"); n != 0 {
		t.Fatalf("%d decision writes were attempted for the requester", n)
	}
	if len(e.exec.Sends()) != 0 || e.obs.Count("approved")+e.obs.Count("rejected") != 0 {
		t.Fatalf("something was decided: sends %v", e.exec.Sends())
	}
}

// Two spellings of one canonical actor are one person: an IAM identity
// linked to a key principal, every session of a role whose session names
// the caller picks, and case and path variants of a user ARN.
func TestSameCanonicalActorUnderAnotherSpellingCannotDecide(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.example.com")
	rules, err := identity.ParseRules(`[
		{"arn": "arn:aws:iam::123456789012:user/Alice", "principal": "alice"},
		{"role": "CertOps", "account": "123456789012", "roles": ["operator", "approver"]},
		{"arn": "arn:aws:iam::123456789012:user/Dan", "roles": ["operator", "approver"]},
		{"role": "AWSReservedSSO_CertOps_*", "account": "123456789012", "roles": ["operator"]},
		{"role": "AWSReservedSSO_CertApprovers_*", "account": "123456789012", "roles": ["approver"]}
	]`)
	if err != nil {
		t.Fatal(err)
	}
	resolver := identity.NewResolver(rules, e.st)
	iam := func(arn string) domain.Actor {
		t.Helper()
		a, err := resolver.FromIAM(t.Context(), arn)
		if err != nil {
			t.Fatalf("%s: %v", arn, err)
		}
		return a
	}
	for i, tc := range []struct {
		name               string
		requester, decider domain.Actor
	}{
		{name: "key principal, then its linked IAM user under another path and case", requester: alice, decider: iam("arn:aws:iam::123456789012:user/team/ALICE")},
		{name: "two sessions of one role", requester: iam("arn:aws:sts::123456789012:assumed-role/CertOps/session-a"), decider: iam("arn:aws:sts::123456789012:assumed-role/certops/Session-B")},
		{name: "a user ARN and its case variant", requester: iam("arn:aws:iam::123456789012:user/Dan"), decider: iam("arn:aws:iam::123456789012:user/ops/dAN")},
		{name: "one person in two permission sets", requester: iam("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertOps_1111/erin@example.com"),
			decider: iam("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertApprovers_2222/erin@example.com")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.requester.ID != tc.decider.ID {
				t.Fatalf("the spellings resolved to two actors (%s, %s): the premise of the test is broken", tc.requester.ID, tc.decider.ID)
			}
			s, err := e.svc.CreateCertificate(t.Context(), tc.requester, domainCert(t, fmt.Sprintf("c%d", i), "prod", "c.example.com"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.Approve(t.Context(), tc.decider, s.ApprovalID, "")
			if !errors.Is(err, domain.ErrSameActor) {
				t.Fatalf("approve: %v, want the two-person integrity error", err)
			}
			if a := e.approval(s.ApprovalID); a.State != domain.ApprovalPending {
				t.Fatalf("state %s", a.State)
			}
		})
	}
}

// A request recorded before sessions became persons names the requester
// as role/<role>/<session>: that person, now iam:<partition>:person/<session>,
// still cannot decide it, through any role.
func TestRequestUnderAnOlderSpellingIsStillTheRequesters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.example.com")
	legacy := domain.Actor{ID: "iam:aws:123456789012:role/awsreservedsso_certops_1111/erin@example.com", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleOperator}}
	s, err := e.svc.CreateCertificate(t.Context(), legacy, domainCert(t, "old", "prod", "old.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	erin := domain.Actor{ID: "iam:aws:person/erin@example.com", Aliases: []string{"iam:aws:123456789012:role/awsreservedsso_certapprovers_2222"},
		Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
	if _, err := e.svc.Approve(t.Context(), erin, s.ApprovalID, ""); !errors.Is(err, domain.ErrSameActor) {
		t.Fatalf("approve: %v, want the two-person integrity error", err)
	}
	if _, err := e.svc.Approve(t.Context(), bob, s.ApprovalID, ""); err != nil {
		t.Fatalf("someone else approves: %v", err)
	}
}

// Two-person integrity is part of the decision's write, not only a Go
// check: a decision built from a read that names someone else as the
// requester (a stale or forged read) still cannot commit, and the service
// does not report it as decided.
func TestTwoPersonIntegrityHoldsInsideTheWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.pendingCert("web")
	e.st.getApproval = func(ctx context.Context, id string) (*domain.Approval, error) {
		a, err := e.st.Store.GetApproval(ctx, id)
		if a != nil {
			a.RequestedBy = "someone-else"
		}
		return a, err
	}
	_, err := e.svc.Approve(t.Context(), alice, s.ApprovalID, "")
	if err == nil {
		t.Fatal("the requester's decision was reported as recorded")
	}
	if a := e.approval(s.ApprovalID); a.State != domain.ApprovalPending || a.DecidedBy != "" {
		t.Fatalf("request: %+v", a)
	}
	if j := e.job(s.JobID); j.Status != domain.JobAwaitingApproval {
		t.Fatalf("job: %s", j.Status)
	}
	if len(e.exec.Sends()) != 0 {
		t.Fatalf("a decision was handed to the execution: %v", e.exec.Sends())
	}
}

// A profile's approver pool limits who may decide its requests: named
// principals (an IAM role admits its sessions) or roles, where admin holds
// every role. The pool itself may only name principals who can decide.
func TestApproverPool(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	rules, err := identity.ParseRules(`[{"role": "Approvers", "account": "123456789012", "roles": ["approver"]},
		{"role": "Others", "account": "123456789012", "roles": ["approver"]}, {"role": "Viewers", "account": "123456789012", "roles": ["viewer"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.IAMApprovers = identity.NewResolver(rules, e.st)
	mk := func(id string, pool domain.ApproverPool) {
		t.Helper()
		if _, _, err := e.svc.CreateProfile(ctx, alice, domain.ProfileInput{
			ID: id, Name: domain.Ptr(id), RequiresApproval: domain.Ptr(true), AllowedNames: names("**.example.com"), Approvers: &pool,
		}); err != nil {
			t.Fatalf("profile %s: %v", id, err)
		}
	}
	mk("by-name", domain.ApproverPool{Principals: []string{"bob"}})
	mk("by-role", domain.ApproverPool{Roles: []domain.Role{domain.RoleApprover}})
	mk("by-iam-role", domain.ApproverPool{Principals: []string{"arn:aws:iam::123456789012:role/team/Approvers"}})
	if p := e.profile("by-iam-role"); p.Approvers.Principals[0] != "iam:aws:123456789012:role/approvers" {
		t.Fatalf("the pool's IAM role is not stored canonical: %v", p.Approvers.Principals)
	}
	session := func(role, name string) domain.Actor {
		// A session that is a person: the person, with the role it came through.
		return domain.Actor{ID: "iam:aws:person/" + name, Aliases: []string{"iam:aws:123456789012:role/" + role}, Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
	}
	for _, tc := range []struct {
		profile string
		refused []domain.Actor
		allowed domain.Actor
	}{
		{"by-name", []domain.Actor{carol, admin}, bob},
		{"by-role", []domain.Actor{olivia}, admin},
		{"by-iam-role", []domain.Actor{session("others", "x"), carol, {ID: "iam:aws:123456789012:role/approvers-not", Roles: []domain.Role{domain.RoleApprover}}}, session("approvers", "x")},
	} {
		s := e.newCert(alice, "c-"+tc.profile, tc.profile, tc.profile+".example.com")
		for _, who := range tc.refused {
			_, err := e.svc.Approve(ctx, who, s.ApprovalID, "")
			wantKind(t, tc.profile+": "+who.ID+" approves", err, domain.ErrForbidden)
			_, err = e.svc.Reject(ctx, who, s.ApprovalID, "no")
			wantKind(t, tc.profile+": "+who.ID+" rejects", err, domain.ErrForbidden)
		}
		if a := e.approval(s.ApprovalID); a.State != domain.ApprovalPending {
			t.Fatalf("%s: decided by someone outside the pool: %+v", tc.profile, a)
		}
		if _, err := e.svc.Approve(ctx, tc.allowed, s.ApprovalID, ""); err != nil {
			t.Fatalf("%s: %s is in the pool: %v", tc.profile, tc.allowed.ID, err)
		}
	}
	// A pool no one can satisfy is refused when the profile is written.
	for what, pool := range map[string]domain.ApproverPool{
		"unknown principal":               {Principals: []string{"nobody"}},
		"principal who can't vote":        {Principals: []string{"olivia"}},
		"role that can't decide":          {Roles: []domain.Role{domain.RoleOperator}},
		"IAM role no rule covers":         {Principals: []string{"iam:aws:000000000000:role/nobody"}},
		"IAM role ARN no rule covers":     {Principals: []string{"arn:aws:iam::000000000000:role/nobody"}},
		"IAM role without approver":       {Principals: []string{"iam:aws:123456789012:role/viewers"}},
		"IAM id not canonical":            {Principals: []string{"iam:aws:123456789012:role/Approvers"}},
		"old spelling of a session":       {Principals: []string{"iam:aws:123456789012:role/approvers/x"}},
		"junk iam id":                     {Principals: []string{"iam:whatever"}},
		"session of a role, not a person": {Principals: []string{"arn:aws:sts::123456789012:assumed-role/Approvers/x"}},
		"person no rule could make":       {Principals: []string{"iam:aws:person/zed"}},
	} {
		_, _, err := e.svc.CreateProfile(ctx, alice, domain.ProfileInput{
			ID: "bad", Name: domain.Ptr("bad"), RequiresApproval: domain.Ptr(true), AllowedNames: names("bad.example.com"), Approvers: &pool,
		})
		wantKind(t, what, err, domain.ErrInvalid)
	}
}

// Of two decisions racing on one request, exactly one is recorded; the
// other caller is told the request is already decided (409), and the job,
// the audit trail, the metrics and the hand-off each see one decision.
func TestExactlyOneConcurrentDecisionWins(t *testing.T) {
	t.Parallel()
	for _, second := range []domain.ApprovalState{domain.ApprovalApproved, domain.ApprovalRejected} {
		t.Run("approve vs "+string(second), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			s := e.pendingCert("web")
			// Both callers read the pending request before either writes.
			b := newBarrier(2)
			e.st.getApproval = func(ctx context.Context, id string) (*domain.Approval, error) {
				a, err := e.st.Store.GetApproval(ctx, id)
				b.Wait()
				return a, err
			}
			type result struct {
				by  string
				res *domain.Decision
				err error
			}
			results := make([]result, 2)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				res, err := e.svc.Approve(context.Background(), bob, s.ApprovalID, "bob")
				results[0] = result{"bob", res, err}
			}()
			go func() {
				defer wg.Done()
				var res *domain.Decision
				var err error
				if second == domain.ApprovalApproved {
					res, err = e.svc.Approve(context.Background(), carol, s.ApprovalID, "carol")
				} else {
					res, err = e.svc.Reject(context.Background(), carol, s.ApprovalID, "carol")
				}
				results[1] = result{"carol", res, err}
			}()
			wg.Wait()
			var winner *result
			for i, r := range results {
				switch {
				case r.err == nil:
					if winner != nil {
						t.Fatalf("two decisions won: %+v and %+v", winner.res, r.res)
					}
					winner = &results[i]
				case !errors.Is(r.err, domain.ErrConflict):
					t.Fatalf("%s lost with %v, want a conflict", r.by, r.err)
				}
			}
			if winner == nil {
				t.Fatalf("no decision won: %+v", results)
			}
			a := e.approval(s.ApprovalID)
			if a.DecidedBy != winner.by || string(a.State) != winner.res.Action {
				t.Fatalf("stored %s by %s; the winner was told %s by %s", a.State, a.DecidedBy, winner.res.Action, winner.by)
			}
			wantJob := map[domain.ApprovalState]domain.JobStatus{domain.ApprovalApproved: domain.JobPending, domain.ApprovalRejected: domain.JobCancelled}[a.State]
			if j := e.job(s.JobID); j.Status != wantJob {
				t.Fatalf("job %s after %s", j.Status, a.State)
			}
			decisions := len(e.rowsBy(s.ApprovalID, domain.AuditApprovalApproved)) + len(e.rowsBy(s.ApprovalID, domain.AuditApprovalRejected))
			observed := e.obs.Count("approved") + e.obs.Count("rejected")
			if decisions != 1 || observed != 1 || len(e.exec.Sends()) != 1 {
				t.Fatalf("audit rows %d, observed %d, hand-offs %v: want one each", decisions, observed, e.exec.Sends())
			}
		})
	}
}

// A request that is no longer pending cannot be decided: a decided one
// stays as decided, an expired one stays expired (a late approval never
// revives it). The refusal is a 409, before any write is attempted; and
// if the request ends between the read and the write, the write fails and
// the caller is still told the truth.
func TestDecisionOnEndedRequestIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	decided := e.pendingCert("decided")
	e.approve(bob, decided.ApprovalID)
	e.clock.Advance(time.Hour)
	expired := e.pendingCert("expired")
	e.clock.Advance(e.svc.ApprovalTimeout + time.Second)
	if res, err := e.svc.Reap(ctx); err != nil || res.Expired != 1 {
		t.Fatalf("reap: %+v %v", res, err)
	}
	writes := e.st.Calls("Decide")
	for _, id := range []string{decided.ApprovalID, expired.ApprovalID} {
		_, err := e.svc.Approve(ctx, carol, id, "late")
		wantKind(t, "approve "+id, err, domain.ErrConflict)
		_, err = e.svc.Reject(ctx, carol, id, "late")
		wantKind(t, "reject "+id, err, domain.ErrConflict)
	}
	if n := e.st.Calls("Decide") - writes; n != 0 {
		t.Fatalf("%d decision writes were attempted on ended requests", n)
	}
	if a := e.approval(decided.ApprovalID); a.State != domain.ApprovalApproved || a.DecidedBy != "bob" {
		t.Fatalf("decided request: %+v", a)
	}
	if a := e.approval(expired.ApprovalID); a.State != domain.ApprovalExpired || a.DecidedBy != domain.SystemReaper {
		t.Fatalf("expired request: %+v", a)
	}
	if j := e.job(expired.JobID); j.Status != domain.JobCancelled {
		t.Fatalf("expired request's job: %s", j.Status)
	}

	// The request ends between the decider's read and write.
	stale := true
	e.st.getApproval = func(ctx context.Context, id string) (*domain.Approval, error) {
		a, err := e.st.Store.GetApproval(ctx, id)
		if a != nil && stale {
			stale = false
			a.State, a.DecidedBy, a.DecidedAt = domain.ApprovalPending, "", nil
		}
		return a, err
	}
	_, err := e.svc.Approve(ctx, carol, expired.ApprovalID, "raced")
	wantKind(t, "approve on a stale read of an expired request", err, domain.ErrConflict)
	if a := e.approval(expired.ApprovalID); a.State != domain.ApprovalExpired {
		t.Fatalf("the late approval overrode the expiry: %+v", a)
	}
	if e.obs.Count("approved") != 1 {
		t.Fatalf("approvals observed: %d, want bob's alone", e.obs.Count("approved"))
	}
}

// A decision for a waiting execution is queued for hand-off in its own
// write, sent once, and taken off the queue; the reaper sends again only
// what could not be sent, and only after the grace period.
func TestDecisionHandOff(t *testing.T) {
	t.Parallel()
	t.Run("sent once and dequeued", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		s := e.pendingCert("web")
		e.approve(bob, s.ApprovalID)
		if got := e.exec.Sends(); len(got) != 1 || got[0] != (sent{"token-web", "approved"}) {
			t.Fatalf("sends: %v", got)
		}
		if q := e.handoffs(); len(q) != 0 {
			t.Fatalf("delivered decision still queued: %+v", q)
		}
		e.clock.Advance(10 * time.Minute)
		if res, err := e.svc.Reap(t.Context()); err != nil || res.Redelivered != 0 {
			t.Fatalf("reap: %+v %v", res, err)
		}
		if n := len(e.exec.Sends()); n != 1 {
			t.Fatalf("the decision was sent %d times", n)
		}
	})
	t.Run("a failed send is queued and redelivered once, after the grace", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		s := e.pendingCert("web")
		e.exec.failNextSend(errors.New("connection reset"))
		if _, err := e.svc.Reject(t.Context(), bob, s.ApprovalID, "no"); err != nil {
			t.Fatalf("a recorded decision must stand when its hand-off fails: %v", err)
		}
		q := e.handoffs()
		if len(q) != 1 || q[0].ID != s.ApprovalID || q[0].State != domain.ApprovalRejected || q[0].TaskToken != "token-web" {
			t.Fatalf("hand-off queue: %+v", q)
		}
		if res, err := e.svc.Reap(t.Context()); err != nil || res.Redelivered != 0 || len(e.exec.Sends()) != 1 {
			t.Fatalf("within the grace the reaper leaves it to its request: %+v %v %v", res, err, e.exec.Sends())
		}
		e.clock.Advance(2 * time.Minute)
		if res, err := e.svc.Reap(t.Context()); err != nil || res.Redelivered != 1 {
			t.Fatalf("reap after the grace: %+v %v", res, err)
		}
		if got := e.exec.Sends(); len(got) != 2 || got[1] != (sent{"token-web", "rejected"}) {
			t.Fatalf("sends: %v", got)
		}
		e.clock.Advance(2 * time.Minute)
		if res, err := e.svc.Reap(t.Context()); err != nil || res.Redelivered != 0 || len(e.exec.Sends()) != 2 || len(e.handoffs()) != 0 {
			t.Fatalf("redelivered twice: %+v %v %v", res, err, e.exec.Sends())
		}
	})
	t.Run("a crash right after the decision's write loses nothing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		s := e.pendingCert("web")
		e.st.decide = func(ctx context.Context, d workflow.Decision) error {
			if err := e.st.Store.Decide(ctx, d); err != nil {
				return err
			}
			panic("the function dies here")
		}
		func() {
			defer func() { _ = recover() }()
			_, _ = e.svc.Approve(t.Context(), bob, s.ApprovalID, "")
		}()
		e.st.decide = nil
		if len(e.exec.Sends()) != 0 {
			t.Fatal("test setup: the hand-off ran")
		}
		if q := e.handoffs(); len(q) != 1 || q[0].ID != s.ApprovalID {
			t.Fatalf("the recorded decision is not queued: %+v", q)
		}
		e.clock.Advance(2 * time.Minute)
		if res, err := e.svc.Reap(t.Context()); err != nil || res.Redelivered != 1 {
			t.Fatalf("reap: %+v %v", res, err)
		}
		if got := e.exec.Sends(); len(got) != 1 || got[0] != (sent{"token-web", "approved"}) {
			t.Fatalf("sends: %v", got)
		}
	})
	t.Run("an unknown token is not retried", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		s := e.pendingCert("web")
		e.exec.failNextSend(workflow.ErrTokenUnknown)
		e.approve(bob, s.ApprovalID)
		if q := e.handoffs(); len(q) != 0 {
			t.Fatalf("a token the engine does not know was queued for resending: %+v", q)
		}
	})
	t.Run("decided before the token: the waiting task hands it over", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.gatedProfile("prod", "**.example.com")
		s := e.newCert(alice, "web", "prod", "web.example.com")
		e.approve(bob, s.ApprovalID)
		if len(e.exec.Sends()) != 0 || len(e.handoffs()) != 0 {
			t.Fatalf("no token yet, so nothing to send or queue: %v %+v", e.exec.Sends(), e.handoffs())
		}
		e.waitToken(s.ApprovalID, "late-token")
		if got := e.exec.Sends(); len(got) != 1 || got[0] != (sent{"late-token", "approved"}) {
			t.Fatalf("sends: %v", got)
		}
		if a := e.approval(s.ApprovalID); a.TaskToken != "" {
			t.Fatalf("a token was stored on a decided request: %q", a.TaskToken)
		}
	})
	t.Run("the token arrives between the decision's read and write", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.gatedProfile("prod", "**.example.com")
		s := e.newCert(alice, "web", "prod", "web.example.com")
		first := true
		e.st.getApproval = func(ctx context.Context, id string) (*domain.Approval, error) {
			a, err := e.st.Store.GetApproval(ctx, id)
			if first {
				first = false
				e.waitToken(id, "raced-token") // approval-wait runs now
			}
			return a, err
		}
		e.approve(bob, s.ApprovalID)
		if got := e.exec.Sends(); len(got) != 1 || got[0] != (sent{"raced-token", "approved"}) {
			t.Fatalf("the decision must reach the token stored meanwhile, once: %v", got)
		}
		if n := e.st.Calls("Decide"); n != 2 {
			t.Fatalf("%d decision writes, want the stale one refused and one more", n)
		}
		if q := e.handoffs(); len(q) != 0 {
			t.Fatalf("queue: %+v", q)
		}
	})
}

// The Observer's decisions become the CloudWatch series of
// certctl_approval_decisions_total, which, like the /metrics counter of
// that name, counts decisions on certificate requests only: profile edits
// have certctl_profile_edit_decisions_total.
func TestObservedDecisionsAreCertificateDecisions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("dev", "**.dev.example.com") // a profile edit, approved
	_, pending, err := e.svc.CreateProfile(t.Context(), alice, domain.ProfileInput{ID: "dev2", Name: domain.Ptr("dev2"), AllowedNames: names("**.dev2.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Reject(t.Context(), bob, pending.ApprovalID, "no"); err != nil {
		t.Fatal(err)
	}
	if n := e.obs.Count("approved") + e.obs.Count("rejected"); n != 0 {
		t.Fatalf("%d profile-edit decisions observed as certificate decisions", n)
	}
	if n := len(e.obs.decisions); n != 2 {
		t.Fatalf("%d decisions observed, want the 2 profile-edit decisions, each as a profile edit", n)
	}
}
