package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// FinalizeInput is what the ResolveTimeout and RecordFailure states send.
type FinalizeInput struct {
	Action     string          `json:"action"` // "timeout" or "fail"
	JobID      string          `json:"job_id"`
	ApprovalID string          `json:"approval_id"`
	Failure    json.RawMessage `json:"failure,omitempty"` // {"Error":…,"Cause":…} from a Catch
}

const viaWorkflowTimeout = "workflow-timeout"

// FinalizeOutput carries the outcome the Decision state routes on.
type FinalizeOutput struct {
	Outcome string `json:"outcome"`
}

// Finalize closes a job from the state machine's error paths. It is
// idempotent: Step Functions may deliver it more than once.
func (s *Service) Finalize(ctx context.Context, in FinalizeInput) (*FinalizeOutput, error) {
	switch in.Action {
	case "timeout":
		outcome, err := s.ExpireApproval(ctx, in.ApprovalID, viaWorkflowTimeout)
		if err != nil {
			return nil, err
		}
		return &FinalizeOutput{Outcome: outcome}, nil
	case "fail":
		if err := s.failJob(ctx, in.JobID, failureMessage(in.Failure)); err != nil {
			return nil, err
		}
		return &FinalizeOutput{Outcome: "failed"}, nil
	}
	return nil, fmt.Errorf("finalize: unknown action %q", in.Action)
}

// ExecutionEnded closes a job whose execution ended without finishing it:
// stopped by an operator, failed outside every Catch, or timed out. Step
// Functions reports each such end as an event (EventBridge "Step Functions
// Execution Status Change"); without this, the job would stay in flight
// and its certificate could never renew again. A job that already ended
// is left alone, so the event for an execution that ended normally (the
// Failed state after RecordFailure) changes nothing.
func (s *Service) ExecutionEnded(ctx context.Context, jobID, status string) error {
	if err := domain.ValidateID("job id", jobID); err != nil {
		return err
	}
	err := s.failJob(ctx, jobID, "the workflow execution ended ("+status+") before the job finished")
	if errors.Is(err, domain.ErrNotFound) {
		return nil // not a job's execution: nothing to close
	}
	return err
}

