package workflow_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func (e *env) move(actor domain.Actor, certID, profile string) (*domain.Certificate, *domain.PendingEdit, error) {
	return e.svc.MoveCertificate(e.t.Context(), actor, certID, domain.MoveInput{ProfileID: profile, Reason: "CHG-42"})
}

// Between two profiles that need no approval, a move applies at once when
// the target allows the names: counts follow, the renewal time follows
// the target's window, and it is audited.
func TestMoveBetweenUngatedProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("a", "**.dev.example.com")
	e.ungatedProfileFrom(domain.ProfileInput{ID: "b", Name: domain.Ptr("b"), AllowedNames: names("**.dev.example.com"),
		RenewBeforeSeconds: domain.Ptr(int64(10 * 86400))})
	e.ungatedProfile("narrow", "other.dev.example.com")
	e.issuedVersion("web", "a", "web.dev.example.com")

	_, _, err := e.move(olivia, "web", "narrow")
	wantKind(t, "a target that does not allow the names", err, domain.ErrInvalid)
	_, _, err = e.move(olivia, "web", "nope")
	wantKind(t, "an unknown target", err, domain.ErrInvalid)

	c, pending, err := e.move(olivia, "web", "b")
	if err != nil || pending != nil {
		t.Fatalf("move: %+v %+v %v", c, pending, err)
	}
	if c.ProfileID != "b" || c.RenewAt == nil || !c.RenewAt.Equal(c.ExpiresAt.Add(-10*24*time.Hour)) {
		t.Fatalf("moved: %+v", c)
	}
	if a, b := e.profile("a"), e.profile("b"); a.CertificateCount != 0 || b.CertificateCount != 1 {
		t.Fatalf("counts %d %d", a.CertificateCount, b.CertificateCount)
	}
	rows := e.rowsBy("web", domain.AuditCertificateMoved)
	if len(rows) != 1 || rows[0].Details["from"] != "a" || rows[0].Details["to"] != "b" || rows[0].Details["reason"] != "CHG-42" {
		t.Fatalf("audit: %+v", rows)
	}
	// Already there: nothing changes.
	if again, pending, err := e.move(olivia, "web", "b"); err != nil || pending != nil || again.ProfileID != "b" {
		t.Fatalf("move to where it is: %+v %v", again, err)
	}
	// The renewal runs under the new profile.
	r, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	if err != nil || e.job(r.JobID).ProfileID != "b" {
		t.Fatalf("renew after the move: %+v %v", r, err)
	}
}

// Into, out of or between approval-tier profiles, a move waits for a
// second person; the requester cannot approve it; approval applies it,
// rejection and expiry release the certificate.
func TestGatedMovesNeedASecondPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("open", "**.web.example.com")
	e.gatedProfileFrom(domain.ProfileInput{ID: "gated", Name: domain.Ptr("gated"), RequiresApproval: domain.Ptr(true),
		AllowedNames: names("**.web.example.com", "**.other.example.com"), Approvers: &domain.ApproverPool{Principals: []string{"carol"}}})
	// The open profile's certificate, issued before the names were governed.
	e.ungatedProfile("open2", "**.app.example.com")
	e.issuedVersion("app", "open2", "x.app.example.com")
	e.gatedProfile("gated2", "**.app.example.com")

	// Into a gated profile: a request.
	_, pending, err := e.move(olivia, "app", "gated2")
	if err != nil || pending == nil {
		t.Fatalf("move into a gated profile: %+v %v", pending, err)
	}
	a := e.approval(pending.ApprovalID)
	if a.Kind != domain.KindCertificateMove || a.Move.From.ID != "open2" || a.Move.To.ID != "gated2" || !a.Move.To.RequiresApproval ||
		a.RequestReason != "CHG-42" || a.Move.CommonName != "x.app.example.com" || len(a.Move.DNSNames) != 1 {
		t.Fatalf("request: %+v %+v", a, a.Move)
	}
	if c := e.cert("app"); c.ProfileID != "open2" || c.PendingMoveID != a.ID {
		t.Fatalf("moved before approval: %+v", c)
	}
	_, _, err = e.move(olivia, "app", "gated2")
	wantKind(t, "a second move while one waits", err, domain.ErrConflict)
	_, err = e.svc.ArchiveCertificate(t.Context(), olivia, "app")
	wantKind(t, "archive while a move waits", err, domain.ErrConflict)
	_, err = e.svc.Approve(t.Context(), olivia, a.ID, "")
	if !errors.Is(err, domain.ErrSameActor) {
		t.Fatalf("the requester approves her move: %v", err)
	}
	e.approve(bob, a.ID)
	if c := e.cert("app"); c.ProfileID != "gated2" || c.PendingMoveID != "" {
		t.Fatalf("after approval: %+v", c)
	}
	if o, g := e.profile("open2"), e.profile("gated2"); o.CertificateCount != 0 || g.CertificateCount != 1 {
		t.Fatalf("counts %d %d", o.CertificateCount, g.CertificateCount)
	}
	if rows := e.rowsBy("app", domain.AuditCertificateMoved); len(rows) != 1 || rows[0].Actor != "bob" || rows[0].Details["approval_id"] != a.ID {
		t.Fatalf("moved rows: %+v", rows)
	}
	if n := e.obs.CountKind(domain.KindCertificateMove, string(domain.ApprovalApproved)); n != 1 {
		t.Fatalf("%d move decisions observed, want 1", n)
	}

	// Between gated profiles: both pools decide; a rejection releases.
	e.gatedProfile("gated3", "**.app.example.com")
	_, pending, err = e.move(olivia, "app", "gated3")
	if err != nil || pending == nil {
		t.Fatalf("between gated profiles: %v", err)
	}
	if _, err := e.svc.Reject(t.Context(), bob, pending.ApprovalID, "no"); err != nil {
		t.Fatal(err)
	}
	if c := e.cert("app"); c.ProfileID != "gated2" || c.PendingMoveID != "" {
		t.Fatalf("after rejection: %+v", c)
	}
	// Expiry releases too.
	_, pending, err = e.move(olivia, "app", "gated3")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(200 * time.Hour)
	if _, err := e.svc.Reap(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a := e.approval(pending.ApprovalID); a.State != domain.ApprovalExpired {
		t.Fatalf("not expired: %s", a.State)
	}
	if c := e.cert("app"); c.PendingMoveID != "" {
		t.Fatalf("expiry did not release: %+v", c)
	}
}

