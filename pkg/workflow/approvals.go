package workflow

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// MaxNoteLen bounds a decision note.
const MaxNoteLen = 2000

// Approve approves a pending request as actor.
func (s *Service) Approve(ctx context.Context, actor domain.Actor, id, note string) (*domain.Decision, error) {
	return s.decide(ctx, actor, id, domain.ApprovalApproved, note)
}

// Reject rejects a pending request as actor; a note saying why is required.
func (s *Service) Reject(ctx context.Context, actor domain.Actor, id, note string) (*domain.Decision, error) {
	if strings.TrimSpace(note) == "" {
		return nil, domain.Invalidf("note is required when rejecting")
	}
	return s.decide(ctx, actor, id, domain.ApprovalRejected, note)
}

// maxDecideRounds bounds how often a decision re-reads its request. A
// write that fails its condition means something committed first:
// another vote (at most MaxRequiredApprovals of them) or decision, the
// task token; or a transaction conflict outlasted the store's retries.
const maxDecideRounds = maxRetries + domain.MaxRequiredApprovals

// decide records a vote or a decision. An approval is a vote: it is
// added to the request's votes on its own (Vote) while the policy still
// needs more, and the vote that satisfies the policy approves (Decide),
// with the job, metric and audit effects, and alone hands the decision
// over. A rejection decides at once. Each is written only if the request
// still has the votes it was classified against, so concurrent votes are
// counted one after another and exactly one completes the policy. A
// decision is recorded first (one transaction), then handed to the
// waiting execution; if the token is not stored yet, the approval-wait
// function finds the decision and hands it over itself.
func (s *Service) decide(ctx context.Context, actor domain.Actor, id string, state domain.ApprovalState, note string) (*domain.Decision, error) {
	if len(note) > MaxNoteLen {
		return nil, domain.Invalidf("note must be at most %d characters", MaxNoteLen)
	}
	for attempt := 0; attempt < maxDecideRounds; attempt++ {
		a, err := s.Decisions.GetApproval(ctx, id)
		if err != nil {
			return nil, err
		}
		eligible, err := decidable(a, actor)
		if err != nil {
			return nil, err
		}
		d := s.decision(a, state, actor.ID, actor.Type, note)
		d.PinVotes = true
		if err := s.seeCert(ctx, &d); err != nil {
			return nil, err
		}
		if state == domain.ApprovalApproved {
			quorum := a.Quorum()
			if !quorum.Counts(a.Votes, eligible) {
				return nil, wouldNotCount(a, actor, quorum)
			}
			v := domain.Vote{Actor: actor.ID, ActorType: actor.Type, At: d.At, Note: note, Eligible: eligible}
			votes := append(slices.Clone(a.Votes), v)
			ballot := Ballot{Approval: a, Vote: v, Audit: voteAudit(a, quorum, votes)}
			if !quorum.Satisfied(votes) {
				s.noticeVote(&ballot, votes)
				err := s.Decisions.Vote(ctx, ballot)
				if IsChanged(err) {
					continue // another vote or a decision came first: classify again
				}
				if err != nil {
					return nil, err
				}
				s.publish(ctx, ballot.Audit)
				return &domain.Decision{ID: a.ID, Action: domain.ActionVoted, State: domain.ApprovalPending, Missing: quorum.Missing(votes)}, nil
			}
			d.Votes, d.VoteAudit = votes, ballot.Audit
			// The vote that completes the quorum decides: what it applies
			// is checked against everything as it is now.
			if a.Kind == domain.KindCertificateMove {
				stale, err := s.moveDecision(ctx, &d)
				if err != nil {
					return nil, err
				}
				if stale != "" {
					return nil, s.rejectStale(ctx, a, stale)
				}
			}
			if d.Profile != nil {
				if err := s.stepGovernance(ctx, &d); err != nil {
					return nil, err
				}
			}
		}
		s.noticeDecision(&d)
		err = s.Decisions.Decide(ctx, d)
		if IsChanged(err) {
			if stale := s.staleEdit(ctx, a); stale != "" && state == domain.ApprovalApproved {
				return nil, s.rejectStale(ctx, a, stale)
			}
			// Decided, voted on, or the token arrived, between our read
			// and write: re-read and classify again.
			continue
		}
		if err != nil {
			return nil, err
		}
		s.observeDecision(d)
		s.handOff(ctx, a, string(d.State))
		s.publish(ctx, d.Audit)
		return &domain.Decision{ID: a.ID, Action: string(state), State: state, DecidedBy: actor.ID}, nil
	}
	return nil, domain.Conflictf("approval %s is changing concurrently; retry", id)
}

