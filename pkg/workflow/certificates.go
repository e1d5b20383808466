package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/csr"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// CreateCertificate registers a certificate and starts its issuance job at
// once, gated by the profile exactly like a renewal.
func (s *Service) CreateCertificate(ctx context.Context, actor domain.Actor, in domain.CertificateInput) (*domain.Started, error) {
	if in.ID == "" {
		in.ID = newID("mc-")
	}
	if err := domain.ValidateID("id", in.ID); err != nil {
		return nil, err
	}
	if in.ProfileID == "" {
		return nil, domain.Invalidf("profile_id is required")
	}
	if in.CSR == "" {
		return nil, domain.Invalidf("csr is required (PEM CERTIFICATE REQUEST)")
	}
	if err := domain.ValidateReason(in.Reason); err != nil {
		return nil, err
	}
	profile, err := s.Requests.GetProfile(ctx, in.ProfileID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, domain.Invalidf("profile_id: profile %q does not exist", in.ProfileID)
	}
	if err != nil {
		return nil, err
	}
	checked, err := csr.Check(in.CSR, in.CommonName, in.SANs, profile)
	if err != nil {
		return nil, err
	}
	now := s.now()
	cert := &domain.Certificate{
		ID:           in.ID,
		CommonName:   in.CommonName,
		SANs:         nonNil(in.SANs),
		ProfileID:    profile.ID,
		IssuerID:     profile.IssuerID,
		Status:       domain.CertPending,
		CSR:          in.CSR,
		KeyAlgorithm: checked.KeyAlgorithm,
		CreatedBy:    actor.ID,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	plan, err := s.planJob(ctx, actor, cert, profile, domain.JobIssuance, in.CSR, checked, domain.CertPending, in.Reason)
	if err != nil {
		return nil, err
	}
	plan.nj.Audits = append([]*domain.AuditEvent{{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditCertificateCreated,
		ResourceType: "certificate", ResourceID: cert.ID, Timestamp: now,
		Details: map[string]any{"common_name": cert.CommonName, "sans": cert.SANs, "profile_id": cert.ProfileID, "reason": in.Reason},
	}}, plan.nj.Audits...)
	if err := s.Requests.CreateCertificate(ctx, plan.queued()); err != nil {
		return nil, err
	}
	s.observeBypass(plan)
	s.publish(ctx, plan.nj.Audits...)
	started, err := s.startExecution(ctx, plan)
	if err != nil {
		return nil, err
	}
	started.Certificate = cert
	return started, nil
}

// Renew starts a renewal job for a certificate, optionally with a new CSR
// and a reason. Manual renewals and the scheduled sweep both come through
// here, so every issuance path passes the same gate.
func (s *Service) Renew(ctx context.Context, actor domain.Actor, certID string, in domain.RenewInput) (*domain.Started, error) {
	if err := domain.ValidateReason(in.Reason); err != nil {
		return nil, err
	}
	cert, err := s.Requests.GetCertificate(ctx, certID)
	if err != nil {
		return nil, err
	}
	return s.renew(ctx, actor, cert, nil, in.CSR, in.Reason, false)
}

// renew starts a renewal of cert as read by the caller. profile may be nil
// (it is read) or a copy the caller already holds. Neither can be stale in
// effect: the job is written only if the certificate still has the status
// read and no job in flight, and the profile is still at the version read.
// fromIndex says cert came from the due index and may lag behind the table.
func (s *Service) renew(ctx context.Context, actor domain.Actor, cert *domain.Certificate, profile *domain.Profile, newCSR, reason string, fromIndex bool) (*domain.Started, error) {
	switch {
	case cert.CurrentJobID != "":
		return nil, domain.Conflictf("certificate %q already has job %s in flight", cert.ID, cert.CurrentJobID)
	case cert.Status == domain.CertRevoked || cert.Status == domain.CertArchived:
		return nil, domain.Conflictf("certificate %q is %s and cannot be renewed", cert.ID, cert.Status)
	}
	if profile == nil {
		var err error
		if profile, err = s.Requests.GetProfile(ctx, cert.ProfileID); err != nil {
			return nil, fmt.Errorf("profile of certificate %s: %w", cert.ID, err)
		}
	}
	pemCSR := cert.CSR
	if newCSR != "" {
		pemCSR = newCSR
	}
	// The profile may have tightened since the CSR was accepted: check again.
	checked, err := csr.Check(pemCSR, cert.CommonName, cert.SANs, profile)
	if err != nil {
		return nil, &renewalRefused{err}
	}
	jobType := domain.JobRenewal
	if cert.ExpiresAt == nil {
		jobType = domain.JobIssuance
	}
	plan, err := s.planJob(ctx, actor, cert, profile, jobType, pemCSR, checked, cert.Status, reason)
	if err != nil {
		return nil, err
	}
	if jobType == domain.JobRenewal {
		keyChange(plan.nj.Job.Subject, cert.CSR)
	}
	if fromIndex && cert.RenewAt != nil {
		plan.nj.ExpectRenewAt = cert.RenewAt
	}
	if err := s.Requests.StartRenewal(ctx, plan.queued()); err != nil {
		return nil, err
	}
	s.observeBypass(plan)
	s.publish(ctx, plan.nj.Audits...)
	return s.startExecution(ctx, plan)
}

// renewalRefused is a renewal policy does not allow as the certificate
// stands: a person has to act (a new CSR, another profile, an approval-tier
// profile for a governed name). It keeps the kind of its cause.
type renewalRefused struct{ err error }

func (e *renewalRefused) Error() string { return e.err.Error() }
func (e *renewalRefused) Unwrap() error { return e.err }

type jobPlan struct {
	nj    NewJob
	input ExecutionInput
}

// queued returns the job write with the execution input attached, so the
// job enters the start queue atomically with its creation.
func (p jobPlan) queued() NewJob {
	raw, _ := json.Marshal(p.input) // plain strings, numbers and bools
	p.nj.StartInput = string(raw)
	return p.nj
}

// subjectFor is what a job issues: every name the checked request carries,
// its key, the profile's validity, issuer and the usages of a TLS server
// certificate for the key.
func subjectFor(cert *domain.Certificate, checked *csr.Checked, profile *domain.Profile) *domain.Subject {
	ku, eku := ca.UsagesFor(checked.Request.PublicKey)
	ips := make([]string, len(checked.IPAddresses))
	for i, ip := range checked.IPAddresses {
		ips[i] = ip.String()
	}
	return &domain.Subject{
		CommonName: cert.CommonName, DNSNames: nonNil(checked.DNSNames), IPAddresses: ips,
		KeyAlgorithm: checked.KeyAlgorithm, PublicKeySHA256: checked.PublicKeySHA256,
		ValiditySeconds: profile.MaxValiditySeconds, IssuerID: profile.IssuerID,
		KeyUsage: ku, ExtKeyUsage: eku,
		ProfileID: profile.ID, ProfileVersion: profile.Version, ProfileName: profile.Name,
	}
}

// ungoverned checks that no approval-tier profile governs a name of the
// subject and returns the governance version that held; a job that needs
// no approval carries it into its write, so a governance change meanwhile
// refuses the write.
func ungoverned(ctx context.Context, gov governanceReader, subject *domain.Subject) (int64, error) {
	var patterns []domain.NamePattern
	var zones []string
	for _, name := range subject.Names() {
		patterns = append(patterns, domain.CoveringPatterns(name)...)
		if zone, ok := strings.CutPrefix(name, "*."); ok {
			zones = append(zones, zone)
		}
	}
	g, err := gov.ReadGovernance(ctx, patterns, zones)
	if err != nil {
		return 0, err
	}
	for _, name := range subject.Names() {
		for _, p := range domain.CoveringPatterns(name) {
			if g.Governed[p] {
				return 0, domain.Conflictf("%s is governed by an approval-tier profile (pattern %s): it can only be issued under a profile that requires approval", name, p)
			}
		}
		if zone, ok := strings.CutPrefix(name, "*."); ok {
			if child, governed := g.Children[zone]; governed {
				return 0, domain.Conflictf("%s covers %s, which an approval-tier profile governs: it can only be issued under a profile that requires approval", name, child)
			}
		}
	}
	return g.Version, nil
}

// planJob builds the job, the approval request when the profile is
// approval-tier, and their audit rows. A job that needs no approval first
// checks that none of its names is governed.
func (s *Service) planJob(ctx context.Context, actor domain.Actor, cert *domain.Certificate, profile *domain.Profile, jobType domain.JobType, pemCSR string, checked *csr.Checked, prev domain.CertStatus, reason string) (jobPlan, error) {
	subject := subjectFor(cert, checked, profile)
	var governance *int64
	if !profile.RequiresApproval {
		v, err := ungoverned(ctx, s.Requests, subject)
		if errors.Is(err, domain.ErrConflict) {
			return jobPlan{}, &renewalRefused{err}
		}
		if err != nil {
			return jobPlan{}, err
		}
		governance = &v
	}
	now := s.now()
	job := &domain.Job{
		ID:               newID("job-"),
		CertificateID:    cert.ID,
		ProfileID:        profile.ID,
		Type:             jobType,
		Status:           domain.JobPending,
		RequiresApproval: profile.RequiresApproval,
		RequestedBy:      actor.ID,
		Notify:           profile.Notify,
		RequestReason:    reason,
		Subject:          subject,
		CSR:              pemCSR,
		PrevCertStatus:   prev,
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	cert.CurrentJobID = job.ID
	nj := NewJob{Cert: cert, Job: job, ProfileVersion: profile.Version, Governance: governance}
	nj.Audits = append(nj.Audits, &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditRenewalTriggered,
		ResourceType: "job", ResourceID: job.ID, Timestamp: now,
		Details: map[string]any{"certificate_id": cert.ID, "type": string(jobType), "requires_approval": profile.RequiresApproval, "reason": reason},
	})
	input := ExecutionInput{JobID: job.ID, CertificateID: cert.ID, TimeoutSeconds: int64(s.ApprovalTimeout.Seconds())}
	if !profile.RequiresApproval {
		return jobPlan{nj: nj, input: input}, nil
	}
	a := &domain.Approval{
		ID:             newID("ar-"),
		Kind:           domain.KindCertIssuance,
		State:          domain.ApprovalPending,
		JobID:          job.ID,
		CertificateID:  cert.ID,
		ProfileID:      profile.ID,
		RequestedBy:    actor.ID,
		RequestedType:  actor.Type,
		RequestReason:  reason,
		Subject:        subject,
		PrevCertStatus: prev,
		ApproverPool:   profile.Approvers,
		ApprovalPolicy: profile.Policy(),
		Notify:         profile.Notify,
		CreatedAt:      now,
		ExpiresAt:      now.Add(s.ApprovalTimeout),
	}
	job.ApprovalID = a.ID
	input.ApprovalID = a.ID
	nj.Approval = a
	if s.Bypass {
		// Bypass decides at once, as the system, and says so in the audit
		// trail; no approval_requested row is written under the requester.
		a.State, a.DecidedBy, a.DecidedType, a.DecidedAt = domain.ApprovalBypassed, domain.SystemBypass, domain.ActorSystem, &now
		nj.Bypassed = true
		bypassed := &domain.AuditEvent{
			Actor: domain.SystemBypass, ActorType: domain.ActorSystem, Action: domain.AuditApprovalBypassed,
			ResourceType: "approval", ResourceID: a.ID, Timestamp: now,
			Details: map[string]any{"job_id": job.ID, "certificate_id": cert.ID, "profile_id": profile.ID, "requested_by": actor.ID},
		}
		s.noticeDecided(bypassed, a, domain.ApprovalBypassed, domain.SystemBypass, "", "", now)
		nj.Audits = append(nj.Audits, bypassed)
		return jobPlan{nj: nj, input: input}, nil
	}
	if err := satisfiableWithout(a, actor.ID); err != nil {
		return jobPlan{}, err
	}
	job.Status = domain.JobAwaitingApproval
	input.RequiresApproval = true
	requested := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditApprovalRequested,
		ResourceType: "approval", ResourceID: a.ID, Timestamp: now,
		Details: map[string]any{"job_id": job.ID, "certificate_id": cert.ID, "profile_id": profile.ID, "subject": a.Subject, "reason": reason},
	}
	s.noticeRequested(requested, a)
	nj.Audits = append(nj.Audits, requested)
	return jobPlan{nj: nj, input: input}, nil
}

