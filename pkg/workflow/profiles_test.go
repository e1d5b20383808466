package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// A profile that needs no approval is a path to certificates without a
// second person, so creating one is itself a request another person must
// approve; bypass mode does not change that.
func TestCreatingAnUngatedProfileNeedsASecondPerson(t *testing.T) {
	t.Parallel()
	for _, bypass := range []bool{false, true} {
		e := newEnv(t)
		e.svc.Bypass = bypass
		p, pending, err := e.svc.CreateProfile(t.Context(), alice, domain.ProfileInput{ID: "dev", Name: domain.Ptr("dev"), AllowedNames: names("**.dev.example.com")})
		if err != nil || p != nil || pending == nil || pending.Status != "pending_approval" {
			t.Fatalf("bypass %v: create: %+v %+v %v, want a pending edit only", bypass, p, pending, err)
		}
		if _, err := e.st.Store.GetProfile(t.Context(), "dev"); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("bypass %v: the profile exists before approval: %v", bypass, err)
		}
		a := e.approval(pending.ApprovalID)
		if a.Kind != domain.KindProfileEdit || !a.ProfileEdit.Create || a.State != domain.ApprovalPending || a.RequestedBy != "alice" {
			t.Fatalf("bypass %v: request: %+v", bypass, a)
		}
		if got := e.actions(a.ID); len(got) != 1 || got[0] != domain.AuditProfileEditRequested {
			t.Fatalf("bypass %v: audit %v", bypass, got)
		}
		_, err = e.svc.Approve(t.Context(), alice, a.ID, "")
		if !errors.Is(err, domain.ErrSameActor) {
			t.Fatalf("bypass %v: alice approves her own profile: %v", bypass, err)
		}
		e.approve(bob, a.ID)
		got := e.profile("dev")
		if got.Version != 1 || got.CreatedBy != "alice" || got.RequiresApproval || got.PendingEditID != "" {
			t.Fatalf("bypass %v: applied profile: %+v", bypass, got)
		}
		if rows := e.rowsBy("dev", domain.AuditProfileEditApplied); len(rows) != 1 || rows[0].Actor != "bob" || rows[0].Details["requested_by"] != "alice" {
			t.Fatalf("bypass %v: edit_applied rows: %+v", bypass, rows)
		}
	}
}

