package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/csr"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// MoveCertificate moves a certificate to another profile. Its names and
// key must be allowed by the target profile (the rules of create), and
// the target must issue from the same CA. A target that needs no approval
// may not issue a governed name (as for any job that needs no approval).
// Moving into, out of or between approval-tier profiles changes the gate:
// it is a certificate_move request (202, PendingEdit) decided by votes as
// any request is (never by its requester): under the policy of the gate it
// enters or leaves, and between two gates under both at once (every voter
// admitted by both policies, the votes satisfying both). Between
// two profiles that need no approval the move applies at once: both were
// opened by a second person, the names are allowed by the target and
// governed by no approval-tier profile, so it opens no path the requester
// did not already have. One move waits per certificate; a certificate
// with a job in flight, revoked or archived does not move.
func (s *Service) MoveCertificate(ctx context.Context, actor domain.Actor, certID string, in domain.MoveInput) (*domain.Certificate, *domain.PendingEdit, error) {
	if in.ProfileID == "" {
		return nil, nil, domain.Invalidf("profile_id is required: the profile to move the certificate to")
	}
	if err := domain.ValidateID("profile_id", in.ProfileID); err != nil {
		return nil, nil, err
	}
	if err := domain.ValidateReason(in.Reason); err != nil {
		return nil, nil, err
	}
	for attempt := 0; attempt < maxRetries; attempt++ {
		cert, err := s.Moves.GetCertificate(ctx, certID)
		if err != nil {
			return nil, nil, err
		}
		if cert.ProfileID == in.ProfileID {
			return cert, nil, nil // already there: nothing to change
		}
		if err := movable(cert); err != nil {
			return nil, nil, err
		}
		from, err := s.Moves.GetProfile(ctx, cert.ProfileID)
		if err != nil {
			return nil, nil, fmt.Errorf("move %s: its profile: %w", certID, err)
		}
		to, err := s.Moves.GetProfile(ctx, in.ProfileID)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, nil, domain.Invalidf("profile_id: profile %q does not exist", in.ProfileID)
		}
		if err != nil {
			return nil, nil, err
		}
		m, err := s.planMove(ctx, cert, from, to)
		if err != nil {
			return nil, nil, err
		}
		now := s.now()
		m.At = now
		if from.RequiresApproval || to.RequiresApproval {
			a := s.moveRequest(actor, cert, from, to, in.Reason, now)
			if err := satisfiableWithout(a, actor.ID); err != nil {
				return nil, nil, err
			}
			audit := &domain.AuditEvent{
				Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditMoveRequested,
				ResourceType: "approval", ResourceID: a.ID, Timestamp: now,
				Details: map[string]any{"certificate_id": cert.ID, "profile_id": to.ID, "from": a.Move.From, "to": a.Move.To, "reason": in.Reason},
			}
			s.noticeRequested(audit, a)
			err = s.Moves.RequestMove(ctx, cert, a, audit)
			if IsChanged(err) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			s.publish(ctx, audit)
			return nil, &domain.PendingEdit{Status: "pending_approval", ApprovalID: a.ID}, nil
		}
		err = s.Moves.MoveCertificate(ctx, *m, movedAudit(actor, m, "", "", in.Reason))
		if IsChanged(err) {
			continue // moved, renewed or re-profiled meanwhile: classify again
		}
		if err != nil {
			return nil, nil, err
		}
		moved, err := s.Moves.GetCertificate(ctx, certID)
		return moved, nil, err
	}
	return nil, nil, domain.Conflictf("certificate %s or its profiles are changing concurrently; retry", certID)
}

// movable says why a certificate cannot move now, if it cannot.
func movable(c *domain.Certificate) error {
	switch {
	case c.Retired():
		return domain.Conflictf("certificate %s is %s: it no longer moves", c.ID, c.Status)
	case c.CurrentJobID != "":
		return domain.Conflictf("certificate %s has job %s in flight: move it once the job has ended", c.ID, c.CurrentJobID)
	case c.PendingMoveID != "":
		return domain.Conflictf("certificate %s already has a move waiting for approval: %s", c.ID, c.PendingMoveID)
	}
	return nil
}

// planMove checks a move of cert from one profile to another against the
// target as it is now and returns it: the names and key allowed (the
// rules of create), the same issuer, and, for a target that needs no
// approval, no name governed (with the governance version that held).
func (s *Service) planMove(ctx context.Context, cert *domain.Certificate, from, to *domain.Profile) (*Move, error) {
	checked, err := csr.Check(cert.CSR, cert.CommonName, cert.SANs, to)
	if err != nil {
		return nil, domain.Invalidf("profile_id: profile %s does not allow this certificate: %s", to.ID, domain.PublicMessage(err))
	}
	if to.IssuerID != cert.IssuerID {
		return nil, domain.Conflictf("profile %s issues from %q, the certificate from %q: it cannot move there", to.ID, to.IssuerID, cert.IssuerID)
	}
	m := &Move{Cert: cert, From: from, To: to}
	if !to.RequiresApproval {
		v, err := ungoverned(ctx, s.Moves, subjectFor(cert, checked, to))
		if errors.Is(err, domain.ErrConflict) {
			return nil, domain.Conflictf("profile %s needs no approval and %s; the certificate cannot move there", to.ID, domain.PublicMessage(err))
		}
		if err != nil {
			return nil, err
		}
		m.Governance = &v
	}
	if cert.ExpiresAt != nil {
		renew := cert.ExpiresAt.Add(-time.Duration(to.RenewBeforeSeconds) * time.Second)
		m.RenewAt = &renew
	}
	return m, nil
}

