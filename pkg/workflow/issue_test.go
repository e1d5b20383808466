package workflow_test

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// What is signed is the job's subject, exactly what the approver was shown:
// its names (not the CSR's, which may name fewer and carry a subject of its
// own), its key, its validity and the usages of a TLS server certificate.
func TestIssueSignsExactlyTheApprovedSubject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "web.example.com", "www.example.com", "192.0.2.10")
	key := newKey(t, elliptic.P256())
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "web.example.com", Organization: []string{"Evil Corp"}, OrganizationalUnit: []string{"root CA"}},
		DNSNames: []string{"web.example.com"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.svc.CreateCertificate(t.Context(), alice, domain.CertificateInput{
		ID: "web", CommonName: "web.example.com", SANs: []string{"www.example.com", "192.0.2.10"}, ProfileID: "prod",
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
	})
	if err != nil {
		t.Fatal(err)
	}
	shown := e.approval(s.ApprovalID).Subject
	e.approve(bob, s.ApprovalID)
	v := e.issued("web", s.JobID)

	subject := e.job(s.JobID).Subject
	if !reflect.DeepEqual(shown, subject) {
		t.Fatalf("the job's subject %+v is not what the approver was shown %+v", subject, shown)
	}
	l := leaf(t, v)
	var ips []string
	for _, ip := range l.IPAddresses {
		ips = append(ips, ip.String())
	}
	spki := sha256.Sum256(l.RawSubjectPublicKeyInfo)
	switch {
	case l.Subject.CommonName != subject.CommonName || len(l.Subject.Organization)+len(l.Subject.OrganizationalUnit) != 0:
		t.Errorf("leaf subject %q, want CN=%s alone", l.Subject, subject.CommonName)
	case !slices.Equal(l.DNSNames, subject.DNSNames) || !slices.Equal(ips, subject.IPAddresses):
		t.Errorf("leaf names %v %v, approved %v %v", l.DNSNames, ips, subject.DNSNames, subject.IPAddresses)
	case hex.EncodeToString(spki[:]) != subject.PublicKeySHA256:
		t.Errorf("leaf key is not the approved key")
	case l.NotAfter.Sub(l.NotBefore) != time.Duration(subject.ValiditySeconds)*time.Second:
		t.Errorf("leaf lifetime %v, approved %ds", l.NotAfter.Sub(l.NotBefore), subject.ValiditySeconds)
	case l.IsCA || l.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(l.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}):
		t.Errorf("leaf usages: CA %v, %v %v", l.IsCA, l.KeyUsage, l.ExtKeyUsage)
	}
	if slices.Equal(subject.DNSNames, []string{"web.example.com"}) || len(subject.IPAddresses) != 1 {
		t.Fatalf("the subject must hold every requested name, not only the CSR's: %+v", subject)
	}
	roots := x509.NewCertPool()
	roots.AddCert(e.ca.auth.Cert)
	if _, err := l.Verify(x509.VerifyOptions{Roots: roots, DNSName: "www.example.com", CurrentTime: e.clock.Now()}); err != nil {
		t.Errorf("chain: %v", err)
	}
	c := e.cert("web")
	if c.Status != domain.CertActive || c.SerialNumber != v.SerialNumber || c.CurrentJobID != "" {
		t.Errorf("certificate after issuance: %+v", c)
	}
	if rows := e.rowsBy(s.JobID, domain.AuditRenewalJobCompleted); len(rows) != 1 || rows[0].Actor != domain.SystemWorkflow {
		t.Errorf("completion audit: %+v", rows)
	}
}

// A validity the profile widened after approval is not granted: the
// approved validity is the most a certificate gets.
func TestIssueNeverExceedsTheApprovedValidity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfileFrom(domain.ProfileInput{
		ID: "prod", Name: domain.Ptr("prod"), RequiresApproval: domain.Ptr(true), AllowedNames: names("**.example.com"),
		MaxValiditySeconds: domain.Ptr(int64(30 * 86400)), RenewBeforeSeconds: domain.Ptr(int64(10 * 86400)),
	})
	s := e.newCert(alice, "web", "prod", "web.example.com")
	e.approve(bob, s.ApprovalID)
	e.editProfile("prod", domain.ProfileInput{MaxValiditySeconds: domain.Ptr(int64(60 * 86400))})
	l := leaf(t, e.issued("web", s.JobID))
	if got := l.NotAfter.Sub(l.NotBefore); got != 30*24*time.Hour {
		t.Fatalf("lifetime %v: more than the 30 days approved", got)
	}
}

