package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Publisher writes a version's PEM chain (leaf, then CA; never a private
// key) to a delivery target. Both writes replace what the target held.
type Publisher interface {
	PutParameter(ctx context.Context, name, value string) error
	PutSecret(ctx context.Context, name, value string) error
}

// DeliveryObserver is told about each delivery attempt and, after each
// reaper run, how many deliveries still wait.
type DeliveryObserver interface {
	Delivery(outcome string)
	DeliveryQueue(waiting int)
}

// Delivery outcomes, as observed.
const (
	deliveryOK     = "delivered"
	deliveryFailed = "failed"
)

// maxErrorLen bounds a delivery error kept on the job.
const maxErrorLen = 500

// DeliverIssued publishes the version a job just issued, if its profile
// names delivery targets. It never fails the issuance: a failed attempt is
// recorded on the job and retried by the reaper.
func (s *Service) DeliverIssued(ctx context.Context, certID, jobID string) {
	if s.Deliveries == nil || s.Publisher == nil {
		return
	}
	d, err := s.Deliveries.GetDelivery(ctx, certID, jobID)
	if errors.Is(err, domain.ErrNotFound) {
		return // no targets, or already delivered
	}
	if err != nil {
		s.log().WarnContext(ctx, "delivery: could not read the queued delivery; the reaper will deliver it", "job_id", jobID, "error", err)
		return
	}
	if _, err := s.deliver(ctx, d); err != nil {
		s.log().WarnContext(ctx, "delivery: recording the attempt failed; the reaper will try again", "job_id", jobID, "error", err)
	}
}

// DrainDeliveries retries every delivery queued longer than the hand-off
// grace period (younger ones belong to the issuance that queued them) and
// reports how many were delivered and failed, and how many still wait.
func (s *Service) DrainDeliveries(ctx context.Context) (delivered, failed, waiting int, err error) {
	if s.Deliveries == nil || s.Publisher == nil {
		return 0, 0, 0, nil
	}
	cutoff := s.now().Add(-s.handoffGrace())
	token := ""
	for {
		queued, next, err := s.Deliveries.PendingDeliveries(ctx, cutoff, domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return delivered, failed, waiting, err
		}
		for _, d := range queued {
			outcome, err := s.deliver(ctx, d)
			switch {
			case err != nil:
				failed++
				s.log().ErrorContext(ctx, "delivery: recording an attempt failed", "job_id", d.JobID, "error", err)
			case outcome == deliveryFailed:
				failed++
			case outcome == deliveryOK:
				delivered++
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	left, _, err := s.Deliveries.PendingDeliveries(ctx, cutoff, domain.PageRequest{Limit: reapPageSize})
	if err != nil {
		return delivered, failed, waiting, err
	}
	if o, ok := s.Observer.(DeliveryObserver); ok {
		o.DeliveryQueue(len(left))
	}
	return delivered, failed, len(left), nil
}

// deliver makes one attempt at a queued delivery. A version no longer the
// certificate's newest is superseded, not published (the newer version's
// own delivery publishes it); once published, if a newer version appeared
// meanwhile, that one is published too, so the targets end holding the
// newest. The outcome is recorded conditioned on the attempts read: of two
// concurrent attempts, one records.
func (s *Service) deliver(ctx context.Context, d *Delivery) (string, error) {
	cert, err := s.Deliveries.GetCertificate(ctx, d.CertificateID)
	if errors.Is(err, domain.ErrNotFound) {
		return "", nil // deleted with its certificate
	}
	if err != nil {
		return "", err
	}
	now := s.now()
	audit := func(action string, details map[string]any) *domain.AuditEvent {
		details["job_id"], details["serial_number"], details["attempts"] = d.JobID, d.SerialNumber, d.Attempts+1
		details["ssm_parameter"], details["secret"] = d.Targets.SSMParameter, d.Targets.Secret
		return &domain.AuditEvent{Actor: domain.SystemWorkflow, ActorType: domain.ActorSystem, Action: action,
			ResourceType: "certificate", ResourceID: d.CertificateID, Timestamp: now, Details: details}
	}
	if cert.SerialNumber != d.SerialNumber {
		err := s.Deliveries.EndDelivery(ctx, d, domain.DeliverySuperseded, now,
			audit(domain.AuditDeliverySuperseded, map[string]any{"newer_serial": cert.SerialNumber}))
		return domain.DeliverySuperseded, ignoreChanged(err)
	}
	v, err := s.Deliveries.GetVersion(ctx, d.CertificateID, d.JobID)
	if err != nil {
		return "", err
	}
	if v.RevokedAt != nil {
		// Revoked before it was published: publishing it now would hand
		// out a certificate relying parties must reject.
		err := s.Deliveries.EndDelivery(ctx, d, domain.DeliveryDropped, now,
			audit(domain.AuditDeliveryDropped, map[string]any{"reason": "the version was revoked before it was published"}))
		return domain.DeliveryDropped, ignoreChanged(err)
	}
	if err := s.writeTargets(ctx, d.Targets, v.PEMChain); err != nil {
		msg := err.Error()
		if len(msg) > maxErrorLen {
			msg = msg[:maxErrorLen] + "…"
		}
		var first *domain.AuditEvent
		if d.Attempts == 0 {
			first = audit(domain.AuditDeliveryFailed, map[string]any{"error": msg})
		}
		s.observeDelivery(deliveryFailed)
		s.log().WarnContext(ctx, "delivery failed; the reaper retries it", "job_id", d.JobID, "attempts", d.Attempts+1, "error", msg)
		return deliveryFailed, ignoreChanged(s.Deliveries.DeliveryFailed(ctx, d, msg, now, first))
	}
	if again, err := s.Deliveries.GetCertificate(ctx, d.CertificateID); err == nil && again.SerialNumber != d.SerialNumber {
		if err := s.publishNewest(ctx, d, again); err != nil {
			s.log().WarnContext(ctx, "delivery: publishing the newer version after an older one failed; its own delivery will", "job_id", d.JobID, "error", err)
		}
	}
	s.observeDelivery(deliveryOK)
	err = s.Deliveries.EndDelivery(ctx, d, domain.DeliveryDelivered, now, audit(domain.AuditDelivered, map[string]any{}))
	return deliveryOK, ignoreChanged(err)
}

// publishNewest publishes the certificate's newest version to d's targets.
func (s *Service) publishNewest(ctx context.Context, d *Delivery, cert *domain.Certificate) error {
	vs, err := allVersions(ctx, s.Deliveries, cert.ID)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.SerialNumber == cert.SerialNumber {
			return s.writeTargets(ctx, d.Targets, v.PEMChain)
		}
	}
	return fmt.Errorf("the newest version %s is not listed", cert.SerialNumber)
}

// writeTargets writes chain to every delivery target t names.
func (s *Service) writeTargets(ctx context.Context, t domain.DeliveryTargets, chain string) error {
	var errs []string
	if t.SSMParameter != "" {
		if err := s.Publisher.PutParameter(ctx, t.SSMParameter, chain); err != nil {
			errs = append(errs, "ssm_parameter "+t.SSMParameter+": "+err.Error())
		}
	}
	if t.Secret != "" {
		if err := s.Publisher.PutSecret(ctx, t.Secret, chain); err != nil {
			errs = append(errs, "secret "+t.Secret+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func (s *Service) observeDelivery(outcome string) {
	if o, ok := s.Observer.(DeliveryObserver); ok {
		o.Delivery(outcome)
	}
}

// ignoreChanged: a failed condition means another attempt recorded first.
func ignoreChanged(err error) error {
	if IsChanged(err) {
		return nil
	}
	return err
}