// Widening a profile that needs no approval (more names, more key
// algorithms, a longer validity), making it approval-tier or changing the
// approval rule its own gated edits follow (its pool, its number of
// approvals, its policy) waits for a second person; narrowing it applies
// at once.
func TestEditingAnUngatedProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfileFrom(domain.ProfileInput{
		ID: "dev", Name: domain.Ptr("dev"), AllowedNames: names("a.example.com", "b.example.com"),
		AllowedKeyAlgorithms: &[]string{domain.KeyECDSAP256, domain.KeyECDSAP384}, MaxValiditySeconds: domain.Ptr(int64(30 * 86400)),
		RenewBeforeSeconds: domain.Ptr(int64(10 * 86400)),
	})
	for what, in := range map[string]domain.ProfileInput{
		"another name":                {AllowedNames: names("a.example.com", "b.example.com", "c.example.com")},
		"a wider pattern":             {AllowedNames: names("*.example.com")},
		"another key algorithm":       {AllowedKeyAlgorithms: &[]string{domain.KeyECDSAP256, domain.KeyECDSAP384, domain.KeyRSA2048}},
		"a longer validity":           {MaxValiditySeconds: domain.Ptr(int64(31 * 86400))},
		"becoming approval-tier":      {RequiresApproval: domain.Ptr(true)},
		"a narrowing with a widening": {AllowedNames: names("a.example.com", "z.example.com")},
		"a pool for later gates":      {Approvers: &domain.ApproverPool{Principals: []string{"bob"}}},
		"a second approval":           {RequiredApprovals: domain.Ptr(2)},
		"an approval policy":          {ApprovalPolicy: &domain.ApprovalPolicy{{Name: "ops", Count: 1}}},
	} {
		before := e.profile("dev")
		p, pending, err := e.svc.UpdateProfile(t.Context(), alice, "dev", in)
		if err != nil || p != nil || pending == nil {
			t.Fatalf("%s: %+v %+v %v, want a pending edit", what, p, pending, err)
		}
		if after := e.profile("dev"); after.Version != before.Version || after.PendingEditID != pending.ApprovalID {
			t.Fatalf("%s: the profile changed before approval: %+v", what, after)
		}
		if _, err := e.svc.Reject(t.Context(), bob, pending.ApprovalID, "not now"); err != nil {
			t.Fatal(err)
		}
	}
	for what, in := range map[string]domain.ProfileInput{
		"a name fewer":          {AllowedNames: names("a.example.com")},
		"a key algorithm fewer": {AllowedKeyAlgorithms: &[]string{domain.KeyECDSAP384}},
		"a shorter validity":    {MaxValiditySeconds: domain.Ptr(int64(20 * 86400))},
		"another display name":  {Name: domain.Ptr("development")},
		"an earlier renewal":    {RenewBeforeSeconds: domain.Ptr(int64(15 * 86400))},
	} {
		before := e.profile("dev")
		p, pending, err := e.svc.UpdateProfile(t.Context(), olivia, "dev", in)
		if err != nil || pending != nil || p == nil || p.Version != before.Version+1 {
			t.Fatalf("%s: %+v %+v %v, want it applied at once", what, p, pending, err)
		}
	}
	rows := e.rowsBy("dev", domain.AuditProfileUpdated)
	if len(rows) != 5 || rows[0].Actor != "olivia" {
		t.Fatalf("profile.updated rows: %d", len(rows))
	}
}

// Every edit to an approval-tier profile waits for a second person, even
// one that only narrows it, and so does deleting it.
func TestEditingAGatedProfileIsAlwaysGated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "a.example.com", "b.example.com")
	for what, edit := range map[string]func() (*domain.PendingEdit, error){
		"narrowing": func() (*domain.PendingEdit, error) {
			p, pending, err := e.svc.UpdateProfile(t.Context(), alice, "prod", domain.ProfileInput{AllowedNames: names("a.example.com")})
			if p != nil {
				t.Fatalf("narrowing applied at once: %+v", p)
			}
			return pending, err
		},
		"renaming": func() (*domain.PendingEdit, error) {
			_, pending, err := e.svc.UpdateProfile(t.Context(), alice, "prod", domain.ProfileInput{Name: domain.Ptr("renamed")})
			return pending, err
		},
		"dropping the gate": func() (*domain.PendingEdit, error) {
			_, pending, err := e.svc.UpdateProfile(t.Context(), alice, "prod", domain.ProfileInput{RequiresApproval: domain.Ptr(false)})
			return pending, err
		},
		"deleting": func() (*domain.PendingEdit, error) {
			return e.svc.DeleteProfile(t.Context(), alice, "prod")
		},
	} {
		pending, err := edit()
		if err != nil || pending == nil {
			t.Fatalf("%s: %+v %v, want a pending edit", what, pending, err)
		}
		if p := e.profile("prod"); p.Version != 1 || len(p.AllowedNames) != 2 || !p.RequiresApproval {
			t.Fatalf("%s: changed before approval: %+v", what, p)
		}
		if _, err := e.svc.Reject(t.Context(), bob, pending.ApprovalID, "no"); err != nil {
			t.Fatal(err)
		}
	}
	// Approved, the edit applies at its base version.
	p := e.editProfile("prod", domain.ProfileInput{AllowedNames: names("a.example.com")})
	if p.Version != 2 || len(p.AllowedNames) != 1 || p.PendingEditID != "" {
		t.Fatalf("after approval: %+v", p)
	}
}