// A profile that shortened its maximum validity after approval shortens
// the certificate; it does not refuse it.
func TestIssueShortensToANarrowedValidity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.example.com")
	s := e.newCert(alice, "web", "prod", "web.example.com")
	e.approve(bob, s.ApprovalID)
	e.editProfile("prod", domain.ProfileInput{MaxValiditySeconds: domain.Ptr(int64(20 * 86400)), RenewBeforeSeconds: domain.Ptr(int64(5 * 86400))})
	l := leaf(t, e.issued("web", s.JobID))
	if got := l.NotAfter.Sub(l.NotBefore); got != 20*24*time.Hour {
		t.Fatalf("lifetime %v, want the profile's new 20-day maximum", got)
	}
}

// When the profile no longer allows what the job would issue, nothing is
// signed: the job fails with a reason that starts "issuance refused:", the
// certificate is restored, and the refusal is permanent (a conflict, not
// a retryable error).
func TestIssueRefusesWhatThePolicyNoLongerAllows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// setup returns the job to issue, after narrowing the policy.
		setup func(e *env) string
	}{
		{"a name withdrawn", func(e *env) string {
			e.gatedProfile("prod", "web.example.com", "www.example.com")
			s := e.newCert(alice, "web", "prod", "web.example.com", "www.example.com")
			e.approve(bob, s.ApprovalID)
			e.editProfile("prod", domain.ProfileInput{AllowedNames: names("web.example.com")})
			return s.JobID
		}},
		{"the key algorithm withdrawn", func(e *env) string {
			e.gatedProfileFrom(domain.ProfileInput{
				ID: "prod", Name: domain.Ptr("prod"), RequiresApproval: domain.Ptr(true), AllowedNames: names("**.example.com"),
				AllowedKeyAlgorithms: &[]string{domain.KeyECDSAP256, domain.KeyECDSAP384},
			})
			s := e.newCert(alice, "web", "prod", "web.example.com")
			e.approve(bob, s.ApprovalID)
			e.editProfile("prod", domain.ProfileInput{AllowedKeyAlgorithms: &[]string{domain.KeyECDSAP384}})
			return s.JobID
		}},
		{"another issuer", func(e *env) string {
			e.gatedProfile("prod", "**.example.com")
			s := e.newCert(alice, "web", "prod", "web.example.com")
			e.approve(bob, s.ApprovalID)
			// Only one issuer can be configured: the profile as read says another.
			e.st.getProfile = func(ctx context.Context, id string) (*domain.Profile, error) {
				p, err := e.st.Store.GetProfile(ctx, id)
				if p != nil {
					p.IssuerID = "other"
				}
				return p, err
			}
			return s.JobID
		}},
		{"a gate the job never passed", func(e *env) string {
			e.ungatedProfile("dev", "**.example.com")
			s := e.newCert(alice, "web", "dev", "web.example.com")
			if s.ApprovalID != "" {
				e.t.Fatal("an ungated profile asked for approval")
			}
			e.editProfile("dev", domain.ProfileInput{RequiresApproval: domain.Ptr(true)})
			return s.JobID
		}},
		{"a name governed since the job was made", func(e *env) string {
			e.ungatedProfile("dev", "**.example.com")
			s := e.newCert(alice, "web", "dev", "web.example.com")
			e.gatedProfile("prod", "web.example.com")
			return s.JobID
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			jobID := tc.setup(e)
			_, err := e.issue(jobID)
			wantKind(t, "issue", err, domain.ErrConflict)
			var retry *workflow.RetryableError
			if errors.As(err, &retry) {
				t.Fatalf("a refusal was made retryable: %v", err)
			}
			j := e.job(jobID)
			if j.Status != domain.JobFailed || !strings.HasPrefix(j.Error, "issuance refused: ") {
				t.Fatalf("job %s, error %q: want Failed with \"issuance refused: …\"", j.Status, j.Error)
			}
			if n := e.ca.Signed(); n != 0 || len(e.versions("web")) != 0 {
				t.Fatalf("signed %d, versions %d: a refused job was issued", n, len(e.versions("web")))
			}
			if c := e.cert("web"); c.Status != domain.CertFailed || c.CurrentJobID != "" {
				t.Fatalf("certificate not restored: %+v", c)
			}
			if rows := e.rowsBy(jobID, domain.AuditRenewalJobFailed); len(rows) != 1 {
				t.Fatalf("failure audit rows: %d", len(rows))
			}
		})
	}
}