// RepairJob ends a job left in flight by an execution that is no longer
// running (an operator stopped it; it failed outside every Catch): the job
// fails, a pending request expires and the certificate is restored, audited
// under actor. Normally the execution's status-change event does this; the
// repair is for when that event was lost. A job whose execution still runs
// is refused: the workflow will finish it.
func (s *Service) RepairJob(ctx context.Context, actor domain.Actor, jobID string) (*domain.Job, error) {
	job, err := s.Closing.GetJob(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if job.Status.Terminal() {
		return nil, domain.Conflictf("job %s has already ended (%s); nothing to repair", jobID, job.Status)
	}
	status, err := s.Exec.Status(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if status == ExecutionRunning {
		return nil, domain.Conflictf("job %s: its execution is running and will finish it; nothing to repair", jobID)
	}
	msg := fmt.Sprintf("repaired by %s: the workflow execution had ended (%s) before the job finished", actor.ID, status)
	if err := s.failJobAs(ctx, actor, jobID, msg); err != nil {
		return nil, err
	}
	return s.Closing.GetJob(ctx, jobID)
}

// ExpireApproval moves a pending request to expired as system-reaper, its
// job to Cancelled ("approval expired") and its certificate back, in one
// transaction. If the request was decided first, it returns that decision
// instead, so a late approval still issues and a late rejection stays
// rejected: expiry never overrides a recorded decision, and never issues.
func (s *Service) ExpireApproval(ctx context.Context, id, via string) (outcome string, err error) {
	for attempt := 0; attempt < maxRetries; attempt++ {
		a, err := s.Decisions.GetApproval(ctx, id)
		if err != nil {
			return "", err
		}
		if a.State != domain.ApprovalPending {
			return string(a.State), nil
		}
		d := s.decision(a, domain.ApprovalExpired, domain.SystemReaper, domain.ActorSystem, "")
		d.Audit.Details["via"] = via
		d.PinVotes = true // its event reports the votes read
		s.noticeDecision(&d)
		if err := s.seeCert(ctx, &d); err != nil {
			return "", err
		}
		err = s.Decisions.Decide(ctx, d)
		if IsChanged(err) {
			continue
		}
		if err != nil {
			return "", err
		}
		s.observeDecision(d)
		if via != viaWorkflowTimeout { // that task has already closed
			s.handOff(ctx, a, string(d.State))
		}
		s.publish(ctx, d.Audit)
		return string(domain.ApprovalExpired), nil
	}
	return "", fmt.Errorf("expire approval %s: still changing after %d attempts", id, maxRetries)
}

// failJob ends a job as Failed, expiring its request if still pending and
// restoring its certificate. A job already finished is left alone.
func (s *Service) failJob(ctx context.Context, jobID, msg string) error {
	return s.failJobAs(ctx, workflowActor, jobID, msg)
}

// workflowActor is the system acting for the state machine.
var workflowActor = domain.Actor{ID: domain.SystemWorkflow, Type: domain.ActorSystem}

// failJobAs is failJob with the audit rows naming actor.
func (s *Service) failJobAs(ctx context.Context, actor domain.Actor, jobID, msg string) error {
	for attempt := 0; attempt < maxRetries; attempt++ {
		job, err := s.Closing.GetJob(ctx, jobID)
		if err != nil {
			return fmt.Errorf("fail job %s: %w", jobID, err)
		}
		if job.Status.Terminal() {
			return nil
		}
		now := s.now()
		f := Failure{Job: job, Status: domain.JobFailed, Error: msg, CertStatus: job.PrevCertStatus, At: now, RetryAt: now.Add(RenewalRetryBackoff)}
		if job.PrevCertStatus == domain.CertPending {
			f.CertStatus = domain.CertFailed // never issued: say so rather than look merely new
		}
		cert, err := s.Closing.GetCertificate(ctx, job.CertificateID)
		if err != nil {
			return fmt.Errorf("fail job %s: %w", jobID, err)
		}
		f.CertSeen = cert.Status
		if job.ApprovalID != "" {
			a, err := s.Closing.GetApproval(ctx, job.ApprovalID)
			if err != nil && !errors.Is(err, domain.ErrNotFound) {
				return fmt.Errorf("fail job %s: %w", jobID, err)
			}
			if a != nil && a.State == domain.ApprovalPending {
				f.ExpireApproval = a
			}
		}
		failedRow := &domain.AuditEvent{
			Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditRenewalJobFailed,
			ResourceType: "job", ResourceID: job.ID, Timestamp: now,
			Details: map[string]any{"certificate_id": job.CertificateID, "error": msg},
		}
		s.noticeFailed(failedRow, job, msg)
		f.Audits = []*domain.AuditEvent{failedRow}
		if a := f.ExpireApproval; a != nil {
			expired := &domain.AuditEvent{
				Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditApprovalExpired,
				ResourceType: "approval", ResourceID: a.ID, Timestamp: now,
				Details: map[string]any{
					"kind": string(a.Kind), "job_id": a.JobID, "certificate_id": a.CertificateID, "profile_id": a.ProfileID,
					"requested_by": a.RequestedBy, "state": string(domain.ApprovalExpired), "reason": msg,
					"pending_age_seconds": int64(now.Sub(a.CreatedAt).Seconds()),
				},
			}
			s.noticeDecided(expired, a, domain.ApprovalExpired, domain.SystemWorkflow, "", msg, now)
			f.Audits = append(f.Audits, expired)
		}
		err = s.Closing.FailJob(ctx, f)
		if IsChanged(err) {
			continue
		}
		if err == nil {
			if f.ExpireApproval != nil {
				s.observe(f.ExpireApproval.Kind, string(domain.ApprovalExpired), f.ExpireApproval.ProfileID, now.Sub(f.ExpireApproval.CreatedAt))
			}
			s.publish(ctx, f.Audits...)
		}
		return err
	}
	return fmt.Errorf("fail job %s: still changing after %d attempts", jobID, maxRetries)
}

// failureMessage is the job's error after the state machine's failure
// path: what people can act on, without the internals of the failing call
// (those are in the failing function's log). A refusal by the issue step
// failed the job itself, with its reason, before this runs.
func failureMessage(raw json.RawMessage) string {
	var f struct{ Error string }
	_ = json.Unmarshal(raw, &f)
	switch f.Error {
	case "States.Timeout", "Sandbox.Timedout":
		return "issuance failed: a step timed out; see the workflow's execution history"
	case "":
		return "workflow failed"
	}
	name := f.Error
	if len(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		name = "an unnamed error"
	}
	return "issuance failed: a step kept failing after its retries (" + name + "); see the function logs for this job"
}
