package workflow

import (
	"context"
	"errors"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// SweepResult summarises one sweep run.
type SweepResult struct {
	Started int `json:"started"`
	Skipped int `json:"skipped"`
	// Refused counts renewals policy does not allow; each is deferred a day
	// and audited, for a person to act on.
	Refused int `json:"refused"`
	Failed  int `json:"failed"`
	// Warned counts the certificates announced as expiring.
	Warned int `json:"expiry_warnings"`
}

// scheduler is the actor of scheduled renewals.
var scheduler = domain.Actor{ID: domain.SystemScheduler, Type: domain.ActorSystem}

// Sweep starts a renewal for every certificate whose renewal time has come,
// through the same Renew path as a manual renewal, so approval-tier profiles
// are gated. It reads only due certificates (the sparse due index).
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	profiles := map[string]*domain.Profile{} // one read per profile per run
	token := ""
	for {
		due, next, err := s.Requests.DueBefore(ctx, s.now(), domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return res, err
		}
		for _, c := range due {
			s.refreshStatus(ctx, c)
			profile, err := s.profileFor(ctx, profiles, c.ProfileID)
			if err == nil {
				// The index copy of the certificate is enough: the renewal's
				// conditional write refuses it if it is stale.
				_, err = s.renew(ctx, scheduler, c, profile, "", scheduledReason(c), true)
			}
			var refused *renewalRefused
			switch {
			case errors.As(err, &refused):
				res.Refused++
				s.deferRefused(ctx, c, refused)
			case errors.Is(err, domain.ErrConflict):
				res.Skipped++ // a renewal is already in flight, or it cannot be renewed
			case err != nil:
				res.Failed++
				s.log().ErrorContext(ctx, "sweep: could not start renewal", "certificate_id", c.ID, "error", err)
			default:
				res.Started++
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	warned, failed, err := s.warnExpiring(ctx, profiles)
	res.Warned, res.Failed = warned, res.Failed+failed
	if err != nil {
		return res, err
	}
	s.log().InfoContext(ctx, "sweep run", "started", res.Started, "skipped", res.Skipped, "refused", res.Refused,
		"expiry_warnings", res.Warned, "failed", res.Failed)
	if res.Failed > 0 {
		return res, errors.New("sweep: some renewals could not be started; they are retried on the next run")
	}
	return res, nil
}

// warnExpiring announces each issued certificate whose current version
// ends within ExpiryWarning and was not replaced by a newer one: once per
// version (the write takes it out of the expiry queue, and a newer version
// puts it back at its own end).
func (s *Service) warnExpiring(ctx context.Context, profiles map[string]*domain.Profile) (warned, failed int, err error) {
	if s.Notify.ExpiryWarning <= 0 {
		return 0, 0, nil
	}
	now := s.now()
	token := ""
	for {
		certs, next, err := s.Requests.ExpiringBefore(ctx, now.Add(s.Notify.ExpiryWarning), domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return warned, failed, err
		}
		for _, c := range certs {
			var notify []string
			if p, err := s.profileFor(ctx, profiles, c.ProfileID); err == nil {
				notify = p.Notify
			}
			audit := &domain.AuditEvent{
				Actor: domain.SystemScheduler, ActorType: domain.ActorSystem, Action: domain.AuditCertExpiring,
				ResourceType: "certificate", ResourceID: c.ID, Timestamp: now,
				Details: map[string]any{"serial_number": c.SerialNumber, "expires_at": c.ExpiresAt, "renewal_job_id": c.CurrentJobID},
			}
			s.noticeExpiring(audit, c, s.recipients(notify), now)
			err := s.Requests.WarnExpiring(ctx, c.ID, c.SerialNumber, audit)
			switch {
			case IsChanged(err):
				continue // replaced or announced meanwhile
			case err != nil:
				failed++
				s.log().ErrorContext(ctx, "sweep: could not announce an expiring certificate", "certificate_id", c.ID, "error", err)
				continue
			}
			warned++
			s.publish(ctx, audit)
		}
		if next == "" {
			return warned, failed, nil
		}
		token = next
	}
}

// scheduledReason is why the sweep asks: what approvers of a scheduled
// renewal see.
func scheduledReason(c *domain.Certificate) string {
	if c.ExpiresAt == nil {
		return "scheduled renewal"
	}
	return "scheduled renewal: the certificate expires at " + c.ExpiresAt.UTC().Format(time.RFC3339)
}

func (s *Service) profileFor(ctx context.Context, cache map[string]*domain.Profile, id string) (*domain.Profile, error) {
	if p, ok := cache[id]; ok {
		return p, nil
	}
	p, err := s.Requests.GetProfile(ctx, id)
	if err != nil {
		return nil, err
	}
	cache[id] = p
	return p, nil
}

// refreshStatus moves a due certificate to Expiring, or Expired once past
// its expiry, so its status tells the truth even while renewal waits for an
// approval. A lost race just leaves the status for the next sweep.
func (s *Service) refreshStatus(ctx context.Context, c *domain.Certificate) {
	now := s.now()
	to := domain.CertExpiring
	if c.ExpiresAt != nil && !now.Before(*c.ExpiresAt) {
		to = domain.CertExpired
	}
	if c.Status == to || (c.Status != domain.CertActive && c.Status != domain.CertExpiring) {
		return
	}
	audit := &domain.AuditEvent{
		Actor: domain.SystemScheduler, ActorType: domain.ActorSystem, Action: domain.AuditCertificateStatus,
		ResourceType: "certificate", ResourceID: c.ID, Timestamp: now,
		Details: map[string]any{"from": string(c.Status), "to": string(to), "expires_at": c.ExpiresAt},
	}
	err := s.Requests.SetCertStatus(ctx, c.ID, c.Status, to, now, audit)
	switch {
	case err == nil:
		c.Status = to
	case !IsChanged(err):
		s.log().WarnContext(ctx, "sweep: could not update certificate status", "certificate_id", c.ID, "error", err)
	}
}

// deferRefused takes a certificate whose renewal policy refuses out of the
// sweep for a day, and says why in the audit trail and the log.
func (s *Service) deferRefused(ctx context.Context, c *domain.Certificate, refused *renewalRefused) {
	now := s.now()
	s.log().WarnContext(ctx, "sweep: renewal refused by policy; deferred a day", "certificate_id", c.ID, "reason", refused.Error())
	audit := &domain.AuditEvent{
		Actor: domain.SystemScheduler, ActorType: domain.ActorSystem, Action: domain.AuditRenewalRefused,
		ResourceType: "certificate", ResourceID: c.ID, Timestamp: now,
		Details: map[string]any{"reason": refused.Error(), "retry_at": now.Add(RenewalRetryBackoff)},
	}
	if err := s.Requests.DeferRenewal(ctx, c.ID, now.Add(RenewalRetryBackoff), audit); err != nil && !IsChanged(err) {
		s.log().WarnContext(ctx, "sweep: could not defer the refused renewal", "certificate_id", c.ID, "error", err)
	}
}