// moveRequest is the certificate_move request for a gated move.
func (s *Service) moveRequest(actor domain.Actor, cert *domain.Certificate, from, to *domain.Profile, reason string, now time.Time) *domain.Approval {
	var dns, ips []string
	if checked, err := csr.Check(cert.CSR, cert.CommonName, cert.SANs, to); err == nil {
		dns = nonNil(checked.DNSNames)
		for _, ip := range checked.IPAddresses {
			ips = append(ips, ip.String())
		}
	}
	move := &domain.CertificateMove{From: domain.RefOf(from), To: domain.RefOf(to), CommonName: cert.CommonName, DNSNames: dns, IPAddresses: nonNil(ips)}
	// Decided by votes under a snapshot of the gate's policy, as any
	// request; between two gates, under both (see domain.Quorum).
	pool, policy := to.Approvers, to.Policy()
	switch {
	case !to.RequiresApproval:
		pool, policy = from.Approvers, from.Policy() // leaving a gate: the gate's own approvers decide
	case from.RequiresApproval:
		move.FromPolicy = from.Policy()
	}
	return &domain.Approval{
		ID:             newID("ar-"),
		Kind:           domain.KindCertificateMove,
		State:          domain.ApprovalPending,
		CertificateID:  cert.ID,
		ProfileID:      to.ID,
		RequestedBy:    actor.ID,
		RequestedType:  actor.Type,
		RequestReason:  reason,
		Move:           move,
		ApproverPool:   pool,
		ApprovalPolicy: policy,
		// Both profiles' people hear of it: each profile's targets, or the
		// stage's default for a profile that names none.
		Notify:    mergeNotify(s.recipients(from.Notify), s.recipients(to.Notify)),
		CreatedAt: now,
		ExpiresAt: now.Add(s.ApprovalTimeout),
	}
}

// mergeNotify is the union of notification target lists, sorted.
func mergeNotify(lists ...[]string) []string {
	out := slices.Concat(lists...)
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func movedAudit(actor domain.Actor, m *Move, approvalID, requestedBy, reason string) *domain.AuditEvent {
	return &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditCertificateMoved,
		ResourceType: "certificate", ResourceID: m.Cert.ID, Timestamp: m.At,
		Details: map[string]any{
			"from": m.From.ID, "to": m.To.ID, "from_gated": m.From.RequiresApproval, "to_gated": m.To.RequiresApproval,
			"to_version": m.To.Version, "approval_id": approvalID, "requested_by": requestedBy, "reason": reason,
			"governance_version": m.Governance,
		},
	}
}

// moveDecision fills in what an approval of a certificate_move request
// does, checked against everything as it is now: it returns why the move
// can no longer apply (stale: the request ends rejected) or an error to
// report (a job in flight: decide once it has ended).
func (s *Service) moveDecision(ctx context.Context, d *Decision) (stale string, err error) {
	a := d.Approval
	cert, err := s.Decisions.GetCertificate(ctx, a.CertificateID)
	if err != nil {
		return "", err
	}
	switch {
	case cert.PendingMoveID != a.ID || cert.ProfileID != a.Move.From.ID:
		return "stale move: the certificate is no longer where the request found it", nil
	case cert.Retired():
		return fmt.Sprintf("stale move: the certificate is %s", cert.Status), nil
	case cert.CurrentJobID != "":
		return "", domain.Conflictf("certificate %s has job %s in flight: decide this move once the job has ended", cert.ID, cert.CurrentJobID)
	}
	to, err := s.Decisions.GetProfile(ctx, a.Move.To.ID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return "stale move: the target profile no longer exists", nil
	case err != nil:
		return "", err
	case to.Version != a.Move.To.Version:
		return fmt.Sprintf("stale move: profile %s changed from version %d to %d since the move was requested", to.ID, a.Move.To.Version, to.Version), nil
	}
	from, err := s.Decisions.GetProfile(ctx, a.Move.From.ID)
	switch {
	case err != nil:
		return "", err
	case from.Version != a.Move.From.Version:
		// The request's policy was drawn from the source as it was; a gate
		// made stricter (or added) since must not be left under the old one.
		return fmt.Sprintf("stale move: profile %s changed from version %d to %d since the move was requested", from.ID, a.Move.From.Version, from.Version), nil
	}
	m, err := s.planMove(ctx, cert, from, to)
	switch {
	case errors.Is(err, domain.ErrInvalid), errors.Is(err, domain.ErrConflict):
		return "stale move: " + domain.PublicMessage(err), nil
	case err != nil:
		return "", err
	}
	m.At, m.ApprovalID = d.At, a.ID
	d.Move.Apply = m
	d.MoreAudits = append(d.MoreAudits, movedAudit(domain.Actor{ID: d.DecidedBy, Type: d.ActorType}, m, a.ID, a.RequestedBy, a.RequestReason))
	return "", nil
}