// Issuing a job again (a retried task, a lost answer, two attempts at
// once) never stores a second certificate: every attempt reports the one
// version the job issued.
func TestIssueIsIdempotentByJob(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*env, *domain.Started) {
		e := newEnv(t)
		e.gatedProfile("prod", "**.example.com")
		s := e.newCert(alice, "web", "prod", "web.example.com")
		e.approve(bob, s.ApprovalID)
		return e, s
	}
	t.Run("again after completion", func(t *testing.T) {
		t.Parallel()
		e, s := setup(t)
		first := e.issued("web", s.JobID)
		again, err := e.issue(s.JobID)
		if err != nil || again.SerialNumber != first.SerialNumber {
			t.Fatalf("second issue: %+v %v, want serial %s", again, err, first.SerialNumber)
		}
		if n := e.ca.Signed(); n != 1 || len(e.versions("web")) != 1 {
			t.Fatalf("signed %d, versions %d", n, len(e.versions("web")))
		}
	})
	t.Run("the answer to the completion is lost", func(t *testing.T) {
		t.Parallel()
		e, s := setup(t)
		lost := true
		e.st.completeIssuance = func(ctx context.Context, c workflow.Completion) error {
			err := e.st.Store.CompleteIssuance(ctx, c)
			if err == nil && lost {
				lost = false
				return domain.Unavailable("a dependency is unavailable", errors.New("read timeout"))
			}
			return err
		}
		_, err := e.issue(s.JobID)
		var retry *workflow.RetryableError
		if !errors.As(err, &retry) {
			t.Fatalf("first attempt: %v, want a retryable error", err)
		}
		out, err := e.issue(s.JobID)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		vs := e.versions("web")
		if len(vs) != 1 || vs[0].SerialNumber != out.SerialNumber || e.ca.Signed() != 1 {
			t.Fatalf("versions %d (%s), answered %s, signed %d", len(vs), vs[0].SerialNumber, out.SerialNumber, e.ca.Signed())
		}
	})
	t.Run("two attempts at once", func(t *testing.T) {
		t.Parallel()
		e, s := setup(t)
		b := newBarrier(2)
		e.st.markJobRunning = func(ctx context.Context, jobID string, at time.Time) error {
			err := e.st.Store.MarkJobRunning(ctx, jobID, at)
			b.Wait() // both attempts claim the job before either signs
			return err
		}
		var wg sync.WaitGroup
		outs, errs := make([]*workflow.IssueOutput, 2), make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = e.svc.Issue(context.Background(), e.ca, workflow.IssueInput{JobID: s.JobID})
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("attempts: %v, %v", errs[0], errs[1])
		}
		vs := e.versions("web")
		if len(vs) != 1 || outs[0].SerialNumber != vs[0].SerialNumber || outs[1].SerialNumber != vs[0].SerialNumber {
			t.Fatalf("versions %d; answers %s and %s", len(vs), outs[0].SerialNumber, outs[1].SerialNumber)
		}
		if c := e.cert("web"); c.SerialNumber != vs[0].SerialNumber {
			t.Fatalf("certificate serial %s, version %s", c.SerialNumber, vs[0].SerialNumber)
		}
	})
}

// A gated job issues only once its request is approved (or bypassed):
// not while it waits, not after a rejection, not if the job was moved on
// behind the workflow's back, and not even if the request reads approved
// when the store says otherwise (the completion re-checks it).
func TestIssueRequiresTheApproval(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.gatedProfile("prod", "**.example.com")
	waiting := e.newCert(alice, "waiting", "prod", "waiting.example.com")
	_, err := e.issue(waiting.JobID)
	wantKind(t, "issue while awaiting approval", err, domain.ErrConflict)

	rejected := e.newCert(alice, "rejected", "prod", "rejected.example.com")
	if _, err := e.svc.Reject(ctx, bob, rejected.ApprovalID, "no"); err != nil {
		t.Fatal(err)
	}
	_, err = e.issue(rejected.JobID)
	wantKind(t, "issue after rejection", err, domain.ErrConflict)

	// A job made Pending behind the workflow's back, its request still pending.
	e.setJobStatus(waiting.JobID, domain.JobPending)
	_, err = e.issue(waiting.JobID)
	wantKind(t, "issue with the request pending", err, domain.ErrForbidden)
	if j := e.job(waiting.JobID); j.Status != domain.JobPending {
		t.Fatalf("the refused job moved: %s", j.Status)
	}

	// ... and the request read as approved, as a stale or forged read would.
	e.st.getApproval = func(ctx context.Context, id string) (*domain.Approval, error) {
		a, err := e.st.Store.GetApproval(ctx, id)
		if a != nil {
			a.State = domain.ApprovalApproved
		}
		return a, err
	}
	if _, err := e.issue(waiting.JobID); err == nil {
		t.Fatal("issued with the request still pending")
	}
	e.st.getApproval = nil
	if len(e.versions("waiting"))+len(e.versions("rejected")) != 0 {
		t.Fatal("a certificate was stored without an approval")
	}
	if j := e.job(waiting.JobID); j.Status == domain.JobCompleted {
		t.Fatal("job completed without an approval")
	}
	if a := e.approval(waiting.ApprovalID); a.State != domain.ApprovalPending {
		t.Fatalf("request: %s", a.State)
	}
	if c := e.cert("waiting"); c.Status == domain.CertActive || c.SerialNumber != "" {
		t.Fatalf("certificate activated: %+v", c)
	}
}

