package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/csr"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Authorities returns the CA for an issuer id.
type Authorities interface {
	Authority(ctx context.Context, issuerID string) (*ca.Authority, error)
}

// IssueInput is what the Issue state sends.
type IssueInput struct {
	JobID string `json:"job_id"`
}

// IssueOutput is the Issue state's result.
type IssueOutput struct {
	SerialNumber string `json:"serial_number"`
}

// IssuanceRefused is a refusal by policy whose job has already been failed
// with the reason: an outcome of the rules, not a failure of the workflow,
// so the issue function ends its execution normally (no failed-execution
// alarm) and the job says why.
type IssuanceRefused struct {
	JobID, Reason string
}

func (e *IssuanceRefused) Error() string { return "issue: job " + e.JobID + ": " + e.Reason }

// Is makes a refusal a conflict (409-class, permanent).
func (e *IssuanceRefused) Is(target error) bool { return target == domain.ErrConflict }

// Issue signs the job's certificate. It is the single issuance choke point:
// it refuses any gated job whose request is not approved or bypassed, and the
// final transaction re-checks that, so no path issues without a decision.
// It issues the job's subject (what was approved) and nothing else, and
// never more than the profile allows now: a shorter maximum validity
// shortens the certificate; a name, key algorithm or issuer the profile no
// longer allows, or a gate the job never passed, refuses it. A refusal
// fails the job here, with a message people can read; anything else is
// retryable, and the state machine's failure path ends the job if retries
// run out.
func (s *Service) Issue(ctx context.Context, auth Authorities, in IssueInput) (*IssueOutput, error) {
	out, err := s.issue(ctx, auth, in.JobID)
	var refused *policyRefusal
	if errors.As(err, &refused) {
		if ferr := s.failJob(context.WithoutCancel(ctx), in.JobID, "issuance refused: "+refused.reason); ferr != nil {
			s.log().ErrorContext(ctx, "issue: failing the refused job failed; the workflow's failure path will", "job_id", in.JobID, "error", ferr)
			return out, err
		}
		return out, &IssuanceRefused{JobID: in.JobID, Reason: refused.reason}
	}
	return out, retryable(err)
}

// policyRefusal is a job the profile, as it is now, does not allow to issue.
type policyRefusal struct {
	jobID, reason string
}

func (e *policyRefusal) Error() string { return "issue: job " + e.jobID + ": " + e.reason }

// Is makes a refusal a conflict (409-class, permanent).
func (e *policyRefusal) Is(target error) bool { return target == domain.ErrConflict }