// One pending edit per profile: while one waits, another edit, a direct
// edit and a delete are all refused (409); a decision releases the profile.
func TestOnePendingEditPerProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.ungatedProfile("dev", "a.example.com", "b.example.com")
	e.gatedProfile("prod", "p.example.com", "q.example.com")
	for _, id := range []string{"dev", "prod"} {
		_, first, err := e.svc.UpdateProfile(ctx, alice, id, domain.ProfileInput{MaxValiditySeconds: domain.Ptr(int64(100 * 86400))})
		if err != nil || first == nil {
			t.Fatalf("%s: first edit: %+v %v", id, first, err)
		}
		_, _, err = e.svc.UpdateProfile(ctx, olivia, id, domain.ProfileInput{MaxValiditySeconds: domain.Ptr(int64(120 * 86400))})
		wantKind(t, id+": a second gated edit", err, domain.ErrConflict)
		_, _, err = e.svc.UpdateProfile(ctx, olivia, id, domain.ProfileInput{MaxValiditySeconds: domain.Ptr(int64(10 * 86400)), RenewBeforeSeconds: domain.Ptr(int64(86400))})
		wantKind(t, id+": a narrowing edit", err, domain.ErrConflict)
		_, err = e.svc.DeleteProfile(ctx, olivia, id)
		wantKind(t, id+": delete", err, domain.ErrConflict)
		if p := e.profile(id); p.PendingEditID != first.ApprovalID || p.Version != 1 || p.MaxValiditySeconds != domain.DefaultMaxValiditySeconds {
			t.Fatalf("%s: %+v", id, p)
		}
		if _, err := e.svc.Reject(ctx, bob, first.ApprovalID, "no"); err != nil {
			t.Fatal(err)
		}
		if p := e.profile(id); p.PendingEditID != "" || p.Version != 1 {
			t.Fatalf("%s: rejection did not release the profile: %+v", id, p)
		}
		if _, next, err := e.svc.UpdateProfile(ctx, olivia, id, domain.ProfileInput{MaxValiditySeconds: domain.Ptr(int64(120 * 86400))}); err != nil || next == nil {
			t.Fatalf("%s: edit after release: %+v %v", id, next, err)
		}
	}
}

// A profile certificates use cannot be deleted: not directly, not by a
// gated request, and not by an approval that arrives after a certificate
// started using it (that request ends rejected as stale, and nothing is
// deleted).
func TestDeleteRefusedWhileCertificatesUseIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.ungatedProfile("dev", "**.dev.example.com")
	e.gatedProfile("prod", "**.prod.example.com")
	e.newCert(alice, "d", "dev", "d.dev.example.com")
	e.newCert(alice, "p", "prod", "p.prod.example.com")
	for _, id := range []string{"dev", "prod"} {
		pending, err := e.svc.DeleteProfile(ctx, alice, id)
		wantKind(t, "delete "+id, err, domain.ErrConflict)
		if pending != nil || e.profile(id).PendingEditID != "" {
			t.Fatalf("%s: a delete request was made for a profile in use: %+v", id, pending)
		}
	}

	e.gatedProfile("late", "**.late.example.com")
	pending, err := e.svc.DeleteProfile(ctx, alice, "late")
	if err != nil || pending == nil {
		t.Fatalf("delete request: %+v %v", pending, err)
	}
	e.newCert(olivia, "l", "late", "l.late.example.com") // while the delete waits
	_, err = e.svc.Approve(ctx, bob, pending.ApprovalID, "")
	wantKind(t, "approving a delete gone stale", err, domain.ErrConflict)
	a := e.approval(pending.ApprovalID)
	if a.State != domain.ApprovalRejected || a.DecidedBy != domain.SystemWorkflow || !strings.HasPrefix(a.Reason, "stale edit:") {
		t.Fatalf("stale delete request: %+v", a)
	}
	if p := e.profile("late"); p.PendingEditID != "" || p.CertificateCount != 1 {
		t.Fatalf("profile after the stale delete: %+v", p)
	}
}