// The CSR a job carries must hold the key that was approved: a job whose
// CSR was swapped for another key is refused, not signed.
func TestIssueRefusesAKeyOtherThanTheApprovedOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.example.com")
	s := e.newCert(alice, "web", "prod", "web.example.com")
	e.approve(bob, s.ApprovalID)
	swapped := csrFor(t, newKey(t, elliptic.P256()), "web.example.com")
	e.st.getJob = func(ctx context.Context, id string) (*domain.Job, error) {
		j, err := e.st.Store.GetJob(ctx, id)
		if j != nil {
			j.CSR = swapped
		}
		return j, err
	}
	_, err := e.issue(s.JobID)
	wantKind(t, "issue with another key", err, domain.ErrConflict)
	if e.ca.Signed() != 0 || len(e.versions("web")) != 0 {
		t.Fatal("another key was signed")
	}
	if j := e.job(s.JobID); j.Status != domain.JobFailed || !strings.HasPrefix(j.Error, "issuance refused: ") {
		t.Fatalf("job %s %q", j.Status, j.Error)
	}
}

// A request people can judge: the reason given is kept on the job and the
// request and in the audit trail; the subject holds every name (the
// common name included), the key's algorithm and fingerprint, and for a
// renewal whether the key changed since the last version.
func TestRequestsPeopleCanJudge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.prod.example.com")
	in := domainCert(t, "web", "prod", "web.prod.example.com", "www.prod.example.com")
	in.Reason = "CHG-1: new site"
	s, err := e.svc.CreateCertificate(t.Context(), alice, in)
	if err != nil {
		t.Fatal(err)
	}
	a := e.approval(s.ApprovalID)
	if a.RequestReason != "CHG-1: new site" || e.job(s.JobID).RequestReason != "CHG-1: new site" {
		t.Fatalf("reason on request %q job %q", a.RequestReason, e.job(s.JobID).RequestReason)
	}
	if !slices.Contains(a.Subject.DNSNames, "web.prod.example.com") || !slices.Contains(a.Subject.DNSNames, "www.prod.example.com") ||
		a.Subject.KeyAlgorithm != domain.KeyECDSAP256 || len(a.Subject.PublicKeySHA256) != 64 || a.Subject.KeyChanged != nil {
		t.Fatalf("first issuance subject: %+v", a.Subject)
	}
	if rows := e.rowsBy(s.ApprovalID, domain.AuditApprovalRequested); len(rows) != 1 || rows[0].Details["reason"] != "CHG-1: new site" {
		t.Fatalf("approval_requested rows: %+v", rows)
	}
	e.approve(bob, s.ApprovalID)
	e.issued("web", s.JobID)

	// The same key.
	r, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{Reason: "yearly"})
	if err != nil {
		t.Fatal(err)
	}
	same := e.approval(r.ApprovalID).Subject
	if same.KeyChanged == nil || *same.KeyChanged || same.PreviousPublicKeySHA256 != same.PublicKeySHA256 || e.approval(r.ApprovalID).RequestReason != "yearly" {
		t.Fatalf("renewal with the same key: %+v", same)
	}
	if _, err := e.svc.Reject(t.Context(), bob, r.ApprovalID, "not yet"); err != nil {
		t.Fatal(err)
	}
	// A new key.
	r, err = e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{CSR: csrFor(t, newKey(t, elliptic.P384()), "web.prod.example.com", "www.prod.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	changed := e.approval(r.ApprovalID).Subject
	if changed.KeyChanged == nil || !*changed.KeyChanged || changed.PreviousPublicKeySHA256 != same.PublicKeySHA256 || changed.KeyAlgorithm != domain.KeyECDSAP384 {
		t.Fatalf("renewal with a new key: %+v", changed)
	}
	// Reasons are one line of at most 1 KB.
	for _, bad := range []string{strings.Repeat("x", 1025), "two\nlines", "bell\a", "rtl\u202e"} {
		_, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{Reason: bad})
		wantKind(t, "reason "+strconv.Quote(bad[:min(len(bad), 10)]), err, domain.ErrInvalid)
	}
	_, err = e.svc.CreateCertificate(t.Context(), alice, domain.CertificateInput{ID: "x", CommonName: "x.prod.example.com", ProfileID: "prod", CSR: "pem", Reason: "a\tb"})
	wantKind(t, "a tab in a create's reason", err, domain.ErrInvalid)
}