// decidable says why a request cannot be voted on or decided by actor,
// if it cannot, and otherwise names the factors of its quorum whose pools
// admit actor.
func decidable(a *domain.Approval, actor domain.Actor) ([]string, error) {
	if a.State != domain.ApprovalPending {
		return nil, domain.Conflictf("approval %s is already %s", a.ID, a.State)
	}
	if actor.Is(a.RequestedBy) {
		return nil, domain.ErrSameActor
	}
	if voted := a.VoteBy(actor); voted != "" {
		return nil, domain.Conflictf("%s has already voted on approval %s: one vote per person", voted, a.ID)
	}
	quorum := a.Quorum()
	// Break glass: an admin may vote on any profile edit, whatever the
	// pools (never their own: the check above comes first), so a pool no
	// one can satisfy can always be edited or deleted; the vote counts
	// toward any factor, once. Certificate requests (and moves) keep their
	// pools.
	if a.Kind == domain.KindProfileEdit && actor.Has(domain.RoleAdmin) {
		return quorum.Names(), nil
	}
	eligible := quorum.Eligible(actor)
	if len(eligible) == 0 {
		if i := quorum.Refusing(actor); i > 0 && a.Move != nil {
			return nil, domain.Forbiddenf("%s is in none of the approver pools of profile %s, which the certificate leaves (%s): a move between approval-tier profiles needs voters both admit",
				actor.ID, a.Move.From.ID, strings.Join(quorum[i].Names(), ", "))
		}
		policy := a.Policy()
		if len(policy) == 1 {
			return nil, domain.Forbiddenf("%s is not in the approver pool of profile %s", actor.ID, a.ProfileID)
		}
		return nil, domain.Forbiddenf("%s is in none of the approver pools of approval %s's policy (%s)", actor.ID, a.ID, strings.Join(policy.Names(), ", "))
	}
	return eligible, nil
}

// wouldNotCount refuses a vote the quorum cannot use: every factor the
// voter may count toward is already filled, whatever the assignment.
func wouldNotCount(a *domain.Approval, actor domain.Actor, quorum domain.Quorum) error {
	return domain.Conflictf("approval %s: a vote by %s would not count: the factors it may count toward (%s) already have their votes; still missing: %s",
		a.ID, actor.ID, strings.Join(quorum.Eligible(actor), ", "), quorum.Missing(a.Votes))
}

// voteAudit is the approval_vote row of the last of votes.
func voteAudit(a *domain.Approval, quorum domain.Quorum, votes []domain.Vote) *domain.AuditEvent {
	v := votes[len(votes)-1]
	return &domain.AuditEvent{
		Actor: v.Actor, ActorType: v.ActorType, Action: domain.AuditApprovalVote, ResourceType: "approval", ResourceID: a.ID, Timestamp: v.At,
		Details: map[string]any{
			"kind": string(a.Kind), "job_id": a.JobID, "certificate_id": a.CertificateID, "profile_id": a.ProfileID,
			"requested_by": a.RequestedBy, "note": v.Note, "eligible": v.Eligible, "factor": quorum.Factors(votes)[len(votes)-1],
			"votes": len(votes), "required": quorum.Total(), "completes": quorum.Satisfied(votes),
		},
	}
}