// startExecution starts the job's execution. If Step Functions refuses, the
// job is failed (and a pending request expired) so nothing is left waiting
// for an execution that does not exist.
func (s *Service) startExecution(ctx context.Context, plan jobPlan) (*domain.Started, error) {
	job := plan.nj.Job
	started := &domain.Started{JobID: job.ID, Status: job.Status}
	if plan.nj.Approval != nil {
		started.ApprovalID = plan.nj.Approval.ID
	}
	err := s.Exec.Start(ctx, plan.input)
	if err == nil {
		if err := s.Requests.ClearStart(context.WithoutCancel(ctx), job.ID); err != nil {
			s.log().WarnContext(ctx, "execution started; clearing its start entry failed (the reaper will)", "job_id", job.ID, "error", err)
		}
		return started, nil
	}
	s.log().ErrorContext(ctx, "start execution failed; failing the job", "job_id", job.ID, "error", err)
	msg := "could not start the workflow: " + err.Error()
	if ferr := s.failJob(context.WithoutCancel(ctx), job.ID, msg); ferr != nil {
		s.log().ErrorContext(ctx, "failing the job after a start failure also failed", "job_id", job.ID, "error", ferr)
	}
	return nil, domain.Unavailable("could not start the workflow; nothing was left waiting, retry", err)
}