// A request to create a profile applies only if no profile took its id
// meanwhile; otherwise it ends rejected as stale and nothing is replaced.
func TestStaleCreateIsRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, pending, err := e.svc.CreateProfile(t.Context(), alice, domain.ProfileInput{ID: "x", Name: domain.Ptr("open x"), AllowedNames: names("**.example.com")})
	if err != nil || pending == nil {
		t.Fatal(err)
	}
	e.gatedProfile("x", "x.example.com")
	_, err = e.svc.Approve(t.Context(), bob, pending.ApprovalID, "")
	wantKind(t, "approve a stale create", err, domain.ErrConflict)
	if a := e.approval(pending.ApprovalID); a.State != domain.ApprovalRejected || !strings.HasPrefix(a.Reason, "stale edit:") {
		t.Fatalf("request: %+v", a)
	}
	if p := e.profile("x"); !p.RequiresApproval || len(p.AllowedNames) != 1 {
		t.Fatalf("the gated profile was replaced: %+v", p)
	}
}

// An approval-tier profile governs its names at once: no profile that
// needs no approval may then issue them, and its governance goes when it
// does (unless another approval-tier profile governs the same pattern).
func TestGovernedNamesNeedAnApprovalTierProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.ungatedProfile("dev", "**.example.com")
	g0, err := e.st.Store.ReadGovernance(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.gatedProfile("prod", "www.example.com", "*.api.example.com")
	e.gatedProfile("prod2", "www.example.com")
	g, err := e.st.Store.ReadGovernance(ctx, []domain.NamePattern{"www.example.com", "*.api.example.com", "other.example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Version != g0.Version+2 || !g.Governed["www.example.com"] || !g.Governed["*.api.example.com"] || g.Governed["other.example.com"] {
		t.Fatalf("governance after creating approval-tier profiles: %+v (was version %d)", g, g0.Version)
	}
	for _, name := range []string{"www.example.com", "v1.api.example.com", "*.api.example.com"} {
		_, err := e.svc.CreateCertificate(ctx, alice, domainCert(t, "c", "dev", name))
		wantKind(t, "ungated certificate for "+name, err, domain.ErrConflict)
		if _, err := e.st.Store.GetCertificate(ctx, "c"); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%s: a refused certificate was stored: %v", name, err)
		}
	}
	if s := e.newCert(alice, "other", "dev", "other.example.com"); s.ApprovalID != "" || s.Status != domain.JobPending {
		t.Fatalf("ungoverned name: %+v", s)
	}
	// The same name under an approval-tier profile is fine: it is gated.
	if s := e.newCert(alice, "www", "prod2", "www.example.com"); s.ApprovalID == "" {
		t.Fatalf("gated certificate without a request: %+v", s)
	}

	// Deleting prod drops *.api.example.com; www stays governed by prod2.
	pending, err := e.svc.DeleteProfile(ctx, alice, "prod")
	if err != nil || pending == nil {
		t.Fatalf("delete prod: %+v %v", pending, err)
	}
	e.approve(bob, pending.ApprovalID)
	if _, err := e.st.Store.GetProfile(ctx, "prod"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("prod after its approved delete: %v", err)
	}
	_, err = e.svc.CreateCertificate(ctx, alice, domainCert(t, "w2", "dev", "www.example.com"))
	wantKind(t, "www after deleting one of its two governors", err, domain.ErrConflict)
	if s := e.newCert(alice, "api", "dev", "v1.api.example.com"); s.ApprovalID != "" {
		t.Fatalf("released name: %+v", s)
	}
}

// A job that needs no approval carries the governance version its names
// were found ungoverned at: governance added between that read and the
// job's write refuses the write.
func TestGovernanceChangedDuringTheCheckRefusesTheJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.ungatedProfile("dev", "**.example.com")
	raced := false
	e.st.readGovernance = func(ctx context.Context, ps []domain.NamePattern, zones []string) (*workflow.Governance, error) {
		g, err := e.st.Store.ReadGovernance(ctx, ps, zones)
		if !raced {
			raced = true
			e.gatedProfile("late", "race.example.com") // someone gates the name now
		}
		return g, err
	}
	_, err := e.svc.CreateCertificate(ctx, alice, domainCert(t, "race", "dev", "race.example.com"))
	wantKind(t, "create across a governance change", err, domain.ErrConflict)
	if !raced {
		t.Fatal("governance was never read")
	}
	if _, err := e.st.Store.GetCertificate(ctx, "race"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the certificate was stored: %v", err)
	}
	if n := len(e.exec.Starts()); n != 0 {
		t.Fatalf("%d executions started", n)
	}
}

