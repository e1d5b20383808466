package workflow_test

import (
	"context"
	"crypto/elliptic"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Every refusal carries the kind the API turns into its status: invalid
// (400), forbidden (403), not found (404), conflict (409). Nothing refused
// is stored.
func TestRefusalKinds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.gatedProfile("prod", "**.example.com")
	pending := e.pendingCert("pending")
	decided := e.pendingCert("decided")
	e.approve(bob, decided.ApprovalID)
	goodCSR := csrFor(t, newKey(t, elliptic.P256()), "new.example.com")
	cert := func(in domain.CertificateInput) func() error {
		return func() error { _, err := e.svc.CreateCertificate(ctx, alice, in); return err }
	}
	update := func(id string, in domain.ProfileInput) func() error {
		return func() error { _, _, err := e.svc.UpdateProfile(ctx, alice, id, in); return err }
	}
	for _, tc := range []struct {
		name string
		call func() error
		kind error
	}{
		{"reject without a note", func() error { _, err := e.svc.Reject(ctx, bob, pending.ApprovalID, " \t\n"); return err }, domain.ErrInvalid},
		{"a note too long", func() error {
			_, err := e.svc.Approve(ctx, bob, pending.ApprovalID, strings.Repeat("x", workflow.MaxNoteLen+1))
			return err
		}, domain.ErrInvalid},
		{"approve an unknown request", func() error { _, err := e.svc.Approve(ctx, bob, "ar-nope", ""); return err }, domain.ErrNotFound},
		{"reject an unknown request", func() error { _, err := e.svc.Reject(ctx, bob, "ar-nope", "no"); return err }, domain.ErrNotFound},
		{"read an unknown request", func() error { _, err := e.svc.GetApproval(ctx, "ar-nope"); return err }, domain.ErrNotFound},
		{"the requester approves", func() error { _, err := e.svc.Approve(ctx, alice, pending.ApprovalID, ""); return err }, domain.ErrForbidden},
		{"approve a decided request", func() error { _, err := e.svc.Approve(ctx, carol, decided.ApprovalID, ""); return err }, domain.ErrConflict},
		{"reject a decided request", func() error { _, err := e.svc.Reject(ctx, carol, decided.ApprovalID, "no"); return err }, domain.ErrConflict},
		{"list by an unknown state", func() error {
			_, _, err := e.svc.ListApprovals(ctx, bob, domain.ApprovalFilter{State: "maybe"}, domain.PageRequest{Limit: 10})
			return err
		}, domain.ErrInvalid},
		{"list by an unknown kind", func() error {
			_, _, err := e.svc.ListApprovals(ctx, bob, domain.ApprovalFilter{Kind: "any"}, domain.PageRequest{Limit: 10})
			return err
		}, domain.ErrInvalid},

		{"certificate without a profile", cert(domain.CertificateInput{CommonName: "new.example.com", CSR: goodCSR}), domain.ErrInvalid},
		{"certificate under an unknown profile", cert(domain.CertificateInput{CommonName: "new.example.com", ProfileID: "nope", CSR: goodCSR}), domain.ErrInvalid},
		{"certificate without a CSR", cert(domain.CertificateInput{CommonName: "new.example.com", ProfileID: "prod"}), domain.ErrInvalid},
		{"certificate with a bad id", cert(domain.CertificateInput{ID: "Bad/ID", CommonName: "new.example.com", ProfileID: "prod", CSR: goodCSR}), domain.ErrInvalid},
		{"certificate with a CSR that is no CSR", cert(domain.CertificateInput{CommonName: "new.example.com", ProfileID: "prod", CSR: "hello"}), domain.ErrInvalid},
		{"certificate for a name the profile does not allow", cert(domain.CertificateInput{CommonName: "new.example.org", ProfileID: "prod", CSR: csrFor(t, newKey(t, elliptic.P256()), "new.example.org")}), domain.ErrInvalid},
		{"certificate whose CSR names another name", cert(domain.CertificateInput{CommonName: "other.example.com", ProfileID: "prod", CSR: goodCSR}), domain.ErrInvalid},
		{"certificate with a taken id", cert(domain.CertificateInput{ID: "pending", CommonName: "new.example.com", ProfileID: "prod", CSR: goodCSR}), domain.ErrConflict},

		{"renew an unknown certificate", func() error { _, err := e.svc.Renew(ctx, alice, "nope", domain.RenewInput{}); return err }, domain.ErrNotFound},
		{"renew with a job in flight", func() error { _, err := e.svc.Renew(ctx, alice, "pending", domain.RenewInput{}); return err }, domain.ErrConflict},

		{"update an unknown profile", update("nope", domain.ProfileInput{Name: domain.Ptr("x")}), domain.ErrNotFound},
		{"update with another id in the body", update("prod", domain.ProfileInput{ID: "other", Name: domain.Ptr("x")}), domain.ErrInvalid},
		{"update to an unknown issuer", update("prod", domain.ProfileInput{IssuerID: domain.Ptr("other")}), domain.ErrInvalid},
		{"update to a zero validity", update("prod", domain.ProfileInput{MaxValiditySeconds: domain.Ptr(int64(0))}), domain.ErrInvalid},
		{"delete an unknown profile", func() error { _, err := e.svc.DeleteProfile(ctx, alice, "nope"); return err }, domain.ErrNotFound},
		{"create an approval-tier profile with a taken id", func() error {
			_, _, err := e.svc.CreateProfile(ctx, alice, domain.ProfileInput{ID: "prod", Name: domain.Ptr("again"), RequiresApproval: domain.Ptr(true), AllowedNames: names("a.example.net")})
			return err
		}, domain.ErrConflict},
		{"ask for a profile with a taken id", func() error {
			_, _, err := e.svc.CreateProfile(ctx, alice, domain.ProfileInput{ID: "prod", Name: domain.Ptr("again"), AllowedNames: names("a.example.net")})
			return err
		}, domain.ErrConflict},
		{"create a profile without names", func() error {
			_, _, err := e.svc.CreateProfile(ctx, alice, domain.ProfileInput{ID: "empty", Name: domain.Ptr("empty"), RequiresApproval: domain.Ptr(true)})
			return err
		}, domain.ErrInvalid},

		{"issue an unknown job", func() error { _, err := e.issue("job-nope"); return err }, domain.ErrNotFound},
		{"issue a job awaiting approval", func() error { _, err := e.issue(pending.JobID); return err }, domain.ErrConflict},
		{"await without a token", func() error {
			return e.svc.AwaitApproval(ctx, workflow.AwaitInput{ApprovalID: pending.ApprovalID})
		}, domain.ErrInvalid},
		{"an execution event for a bad job id", func() error { return e.svc.ExecutionEnded(ctx, "../x", "ABORTED") }, domain.ErrInvalid},
		{"repair an unknown job", func() error { _, err := e.svc.RepairJob(ctx, admin, "job-nope"); return err }, domain.ErrNotFound},
	} {
		wantKind(t, tc.name, tc.call(), tc.kind)
	}
	for _, id := range []string{"new", "empty"} {
		if _, err := e.st.Store.GetCertificate(ctx, id); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("refused certificate %s stored: %v", id, err)
		}
	}
	if p := e.profile("prod"); p.Version != 1 || p.Name != "gated prod" || p.PendingEditID != "" {
		t.Fatalf("refused edits changed the profile: %+v", p)
	}
	if a := e.approval(pending.ApprovalID); a.State != domain.ApprovalPending {
		t.Fatalf("refused decisions decided: %+v", a)
	}
	// An execution that is not a job's is nothing to close.
	if err := e.svc.ExecutionEnded(ctx, "job-nope", "ABORTED"); err != nil {
		t.Fatalf("execution event for no job: %v", err)
	}
}

// Workflow tasks tell the state machine what to retry: a failing
// dependency is retryable, a refusal is not.
func TestTaskErrorsSayWhetherToRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.example.com")
	s := e.newCert(alice, "web", "prod", "web.example.com")
	var retry *workflow.RetryableError

	_, err := e.issue(s.JobID) // awaiting approval: a refusal
	if err == nil || errors.As(err, &retry) {
		t.Fatalf("a refusal: %v, want a permanent error", err)
	}
	e.approve(bob, s.ApprovalID)
	e.st.getJob = func(context.Context, string) (*domain.Job, error) {
		return nil, domain.Unavailable("a dependency is unavailable", errors.New("throttled"))
	}
	_, err = e.issue(s.JobID)
	if !errors.As(err, &retry) || !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("a failing store: %v, want a retryable error keeping its kind", err)
	}
	// Lambda names the error type after the Go type; the state machine retries that name.
	if name := reflect.TypeOf(retry).Elem().Name(); name != workflow.ErrorTypeRetryable {
		t.Fatalf("Lambda reports %q, the state machine retries %q", name, workflow.ErrorTypeRetryable)
	}
	e.st.getJob = nil
	e.issued("web", s.JobID)
}