// decision builds the transition for a decision on a, including what happens
// to its job and certificate.
func (s *Service) decision(a *domain.Approval, state domain.ApprovalState, by string, byType domain.ActorType, note string) Decision {
	now := s.now()
	d := Decision{
		Approval: a, State: state, DecidedBy: by, ActorType: byType, Note: note, At: now,
		RetryAt: now.Add(RenewalRetryBackoff),
	}
	action := map[domain.ApprovalState]string{
		domain.ApprovalApproved: domain.AuditApprovalApproved,
		domain.ApprovalRejected: domain.AuditApprovalRejected,
		domain.ApprovalExpired:  domain.AuditApprovalExpired,
	}[state]
	switch state {
	case domain.ApprovalApproved:
		d.JobStatus = domain.JobPending
	case domain.ApprovalRejected:
		d.JobStatus, d.JobError, d.RestoreCert = domain.JobCancelled, "approval rejected: "+note, true
	case domain.ApprovalExpired:
		d.JobStatus, d.JobError, d.RestoreCert, d.Reason = domain.JobCancelled, "approval expired", true, "approval expired"
	}
	d.Audit = &domain.AuditEvent{
		Actor: by, ActorType: byType, Action: action, ResourceType: "approval", ResourceID: a.ID, Timestamp: now,
		Details: map[string]any{
			"kind": string(a.Kind), "job_id": a.JobID, "certificate_id": a.CertificateID, "profile_id": a.ProfileID,
			"requested_by": a.RequestedBy, "note": note, "state": string(state),
			"pending_age_seconds": int64(now.Sub(a.CreatedAt).Seconds()),
		},
	}
	switch a.Kind {
	case domain.KindProfileEdit:
		d.JobStatus, d.JobError, d.RestoreCert = "", "", false
		s.profileEditDecision(&d, note)
	case domain.KindCertificateMove:
		// Rejected or expired, it only releases the certificate; an
		// approval is filled in by moveDecision, against what is now.
		d.JobStatus, d.JobError, d.RestoreCert = "", "", false
		d.Move = &MoveChange{CertID: a.CertificateID, ApprovalID: a.ID}
	}
	return d
}

// noticeVote attaches Approval Vote Recorded to the row of a vote that
// leaves the request pending: the request with votes (those read and this
// one), what is still missing.
func (s *Service) noticeVote(b *Ballot, votes []domain.Vote) {
	withVote := *b.Approval
	withVote.Votes = votes
	s.noticeVoted(b.Audit, &withVote, b.Vote)
}

// noticeDecision attaches the decision's event to its audit row. The
// event of the vote that completes a policy is this one, with the votes
// including it; that vote's own approval_vote row carries none (one
// transition, one event), and is named first, so that it sorts before
// the decision's row, as the store would have named it.
func (s *Service) noticeDecision(d *Decision) {
	if d.VoteAudit != nil && d.VoteAudit.ID == "" {
		d.VoteAudit.ID = ulid.Make().String()
	}
	a := d.Approval
	if d.Votes != nil {
		withVote := *a
		withVote.Votes = d.Votes
		a = &withVote
	}
	s.noticeDecided(d.Audit, a, d.State, d.DecidedBy, d.Note, d.Reason, d.At)
}

// seeCert reads the certificate a decision restores, so the restore is
// conditioned on its status (and leaves a revoked one revoked).
func (s *Service) seeCert(ctx context.Context, d *Decision) error {
	if !d.RestoreCert {
		return nil
	}
	c, err := s.Decisions.GetCertificate(ctx, d.Approval.CertificateID)
	if err != nil {
		return err
	}
	d.CertSeen = c.Status
	return nil
}

// handOff sends a recorded decision to the waiting execution and takes it
// out of the hand-off queue. Failure here loses nothing: Decide queued the
// request atomically with the decision, and the reaper sends it again (at
// the latest, the execution's timeout path reads the decision back).
func (s *Service) handOff(ctx context.Context, a *domain.Approval, outcome string) {
	if a.TaskToken == "" || a.JobID == "" {
		return
	}
	err := s.Exec.SendDecision(ctx, a.TaskToken, outcome)
	if err != nil && !errors.Is(err, ErrTokenUnknown) {
		s.log().ErrorContext(ctx, "decision recorded but hand-off to the execution failed; the reaper will send it again",
			"approval_id", a.ID, "job_id", a.JobID, "outcome", outcome, "error", err)
		return
	}
	if err := s.Decisions.ClearHandoff(context.WithoutCancel(ctx), a.ID); err != nil {
		s.log().WarnContext(ctx, "decision delivered; clearing its hand-off entry failed (the reaper will clear it)", "approval_id", a.ID, "error", err)
	}
}