// A wildcard certificate is valid for every name one label under its
// zone, so a wildcard name under a profile that needs no approval is a
// single-person path to a certificate for a governed name below it.
func TestWildcardNameCoveringAGovernedNameNeedsApproval(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.ungatedProfile("dev", "*.example.com")
	e.gatedProfile("prod", "www.example.com")
	s, err := e.svc.CreateCertificate(ctx, alice, domainCert(t, "wild", "dev", "*.example.com"))
	if err == nil {
		v := e.issued("wild", s.JobID)
		t.Fatalf("issued %v without approval; it verifies for the governed www.example.com: %v",
			leaf(t, v).DNSNames, leaf(t, v).VerifyHostname("www.example.com") == nil)
	}
	wantKind(t, "ungated wildcard over a governed name", err, domain.ErrConflict)
	// A name two labels down is not covered by the wildcard: no refusal.
	e.ungatedProfile("dev2", "*.example.net")
	e.gatedProfile("prod2", "a.b.example.net")
	if _, err := e.svc.CreateCertificate(ctx, alice, domainCert(t, "wild2", "dev2", "*.example.net")); err != nil {
		t.Fatalf("*.example.net does not cover a.b.example.net: %v", err)
	}
}

// The same check runs again at issue time: a wildcard job planned before a
// name under it was governed is refused, not signed.
func TestWildcardJobRefusedOnceANameUnderItIsGoverned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("dev", "*.example.com")
	s := e.newCert(alice, "wild", "dev", "*.example.com")
	e.gatedProfile("prod", "api.example.com")
	_, err := e.issue(s.JobID)
	wantKind(t, "issuing the wildcard after api.example.com was governed", err, domain.ErrConflict)
	if j := e.job(s.JobID); j.Status != domain.JobFailed || !strings.HasPrefix(j.Error, "issuance refused:") {
		t.Fatalf("job %s: %q, want failed with an issuance refusal", j.Status, j.Error)
	}
	if vs := e.versions("wild"); len(vs) != 0 {
		t.Fatalf("%d versions issued", len(vs))
	}
}

// Edits of a profile are decided by the pool of the profile as it stands,
// not by the pool the edit proposes.
func TestProfileEditsAreDecidedByTheCurrentPool(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.gatedProfileFrom(domain.ProfileInput{
		ID: "prod", Name: domain.Ptr("prod"), RequiresApproval: domain.Ptr(true), AllowedNames: names("**.example.com"),
		Approvers: &domain.ApproverPool{Principals: []string{"bob"}},
	})
	_, pending, err := e.svc.UpdateProfile(ctx, alice, "prod", domain.ProfileInput{Approvers: &domain.ApproverPool{Principals: []string{"carol"}}})
	if err != nil || pending == nil {
		t.Fatalf("edit: %+v %v", pending, err)
	}
	_, err = e.svc.Approve(ctx, carol, pending.ApprovalID, "")
	wantKind(t, "the proposed pool approves its own installation", err, domain.ErrForbidden)
	e.approve(bob, pending.ApprovalID)
	if p := e.profile("prod"); p.Approvers == nil || len(p.Approvers.Principals) != 1 || p.Approvers.Principals[0] != "carol" {
		t.Fatalf("pool after the approved edit: %+v", p.Approvers)
	}
}