func (s *Service) issue(ctx context.Context, auth Authorities, jobID string) (*IssueOutput, error) {
	job, err := s.Issuance.GetJob(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	if job.Status == domain.JobCompleted {
		return s.issued(ctx, job)
	}
	if job.Status.Terminal() || job.Status == domain.JobAwaitingApproval {
		return nil, domain.Conflictf("issue: job %s is %s", job.ID, job.Status)
	}
	if job.RequiresApproval {
		a, err := s.Issuance.GetApproval(ctx, job.ApprovalID)
		if err != nil {
			return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
		}
		if !a.State.AllowsIssuance() {
			return nil, domain.Forbiddenf("issue: job %s: approval %s is %s", job.ID, a.ID, a.State)
		}
	}
	subject := job.Subject
	if subject == nil {
		return nil, domain.Invalidf("issue: job %s has no subject", job.ID)
	}
	if err := s.notRetired(ctx, job); err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.Issuance.MarkJobRunning(ctx, job.ID, now); err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	profile, err := s.Issuance.GetProfile(ctx, job.ProfileID)
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	checked, validity, err := withinPolicy(job, subject, profile)
	if err != nil {
		return nil, err
	}
	var governance *int64
	if !job.RequiresApproval {
		v, err := ungoverned(ctx, s.Issuance, subject)
		switch {
		case errors.Is(err, domain.ErrConflict):
			return nil, &policyRefusal{jobID: job.ID, reason: err.Error()}
		case err != nil:
			return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
		}
		governance = &v
	}
	authority, err := auth.Authority(ctx, subject.IssuerID)
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	leaf, err := authority.Issue(ca.LeafRequest{
		CSR:         checked.Request,
		CommonName:  subject.CommonName,
		DNSNames:    checked.DNSNames,
		IPAddresses: checked.IPAddresses,
		Validity:    validity,
		KeyUsage:    subject.KeyUsage,
		ExtKeyUsage: subject.ExtKeyUsage,
		Now:         now,

		CRLDistributionPoints: s.publicURLs(subject.IssuerID, "crl"),
		IssuingCertificateURL: s.publicURLs(subject.IssuerID, "ca"),
	})
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: sign: %w", job.ID, err)
	}
	version := &domain.CertificateVersion{
		CertificateID:     job.CertificateID,
		JobID:             job.ID,
		SerialNumber:      leaf.SerialHex,
		NotBefore:         leaf.NotBefore,
		NotAfter:          leaf.NotAfter,
		FingerprintSHA256: leaf.FingerprintSHA256,
		PEMChain:          leaf.PEM + authority.CAPEM(),
		IssuedAt:          now,
		GovernanceVersion: governance,
	}
	c := Completion{
		Job:            job,
		Version:        version,
		RenewAt:        leaf.NotAfter.Add(-time.Duration(profile.RenewBeforeSeconds) * time.Second),
		CSR:            job.CSR,
		KeyAlg:         checked.KeyAlgorithm,
		ProfileVersion: profile.Version,
		Governance:     governance,
		Audit: &domain.AuditEvent{
			Actor: domain.SystemWorkflow, ActorType: domain.ActorSystem, Action: domain.AuditRenewalJobCompleted,
			ResourceType: "job", ResourceID: job.ID, Timestamp: now,
			Details: map[string]any{
				"certificate_id": job.CertificateID, "serial_number": leaf.SerialHex, "not_after": leaf.NotAfter,
				"approval_id": job.ApprovalID, "requested_by": job.RequestedBy, "validity_seconds": int64(validity.Seconds()),
			},
		},
	}
	if job.RequiresApproval {
		c.Approval = job.ApprovalID
	}
	if targets := profile.Delivery.For(job.CertificateID); targets != nil {
		c.Delivery = &Delivery{JobID: job.ID, CertificateID: job.CertificateID, SerialNumber: leaf.SerialHex, Targets: *targets, CreatedAt: now}
		c.Audit.Details["delivery"] = targets
	}
	s.noticeIssued(c.Audit, job, version)
	err = s.Issuance.CompleteIssuance(ctx, c)
	if IsChanged(err) {
		// A concurrent attempt may have completed the job; if so, its result stands.
		if again, getErr := s.Issuance.GetJob(ctx, job.ID); getErr == nil && again.Status == domain.JobCompleted {
			return s.issued(ctx, again)
		}
		// Revoked or archived while signing: refuse, never issue.
		if err := s.notRetired(ctx, job); err != nil {
			return nil, err
		}
		// The profile or name governance changed while signing: check again.
		return nil, fmt.Errorf("issue: job %s: policy changed during issuance; retrying", job.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	s.publish(ctx, c.Audit)
	s.log().InfoContext(ctx, "certificate issued", "job_id", job.ID, "certificate_id", job.CertificateID, "serial_number", leaf.SerialHex)
	s.DeliverIssued(context.WithoutCancel(ctx), job.CertificateID, job.ID)
	return &IssueOutput{SerialNumber: leaf.SerialHex}, nil
}

// notRetired refuses to issue for a certificate that was revoked or
// archived while its job waited: nothing is issued for it again. The
// issuance transaction checks the same inside its write.
func (s *Service) notRetired(ctx context.Context, job *domain.Job) error {
	cert, err := s.Issuance.GetCertificate(ctx, job.CertificateID)
	if err != nil {
		return fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	switch {
	case cert.Status == domain.CertRevoked && cert.RevokedAt != nil:
		return &policyRefusal{jobID: job.ID, reason: fmt.Sprintf("certificate %s was revoked (%s) at %s while this job was in flight; nothing was issued", cert.ID, cert.RevocationReason, cert.RevokedAt.Format(time.RFC3339))}
	case cert.Retired():
		return &policyRefusal{jobID: job.ID, reason: fmt.Sprintf("certificate %s became %s while this job was in flight; nothing was issued", cert.ID, cert.Status)}
	}
	return nil
}

// publicURLs is the URL of the issuer's CRL or CA certificate under the
// API's public URL, or none when the stack does not know its URL.
func (s *Service) publicURLs(issuerID, what string) []string {
	if s.PublicURL == "" {
		return nil
	}
	return []string{strings.TrimRight(s.PublicURL, "/") + "/api/v1/issuers/" + issuerID + "/" + what}
}

// withinPolicy checks the job's subject against its CSR and the profile as
// it is now, and returns the checked CSR and the validity to issue: the
// approved one, or the profile's maximum if that is now shorter.
func withinPolicy(job *domain.Job, subject *domain.Subject, profile *domain.Profile) (*csr.Checked, time.Duration, error) {
	refuse := func(format string, args ...any) error {
		return &policyRefusal{jobID: job.ID, reason: fmt.Sprintf(format, args...)}
	}
	if profile.RequiresApproval && !job.RequiresApproval {
		return nil, 0, refuse("profile %s now requires approval, which this job never asked for; renew to ask", profile.ID)
	}
	if subject.IssuerID != profile.IssuerID {
		return nil, 0, refuse("profile %s now issues from %q, not %q as requested; renew to ask again", profile.ID, profile.IssuerID, subject.IssuerID)
	}
	// The CSR is checked against the profile as it is now: key algorithm
	// and every name must still be allowed.
	checked, err := csr.Check(job.CSR, subject.CommonName, subject.Names(), profile)
	if err != nil {
		return nil, 0, refuse("%v", err)
	}
	if checked.PublicKeySHA256 != subject.PublicKeySHA256 {
		return nil, 0, refuse("the CSR's key is not the key that was requested")
	}
	ips := make([]string, len(checked.IPAddresses))
	for i, ip := range checked.IPAddresses {
		ips[i] = ip.String()
	}
	if !slices.Equal(checked.DNSNames, subject.DNSNames) || !slices.Equal(ips, subject.IPAddresses) || checked.KeyAlgorithm != subject.KeyAlgorithm {
		return nil, 0, refuse("the names or key do not match the subject that was requested")
	}
	validity := min(subject.ValiditySeconds, profile.MaxValiditySeconds)
	if validity <= 0 {
		return nil, 0, refuse("no validity left to issue")
	}
	return checked, time.Duration(validity) * time.Second, nil
}

// issued reports the result of an already completed job: a retried Issue
// after the first attempt committed but its answer was lost.
func (s *Service) issued(ctx context.Context, job *domain.Job) (*IssueOutput, error) {
	v, err := s.Issuance.GetVersion(ctx, job.CertificateID, job.ID)
	if err != nil {
		return nil, fmt.Errorf("issue: job %s is completed but its version cannot be read: %w", job.ID, err)
	}
	s.DeliverIssued(context.WithoutCancel(ctx), job.CertificateID, job.ID) // the first attempt's answer may have been lost before it delivered
	return &IssueOutput{SerialNumber: v.SerialNumber}, nil
}