// redeliver sends queued decisions to their executions again. Entries
// younger than HandoffGrace are left to the request that queued them.
func (s *Service) redeliver(ctx context.Context) (sent, failed int, err error) {
	token := ""
	cutoff := s.now().Add(-s.handoffGrace())
	for {
		queued, next, err := s.Queues.PendingHandoffs(ctx, cutoff, domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return sent, failed, err
		}
		for _, a := range queued {
			err := s.Exec.SendDecision(ctx, a.TaskToken, string(a.State))
			if err != nil && !errors.Is(err, ErrTokenUnknown) {
				failed++
				s.log().ErrorContext(ctx, "redelivery failed; will retry", "approval_id", a.ID, "error", err)
				continue
			}
			if err := s.Queues.ClearHandoff(ctx, a.ID); err != nil {
				failed++
				continue
			}
			sent++
		}
		if next == "" {
			return sent, failed, nil
		}
		token = next
	}
}

// GetApproval reads one request for display.
func (s *Service) GetApproval(ctx context.Context, id string) (*domain.ApprovalView, error) {
	a, err := s.Decisions.GetApproval(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.view(a), nil
}

// view is what the API shows of a request: its policy (a request stored
// before policies existed shows the one it has), its votes with the
// factor each counts toward (for a move between approval-tier profiles,
// one in each policy), and while it is pending what it still needs.
func (s *Service) view(a *domain.Approval) *domain.ApprovalView {
	end := s.now()
	if a.DecidedAt != nil {
		end = *a.DecidedAt
	}
	a.ApprovalPolicy = a.Policy()
	quorum := a.Quorum()
	if a.Votes == nil {
		a.Votes = []domain.Vote{}
	}
	quorum.Assign(a.Votes)
	v := &domain.ApprovalView{Approval: a, PendingAgeSeconds: int64(end.Sub(a.CreatedAt).Seconds()), RequiredApprovals: quorum.Total()}
	if a.State == domain.ApprovalPending {
		v.Missing = quorum.Missing(a.Votes)
	}
	return v
}

// canVote reports whether actor may vote on a now, and the vote would
// count.
func canVote(a *domain.Approval, actor domain.Actor) bool {
	if !actor.Has(domain.RoleApprover) {
		return false
	}
	eligible, err := decidable(a, actor)
	return err == nil && a.Quorum().Counts(a.Votes, eligible)
}

// ListApprovals lists requests, validating the filters. CanVote keeps the
// pending requests actor can vote on (and whose policy its vote would
// count toward): a filter applied to each page read, so a page may hold
// fewer items than its limit, as with every filter.
func (s *Service) ListApprovals(ctx context.Context, actor domain.Actor, f domain.ApprovalFilter, page domain.PageRequest) ([]*domain.ApprovalView, string, error) {
	if f.CanVote {
		if f.State != "" && f.State != string(domain.ApprovalPending) {
			return nil, "", domain.Invalidf("can_vote lists pending requests only; leave state out or set it to pending")
		}
		f.State = string(domain.ApprovalPending)
	}
	if f.State != "" {
		if _, ok := domain.ParseApprovalState(f.State); !ok {
			return nil, "", domain.Invalidf("state must be one of pending, approved, rejected, expired, bypassed")
		}
	}
	if f.Kind != "" {
		if _, ok := domain.ParseApprovalKind(f.Kind); !ok {
			return nil, "", domain.Invalidf("kind must be cert_issuance, profile_edit or certificate_move")
		}
	}
	items, next, err := s.Decisions.ListApprovals(ctx, f, page)
	if err != nil {
		return nil, "", err
	}
	out := make([]*domain.ApprovalView, 0, len(items))
	for _, a := range items {
		if f.CanVote && !canVote(a, actor) {
			continue
		}
		out = append(out, s.view(a))
	}
	return out, next, nil
}