// An approved gated edit changes the fields it edits and nothing else:
// who created the profile and when stay as they were.
func TestApprovedEditKeepsWhoCreatedTheProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	created := e.gatedProfile("prod", "a.example.com", "b.example.com")
	e.clock.Advance(time.Hour)
	edited := e.editProfile("prod", domain.ProfileInput{Name: domain.Ptr("renamed")})
	if edited.Name != "renamed" || edited.Version != created.Version+1 {
		t.Fatalf("edit not applied: %+v", edited)
	}
	if edited.CreatedBy != "alice" || !edited.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("created_by %q created_at %v after an approved edit, want alice and %v", edited.CreatedBy, edited.CreatedAt, created.CreatedAt)
	}
	if !edited.UpdatedAt.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("updated_at %v, want %v", edited.UpdatedAt, epoch.Add(time.Hour))
	}
}

// An admin may decide any profile edit whatever its pool (break glass), so
// a pool only its own members can satisfy never locks the profile; never
// their own edit, and certificate requests keep their pool.
func TestAdminBreaksGlassOnProfileEditsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	p := e.gatedProfileFrom(domain.ProfileInput{
		ID: "locked", Name: domain.Ptr("locked"), RequiresApproval: domain.Ptr(true), AllowedNames: names("**.locked.example.com"),
		Approvers: &domain.ApproverPool{Principals: []string{"bob"}},
	})
	s := e.newCert(alice, "c-locked", p.ID, "www.locked.example.com")
	_, err := e.svc.Approve(ctx, admin, s.ApprovalID, "")
	wantKind(t, "admin approving a certificate request outside the pool", err, domain.ErrForbidden)

	_, edit, err := e.svc.UpdateProfile(ctx, alice, p.ID, domain.ProfileInput{Name: domain.Ptr("renamed")})
	if err != nil || edit == nil {
		t.Fatalf("gated edit: %v %v", edit, err)
	}
	_, err = e.svc.Approve(ctx, carol, edit.ApprovalID, "")
	wantKind(t, "an approver outside the pool", err, domain.ErrForbidden)
	if _, err := e.svc.Approve(ctx, admin, edit.ApprovalID, "break glass"); err != nil {
		t.Fatalf("admin deciding a profile edit outside the pool: %v", err)
	}
	if got := e.profile(p.ID); got.Name != "renamed" {
		t.Fatalf("the edit was not applied: %+v", got)
	}
	// The admin's own edit still needs someone else.
	_, own, err := e.svc.UpdateProfile(ctx, admin, p.ID, domain.ProfileInput{Name: domain.Ptr("mine")})
	if err != nil || own == nil {
		t.Fatalf("admin's gated edit: %v %v", own, err)
	}
	_, err = e.svc.Approve(ctx, admin, own.ApprovalID, "")
	wantKind(t, "admin approving their own edit", err, domain.ErrSameActor)
}

// A name pattern that is a public suffix, or a wildcard directly over one,
// would cover a whole registry: refused, for every kind of profile.
func TestPublicSuffixPatternsAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, pat := range []string{"**.co.uk", "*.co.uk", "co.uk", "*.com", "**.com", "**.github.io", "*.s3.amazonaws.com"} {
		_, _, err := e.svc.CreateProfile(t.Context(), alice, domain.ProfileInput{
			ID: fmt.Sprintf("ps%d", i), Name: domain.Ptr("x"), RequiresApproval: domain.Ptr(true), AllowedNames: names(pat),
		})
		// (*.com and **.com were already refused for naming one label.)
		if err == nil || !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "public suffix") && !strings.Contains(err.Error(), "two labels") {
			t.Errorf("%s: %v, want a public-suffix refusal", pat, err)
		}
	}
	for i, pat := range []string{"**.example.co.uk", "*.example.com", "www.example.com", "**.example.github.io", "10.0.0.1"} {
		if _, _, err := e.svc.CreateProfile(t.Context(), alice, domain.ProfileInput{
			ID: fmt.Sprintf("ok%d", i), Name: domain.Ptr("x"), RequiresApproval: domain.Ptr(true), AllowedNames: names(pat),
		}); err != nil {
			t.Errorf("%s: %v", pat, err)
		}
	}
}