// A move is never a way around a gate: out of a gated profile into one
// that needs no approval is refused while the names are governed; both
// pools must allow the decider of a move between gated profiles; an
// approval after the target changed, or the names became governed,
// applies nothing (the request ends rejected, stale).
func TestAMoveIsNoWayAroundTheGate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfileFrom(domain.ProfileInput{ID: "prod", Name: domain.Ptr("prod"), RequiresApproval: domain.Ptr(true),
		AllowedNames: names("**.prod.example.com"), Approvers: &domain.ApproverPool{Principals: []string{"carol"}}})
	s := e.newCert(alice, "web", "prod", "web.prod.example.com")
	e.approve(carol, s.ApprovalID)
	e.issued("web", s.JobID)
	// An ungated profile declaring the same names (a second person opened it).
	e.ungatedProfile("escape", "**.prod.example.com")
	_, _, err := e.move(alice, "web", "escape")
	wantKind(t, "out of the gate into an ungated profile", err, domain.ErrConflict)
	if !strings.Contains(domain.PublicMessage(err), "governed") {
		t.Errorf("message %q", domain.PublicMessage(err))
	}
	if c := e.cert("web"); c.ProfileID != "prod" || c.PendingMoveID != "" {
		t.Fatalf("the refused move changed the certificate: %+v", c)
	}

	// Into another gated profile with a friendlier pool: every voter must be
	// admitted by both policies, so pools no one shares refuse the request
	// at once (it could only expire)...
	e.gatedProfileFrom(domain.ProfileInput{ID: "lax", Name: domain.Ptr("lax"), RequiresApproval: domain.Ptr(true),
		AllowedNames: names("**.prod.example.com"), Approvers: &domain.ApproverPool{Principals: []string{"bob"}}})
	_, _, err = e.move(alice, "web", "lax")
	wantKind(t, "a move between gates no one can approve", err, domain.ErrConflict)
	if !strings.Contains(domain.PublicMessage(err), "cannot be satisfied") {
		t.Errorf("message %q", domain.PublicMessage(err))
	}
	if c := e.cert("web"); c.PendingMoveID != "" {
		t.Fatalf("the refused move is pending: %+v", c)
	}
	// ...and where they overlap, the source's pool must allow the voter too.
	e.gatedProfileFrom(domain.ProfileInput{ID: "lax2", Name: domain.Ptr("lax2"), RequiresApproval: domain.Ptr(true),
		AllowedNames: names("**.prod.example.com"), Approvers: &domain.ApproverPool{Principals: []string{"bob", "carol"}}})
	_, pending, err := e.move(alice, "web", "lax2")
	if err != nil || pending == nil {
		t.Fatalf("between gated profiles: %v", err)
	}
	if a := e.approval(pending.ApprovalID); len(a.Move.FromPolicy) != 1 || len(a.ApprovalPolicy) != 1 ||
		!slices.Equal(a.ApprovalPolicy[0].Approvers.Principals, []string{"bob", "carol"}) || !slices.Equal(a.Move.FromPolicy[0].Approvers.Principals, []string{"carol"}) {
		t.Fatalf("policies: %+v %+v", a.ApprovalPolicy, a.Move.FromPolicy)
	}
	_, err = e.svc.Approve(t.Context(), bob, pending.ApprovalID, "")
	wantKind(t, "a voter outside the source's pool", err, domain.ErrForbidden)
	_, err = e.svc.Approve(t.Context(), admin, pending.ApprovalID, "")
	wantKind(t, "a voter outside the target's pool (no break glass for moves)", err, domain.ErrForbidden)
	if _, err := e.svc.Reject(t.Context(), alice, pending.ApprovalID, "mine"); !errors.Is(err, domain.ErrSameActor) {
		t.Fatalf("the requester rejects: %v", err)
	}
	if _, err := e.svc.Reject(t.Context(), bob, pending.ApprovalID, "no"); err == nil {
		t.Fatal("bob is outside the source's pool and rejected")
	}
	if a := e.approval(pending.ApprovalID); a.State != domain.ApprovalPending || len(a.Votes) != 0 {
		t.Fatalf("after refused votes: %s %+v", a.State, a.Votes)
	}
	e.approve(carol, pending.ApprovalID)
	if c := e.cert("web"); c.ProfileID != "lax2" || c.PendingMoveID != "" {
		t.Fatalf("not moved by a voter both admit: %+v", c)
	}

	// A stale target: the target changed between request and approval.
	e.ungatedProfile("open", "**.app.example.com")
	e.issuedVersion("app", "open", "x.app.example.com")
	e.gatedProfile("g", "**.app.example.com")
	_, pending, err = e.move(olivia, "app", "g")
	if err != nil {
		t.Fatal(err)
	}
	e.editProfile("g", domain.ProfileInput{Name: domain.Ptr("g, renamed")})
	_, err = e.svc.Approve(t.Context(), bob, pending.ApprovalID, "")
	wantKind(t, "approve a stale move", err, domain.ErrConflict)
	if a := e.approval(pending.ApprovalID); a.State != domain.ApprovalRejected || !strings.Contains(a.Reason, "stale move") {
		t.Fatalf("stale move: %s %q", a.State, a.Reason)
	}
	if c := e.cert("app"); c.ProfileID != "open" || c.PendingMoveID != "" {
		t.Fatalf("stale move applied: %+v", c)
	}

	// Into g for real, then towards g2 while a renewal is in flight: the
	// decision waits (409), nothing is decided until the job has ended.
	_, pending, err = e.move(olivia, "app", "g")
	if err != nil {
		t.Fatal(err)
	}
	e.approve(bob, pending.ApprovalID)
	e.gatedProfile("g2", "**.app.example.com")
	_, pending, err = e.move(olivia, "app", "g2")
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.Renew(t.Context(), alice, "app", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Approve(t.Context(), bob, pending.ApprovalID, "")
	wantKind(t, "approve a move while a job is in flight", err, domain.ErrConflict)
	if a := e.approval(pending.ApprovalID); a.State != domain.ApprovalPending {
		t.Fatalf("decided anyway: %s", a.State)
	}
	e.approve(bob, r.ApprovalID)
	e.issued("app", r.JobID)
	e.approve(bob, pending.ApprovalID)
	if c := e.cert("app"); c.ProfileID != "g2" {
		t.Fatalf("not moved: %+v", c)
	}
}