func (s *Service) observeBypass(plan jobPlan) {
	if plan.nj.Bypassed {
		s.observe(plan.nj.Approval.Kind, string(domain.ApprovalBypassed), plan.nj.Approval.ProfileID, 0)
	}
}

// keyChange records on a renewal's subject whether its key differs from
// the last version's: the certificate keeps the CSR its last version was
// issued for.
func keyChange(subject *domain.Subject, lastCSR string) {
	req, err := csr.Parse(lastCSR)
	if err != nil {
		return // nothing to compare with: leave it unsaid
	}
	sum := sha256.Sum256(req.RawSubjectPublicKeyInfo)
	prev := hex.EncodeToString(sum[:])
	changed := prev != subject.PublicKeySHA256
	subject.KeyChanged, subject.PreviousPublicKeySHA256 = &changed, prev
}

// satisfiableWithout refuses a request whose policy (or, for a move
// between approval-tier profiles, policies) its requester's own approver
// pools would have to satisfy: it could only ever expire (and a profile
// edit would hold the profile's one pending edit until then, a move the
// certificate's one pending move).
func satisfiableWithout(a *domain.Approval, requester string) error {
	if err := a.Quorum().Satisfiable(requester); err != nil {
		return domain.Conflictf("profile %s: %s", a.ProfileID, domain.PublicMessage(err))
	}
	return nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
