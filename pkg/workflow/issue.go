package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/csr"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
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

// Issue signs the job's certificate. It is the single issuance choke point:
// it refuses any gated job whose request is not approved or bypassed, and the
// final transaction re-checks that, so no path issues without a decision.
func (s *Service) Issue(ctx context.Context, auth Authorities, in IssueInput) (*IssueOutput, error) {
	out, err := s.issue(ctx, auth, in.JobID)
	return out, retryable(err)
}

func (s *Service) issue(ctx context.Context, auth Authorities, jobID string) (*IssueOutput, error) {
	job, err := s.Store.GetJob(ctx, jobID)
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
		a, err := s.Store.GetApproval(ctx, job.ApprovalID)
		if err != nil {
			return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
		}
		if !a.State.AllowsIssuance() {
			return nil, domain.Forbiddenf("issue: job %s: approval %s is %s", job.ID, a.ID, a.State)
		}
	}
	now := s.now()
	if err := s.Store.MarkJobRunning(ctx, job.ID, now); err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	cert, err := s.Store.GetCertificate(ctx, job.CertificateID)
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	profile, err := s.Store.GetProfile(ctx, cert.ProfileID)
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	checked, err := csr.Check(job.CSR, cert.CommonName, cert.SANs, profile)
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	authority, err := auth.Authority(ctx, cert.IssuerID)
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	leaf, err := authority.Issue(ca.LeafRequest{
		CSR:         checked.Request,
		CommonName:  cert.CommonName,
		DNSNames:    checked.DNSNames,
		IPAddresses: checked.IPAddresses,
		Validity:    time.Duration(profile.MaxValiditySeconds) * time.Second,
		Now:         now,
	})
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: sign: %w", job.ID, err)
	}
	version := &domain.CertificateVersion{
		CertificateID:     cert.ID,
		JobID:             job.ID,
		SerialNumber:      leaf.SerialHex,
		NotBefore:         leaf.NotBefore,
		NotAfter:          leaf.NotAfter,
		FingerprintSHA256: leaf.FingerprintSHA256,
		PEMChain:          leaf.PEM + authority.CAPEM(),
		IssuedAt:          now,
	}
	c := store.Completion{
		Job:     job,
		Version: version,
		RenewAt: leaf.NotAfter.Add(-time.Duration(profile.RenewBeforeSeconds) * time.Second),
		CSR:     job.CSR,
		KeyAlg:  checked.KeyAlgorithm,
		Audit: &domain.AuditEvent{
			Actor: domain.SystemWorkflow, ActorType: domain.ActorSystem, Action: domain.AuditRenewalJobCompleted,
			ResourceType: "job", ResourceID: job.ID, Timestamp: now,
			Details: map[string]any{
				"certificate_id": cert.ID, "serial_number": leaf.SerialHex, "not_after": leaf.NotAfter,
				"approval_id": job.ApprovalID, "requested_by": job.RequestedBy,
			},
		},
	}
	if job.RequiresApproval {
		c.Approval = job.ApprovalID
	}
	err = s.Store.CompleteIssuance(ctx, c)
	if store.IsConditionFailed(err) {
		// A concurrent attempt may have completed the job; if so, its result stands.
		if again, getErr := s.Store.GetJob(ctx, job.ID); getErr == nil && again.Status == domain.JobCompleted {
			return s.issued(ctx, again)
		}
		return nil, domain.Conflictf("issue: job %s changed during issuance", job.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("issue: job %s: %w", job.ID, err)
	}
	s.log().InfoContext(ctx, "certificate issued", "job_id", job.ID, "certificate_id", cert.ID, "serial_number", leaf.SerialHex)
	return &IssueOutput{SerialNumber: leaf.SerialHex}, nil
}

// issued reports the result of an already completed job: a retried Issue
// after the first attempt committed but its answer was lost.
func (s *Service) issued(ctx context.Context, job *domain.Job) (*IssueOutput, error) {
	v, err := s.Store.GetVersion(ctx, job.CertificateID, job.ID)
	if err != nil {
		return nil, fmt.Errorf("issue: job %s is completed but its version cannot be read: %w", job.ID, err)
	}
	return &IssueOutput{SerialNumber: v.SerialNumber}, nil
}