// A move is decided by votes like any request: under the policy of the
// gate it enters, and between two gates under both at once. The source's
// quorum is no easier to escape than the target's: a source that needs two
// approvals needs two votes for its certificate to leave, even into a
// profile that needs one, and each voter must be admitted by both.
func TestMovesAreDecidedUnderBothQuorums(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.gatedProfileFrom(domain.ProfileInput{ID: "strict", Name: domain.Ptr("strict"), RequiresApproval: domain.Ptr(true),
		AllowedNames: names("**.q.example.com"), RequiredApprovals: domain.Ptr(2)})
	s := e.newCert(olivia, "web", "strict", "web.q.example.com")
	e.approve(bob, s.ApprovalID)
	e.approve(carol, s.ApprovalID)
	e.issued("web", s.JobID)
	e.gatedProfile("easy", "**.q.example.com")

	_, pending, err := e.move(olivia, "web", "easy")
	if err != nil || pending == nil {
		t.Fatalf("move: %+v %v", pending, err)
	}
	a, err := e.svc.GetApproval(ctx, pending.ApprovalID)
	if err != nil || a.RequiredApprovals != 2 || a.Missing == nil || a.Missing.Approvals != 2 {
		t.Fatalf("view: required %d, missing %+v", a.RequiredApprovals, a.Missing)
	}
	d, err := e.svc.Approve(ctx, bob, a.ID, "one")
	if err != nil || d.Action != domain.ActionVoted || d.State != domain.ApprovalPending || d.Missing.Approvals != 1 {
		t.Fatalf("first vote: %+v %v", d, err)
	}
	if c := e.cert("web"); c.ProfileID != "strict" {
		t.Fatalf("moved on one vote of two: %+v", c)
	}
	_, err = e.svc.Approve(ctx, bob, a.ID, "again")
	wantKind(t, "a second vote by bob", err, domain.ErrConflict)
	d, err = e.svc.Approve(ctx, carol, a.ID, "two")
	if err != nil || d.Action != domain.ActionApproved {
		t.Fatalf("completing vote: %+v %v", d, err)
	}
	if c := e.cert("web"); c.ProfileID != "easy" || c.PendingMoveID != "" {
		t.Fatalf("not moved: %+v", c)
	}
	got, err := e.svc.GetApproval(ctx, a.ID)
	if err != nil || got.State != domain.ApprovalApproved || got.DecidedBy != "carol" || len(got.Votes) != 2 ||
		got.Votes[0].Factor != "approvers, from:approvers" || got.Votes[1].Factor != "from:approvers" {
		t.Fatalf("decided: %+v %+v", got.Approval, got.Votes)
	}
	if rows := e.rowsBy(a.ID, domain.AuditApprovalVote); len(rows) != 2 {
		t.Fatalf("approval_vote rows: %+v", rows)
	}
	if rows := e.rowsBy("web", domain.AuditCertificateMoved); len(rows) != 1 || rows[0].Actor != "carol" {
		t.Fatalf("moved rows: %+v", rows)
	}

	// Into a gate from one that needs no approval: the target's quorum.
	e.ungatedProfile("open", "**.o.example.com")
	e.issuedVersion("app", "open", "app.o.example.com")
	e.gatedProfileFrom(domain.ProfileInput{ID: "two", Name: domain.Ptr("two"), RequiresApproval: domain.Ptr(true),
		AllowedNames: names("**.o.example.com"), RequiredApprovals: domain.Ptr(2)})
	_, pending, err = e.move(olivia, "app", "two")
	if err != nil || pending == nil {
		t.Fatalf("move into a quorum: %v", err)
	}
	if a := e.approval(pending.ApprovalID); len(a.Move.FromPolicy) != 0 || a.ApprovalPolicy.Total() != 2 {
		t.Fatalf("policy: %+v %+v", a.ApprovalPolicy, a.Move.FromPolicy)
	}
	if d, err := e.svc.Approve(ctx, bob, pending.ApprovalID, ""); err != nil || d.Action != domain.ActionVoted {
		t.Fatalf("first vote: %+v %v", d, err)
	}
	// A rejection decides at once and releases the certificate.
	if _, err := e.svc.Reject(ctx, carol, pending.ApprovalID, "no"); err != nil {
		t.Fatal(err)
	}
	if c := e.cert("app"); c.ProfileID != "open" || c.PendingMoveID != "" {
		t.Fatalf("after rejection: %+v", c)
	}
}

// A move out of a gate made stricter after the move was requested is
// stale: the request's policy was drawn from the source as it was, and one
// vote must not take a certificate out of a gate that now needs two.
func TestAMoveOutOfAGateMadeStricterIsStale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("g1", "**.prod.example.com")
	e.gatedProfile("g2", "**.prod.example.com")
	s := e.newCert(alice, "web", "g1", "web.prod.example.com")
	e.approve(bob, s.ApprovalID)
	e.issued("web", s.JobID)
	_, pending, err := e.move(olivia, "web", "g2")
	if err != nil || pending == nil {
		t.Fatalf("move: %v", err)
	}
	e.editProfile("g1", domain.ProfileInput{RequiredApprovals: domain.Ptr(2)})
	_, err = e.svc.Approve(t.Context(), carol, pending.ApprovalID, "ok")
	wantKind(t, "one vote on a move out of a gate that now needs two", err, domain.ErrConflict)
	if a := e.approval(pending.ApprovalID); a.State != domain.ApprovalRejected || !strings.Contains(a.Reason, "stale move") {
		t.Fatalf("the move: %s %q", a.State, a.Reason)
	}
	if c := e.cert("web"); c.ProfileID != "g1" {
		t.Fatalf("the certificate moved to %s", c.ProfileID)
	}
}
