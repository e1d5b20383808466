package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// GetApproval reads one approval request, task token included.
func (st *Store) GetApproval(ctx context.Context, id string) (*domain.Approval, error) {
	item, err := st.get(ctx, approvalKey(id), "approval "+id)
	if err != nil {
		return nil, err
	}
	return decode(item, (*approvalItem).toDomain)
}

// ListApprovals lists requests newest first; pending ones come from the
// sparse pending index, so the queue stays cheap however long history grows.
func (st *Store) ListApprovals(ctx context.Context, f domain.ApprovalFilter, page domain.PageRequest) ([]*domain.Approval, string, error) {
	q := st.listQuery(tagApproval)
	state := f.State
	if f.State == string(domain.ApprovalPending) {
		q = st.pendingQuery(pendingPartition, false)
		state = ""
	}
	q.filter = eqFilters(map[string]string{
		attrState:         state,
		attrKind:          f.Kind,
		attrProfileID:     f.ProfileID,
		attrCertificateID: f.CertificateID,
		attrRequestedBy:   f.RequestedBy,
	})
	return queryAs(ctx, st, q, page, decoder((*approvalItem).toDomain))
}

// pendingQuery reads one partition of the sparse pending index.
func (st *Store) pendingQuery(partition string, oldestFirst bool) query {
	return query{table: st.stateTable, index: IndexPending, key: keyOf(attrPendingPK).Equal(valueOf(s(partition))), forward: oldestFirst}
}

// queuedBefore reads one partition of the pending index, oldest first,
// up to cutoff.
func (st *Store) queuedBefore(partition string, cutoff time.Time) query {
	q := st.pendingQuery(partition, true)
	q.key = q.key.And(keyOf(attrPendingSK).LessThan(valueOf(s(SortTime(cutoff)))))
	return q
}

// PendingOlderThan pages through pending requests created before cutoff,
// oldest first.
func (st *Store) PendingOlderThan(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*domain.Approval, string, error) {
	return queryAs(ctx, st, st.queuedBefore(pendingPartition, cutoff), page, decoder((*approvalItem).toDomain))
}

// StoreTaskToken saves the token of the execution waiting on approval id,
// only while the request is pending. It returns the request as stored after
// the write, or — when the decision was recorded first — as decided, with
// stored=false, so the caller can hand the decision over itself.
func (st *Store) StoreTaskToken(ctx context.Context, id, token string) (a *domain.Approval, stored bool, err error) {
	in, err := st.updateInput(approvalKey(id), expression.Set(nameOf(attrTaskToken), valueOf(s(token))),
		exists(), equals(attrState, s(string(domain.ApprovalPending))))
	if err != nil {
		return nil, false, err
	}
	in.ReturnValues = types.ReturnValueAllNew
	var out *dynamodb.UpdateItemOutput
	err = st.write(ctx, "store task token for "+id, func() (err error) {
		out, err = st.db.UpdateItem(ctx, in)
		return err
	})
	if err == nil {
		a, err := decode(out.Attributes, (*approvalItem).toDomain)
		return a, true, err
	}
	if !errors.Is(err, workflow.ErrChanged) {
		return nil, false, err
	}
	a, err = st.GetApproval(ctx, id)
	return a, false, err
}

// Decide records a decision atomically: the request, its job, the
// certificate (when the job ends), the decision metrics and the audit row.
// The conditions enforce invariants: the request is still pending, the decider
// is not the requester (two-person integrity inside the write), the task
// token is unchanged since it was read, and the job is still waiting.
// workflow.ErrChanged means the caller must re-read and classify.
func (st *Store) Decide(ctx context.Context, d workflow.Decision) error {
	a := d.Approval
	upd := expression.Set(nameOf(attrState), valueOf(s(string(d.State)))).
		Set(nameOf(attrDecidedBy), valueOf(s(d.DecidedBy))).
		Set(nameOf(attrDecidedByType), valueOf(s(string(d.ActorType)))).
		Set(nameOf(attrDecidedAt), valueOf(s(stamp(d.At))))
	if d.Note != "" {
		upd = upd.Set(nameOf(attrNote), valueOf(s(d.Note)))
	}
	if d.Reason != "" {
		upd = upd.Set(nameOf(attrReason), valueOf(s(d.Reason)))
	}
	conds := []expression.ConditionBuilder{
		equals(attrState, s(string(domain.ApprovalPending))),
		nameOf(attrRequestedBy).NotEqual(valueOf(s(d.DecidedBy))),
	}
	if d.PinVotes {
		conds = append(conds, votesAsRead(len(a.Votes)))
	}
	if d.Votes != nil {
		votes, err := marshalValue(votesRecordOf(d.Votes))
		if err != nil {
			return err
		}
		upd = upd.Set(nameOf(attrVotes), valueOf(votes))
	}
	if a.TaskToken == "" {
		conds = append(conds, nameOf(attrTaskToken).AttributeNotExists())
	} else {
		conds = append(conds, equals(attrTaskToken, s(a.TaskToken)))
	}
	// A decision for a waiting execution leaves the request in the hand-off
	// queue, atomically with the decision: whoever sends it clears it, and
	// the reaper sends whatever a crash or an error left behind.
	if a.TaskToken != "" && a.JobID != "" {
		upd = upd.Set(nameOf(attrPendingPK), valueOf(s(handoffPartition))).
			Set(nameOf(attrPendingSK), valueOf(s(sortKey(d.At, a.ID))))
	} else {
		upd = upd.Remove(nameOf(attrPendingPK)).Remove(nameOf(attrPendingSK))
	}
	// It leaves its profile's pending partition and count; a move request
	// joins its certificate's moves.
	if pk, sk := decidedParent(a); pk != "" {
		upd = upd.Set(nameOf(attrParentPK), valueOf(s(pk))).Set(nameOf(attrParentSK), valueOf(s(sk)))
	} else {
		upd = upd.Remove(nameOf(attrParentPK)).Remove(nameOf(attrParentSK))
	}
	var t txn
	t.add(st.txUpdate(approvalKey(a.ID), upd, conds...))
	if a.Gauged {
		t.add(st.pendingCount(a.ProfileID, -1))
	}
	if a.JobID != "" {
		t.add(st.jobTransition(a.JobID, []domain.JobStatus{domain.JobAwaitingApproval}, d.JobStatus, d.JobError, d.At))
		if d.RestoreCert {
			t.add(st.restoreCert(a.CertificateID, a.JobID, d.CertSeen, a.PrevCertStatus, d.At, d.RetryAt))
		}
	}
	if d.Profile != nil {
		t.addAll(st.profileChange(d.Profile))
	}
	if d.Move != nil {
		t.addAll(st.moveDecisionItems(d.Move))
	}
	t.add(st.observeDecision(a.Kind, string(d.State), a.ProfileID, d.At.Sub(a.CreatedAt)))
	// A person's decision is independent of the requester; the vote that
	// completes a policy, of every voter before it too.
	var voters []string
	if d.Votes != nil {
		voters = actorsOf(a.Votes)
	}
	if !domain.IsSystemActor(d.DecidedBy) {
		t.addAll(st.independent(d.DecidedBy, append([]string{a.RequestedBy}, voters...)...))
	}
	audits := append([]*domain.AuditEvent{d.Audit}, d.MoreAudits...)
	if d.VoteAudit != nil {
		audits = append([]*domain.AuditEvent{d.VoteAudit}, audits...)
	}
	err := st.commitTxn(ctx, &t, audits...)
	if errors.Is(err, workflow.ErrChanged) && !domain.IsSystemActor(d.DecidedBy) {
		if refused := st.dependent(ctx, a.RequestedBy, d.DecidedBy); refused != nil {
			return refused
		}
		if refused := st.dependentVoter(ctx, a.ID, d.DecidedBy, voters); refused != nil {
			return refused
		}
	}
	return err
}

func actorsOf(votes []domain.Vote) []string {
	out := make([]string, len(votes))
	for i, v := range votes {
		out[i] = v.Actor
	}
	return out
}

// independent is the part of a decision's (or a vote's) condition that
// keeps actor apart from others (the requester, and for a vote the voters
// before it) beyond their ids: no two of them may control one another
// (have minted one of the other's keys; see domain.Principal.Controllers).
// Checked inside the write, like requested_by <> decided_by, so a key
// minted meanwhile cannot slip through. One check per principal item (a
// transaction may name an item once): actor's is controlled by none of
// others, and each of others' is not controlled by actor.
func (st *Store) independent(actor string, others ...string) ([]types.TransactWriteItem, error) {
	// actor among others (a requester deciding their own request, which
	// requested_by <> :by refuses) would name its item twice, which
	// DynamoDB refuses as invalid rather than as a failed condition.
	others = slices.Compact(slices.Sorted(slices.Values(slices.DeleteFunc(slices.Clone(others), func(o string) bool { return o == actor }))))
	if len(others) == 0 {
		return nil, nil
	}
	notControlledBy := func(who ...string) expression.ConditionBuilder {
		controlled := make([]expression.ConditionBuilder, len(who))
		for i, w := range who {
			controlled[i] = nameOf(attrControllers).Contains(w)
		}
		return or(nameOf(attrPK).AttributeNotExists(), expression.Not(or(controlled...)))
	}
	var t txn
	t.add(st.txCheck(principalKey(actor), notControlledBy(others...)))
	for _, o := range others {
		t.add(st.txCheck(principalKey(o), notControlledBy(actor)))
	}
	return t.items, t.err
}

// dependent says why a decision failed its independence check, or nil if it
// did not (the write failed for another reason).
func (st *Store) dependent(ctx context.Context, requester, decider string) error {
	for _, pair := range [][2]string{{decider, requester}, {requester, decider}} {
		p, err := st.GetPrincipal(ctx, pair[0])
		if err != nil {
			continue // absent (an IAM actor) or unreadable: not the reason
		}
		if p.Controls(pair[1]) {
			return &domain.Error{Kind: domain.KindForbidden, Public: fmt.Sprintf(
				"two-person integrity: %s can act as %s (it minted one of its keys), so neither may decide the other's requests", pair[1], pair[0])}
		}
	}
	return nil
}

// dependentVoter says why a vote failed its independence of the votes
// before it, or nil if it did not: the voter and an earlier voter can act
// as each other, so they are one person, who has voted.
func (st *Store) dependentVoter(ctx context.Context, approvalID, voter string, voters []string) error {
	for _, earlier := range voters {
		for _, pair := range [][2]string{{voter, earlier}, {earlier, voter}} {
			p, err := st.GetPrincipal(ctx, pair[0])
			if err != nil {
				continue
			}
			if p.Controls(pair[1]) {
				return domain.Conflictf("%s can act as %s (it minted one of its keys), who has already voted on approval %s: one vote per person",
					pair[1], pair[0], approvalID)
			}
		}
	}
	return nil
}

// Vote adds a vote that leaves the request pending, with its audit row.
// The conditions: the request is still pending, the voter is not the
// requester and neither controls the other, nor the voter and any earlier
// voter (one person, one vote), and its votes are exactly those read, so
// the workflow's checks (no second vote by the voter; this vote does not
// complete the policy) hold for what is stored. Concurrent votes therefore commit one
// at a time: each is classified against every vote before it, and only
// the vote that completes the policy, written by Decide, approves.
// workflow.ErrChanged means the caller must re-read and classify.
func (st *Store) Vote(ctx context.Context, b workflow.Ballot) error {
	a := b.Approval
	votes, err := marshalValue(votesRecordOf(append(slices.Clone(a.Votes), b.Vote)))
	if err != nil {
		return err
	}
	var t txn
	t.add(st.txUpdate(approvalKey(a.ID), expression.Set(nameOf(attrVotes), valueOf(votes)),
		equals(attrState, s(string(domain.ApprovalPending))),
		nameOf(attrRequestedBy).NotEqual(valueOf(s(b.Vote.Actor))),
		votesAsRead(len(a.Votes))))
	voters := actorsOf(a.Votes)
	t.addAll(st.independent(b.Vote.Actor, append([]string{a.RequestedBy}, voters...)...))
	err = st.commitTxn(ctx, &t, b.Audit)
	if errors.Is(err, workflow.ErrChanged) {
		if refused := st.dependent(ctx, a.RequestedBy, b.Vote.Actor); refused != nil {
			return refused
		}
		if refused := st.dependentVoter(ctx, a.ID, b.Vote.Actor, voters); refused != nil {
			return refused
		}
	}
	return err
}

// votesAsRead is the condition that a request's votes are the count
// read: votes are only ever appended, and only by a write pinned this
// way, so the count pins the list.
func votesAsRead(count int) expression.ConditionBuilder {
	if count == 0 {
		return nameOf(attrVotes).AttributeNotExists()
	}
	return nameOf(attrVotes).Size().Equal(valueOf(n(int64(count))))
}

func (st *Store) profileChange(c *workflow.ProfileChange) ([]types.TransactWriteItem, error) {
	ours := equals(attrPendingEditID, s(c.ApprovalID))
	unchanged := equals(attrVersion, n(c.BaseVersion))
	var t txn
	switch {
	case c.Create && c.Apply != nil:
		t.add(st.profileCreate(c.Apply))
	case c.Apply != nil:
		upd, err := profileFields(c.Apply, attrPendingEditID)
		if err != nil {
			return nil, err
		}
		t.add(st.txUpdate(profileKey(c.ID), upd, ours, unchanged))
	case c.Delete:
		t.add(st.txDelete(profileKey(c.ID), ours, unchanged, profileUnused()))
	case c.Create:
		return nil, nil // a rejected or expired create: nothing exists to release
	default:
		// Rejected or expired: release the one-pending-edit lock.
		t.add(st.txUpdate(profileKey(c.ID), expression.Remove(nameOf(attrPendingEditID)), ours))
		return t.items, t.err
	}
	t.addAll(st.governanceItems(c.Governance))
	return t.items, t.err
}

// jobTransition moves a job from one of from to status. A job that ends
// leaves the start queue (see workflow.NewJob).
func (st *Store) jobTransition(jobID string, from []domain.JobStatus, to domain.JobStatus, jobErr string, at time.Time) (types.TransactWriteItem, error) {
	return st.jobTransitionWith(jobID, from, to, jobErr, at, nil)
}

// jobTransitionWith is jobTransition with more for the update to write.
func (st *Store) jobTransitionWith(jobID string, from []domain.JobStatus, to domain.JobStatus, jobErr string, at time.Time,
	more func(expression.UpdateBuilder) expression.UpdateBuilder) (types.TransactWriteItem, error) {
	upd := expression.Set(nameOf(attrStatus), valueOf(s(string(to)))).
		Set(nameOf(attrUpdatedAt), valueOf(s(stamp(at))))
	if to.Terminal() {
		upd = upd.Set(nameOf(attrCompletedAt), valueOf(s(stamp(at))))
	}
	if jobErr != "" {
		upd = upd.Set(nameOf(attrError), valueOf(s(jobErr)))
	}
	if to.Terminal() {
		upd = upd.Remove(nameOf(attrPendingPK)).Remove(nameOf(attrPendingSK))
	}
	if more != nil {
		upd = more(upd)
	}
	was := make([]expression.ConditionBuilder, len(from))
	for i, f := range from {
		was[i] = equals(attrStatus, s(string(f)))
	}
	return st.txUpdate(jobKey(jobID), upd, or(was...))
}

// restoreCert ends the certificate's in-flight job and puts its status back,
// only if that job is still the one in flight and the status is still the
// one read (seen). Its due time moves to retryAt (it only counts while the
// certificate is in the due index). A certificate revoked or archived
// while the job was in flight keeps that status and stays out of the due
// index: only the job is released.
func (st *Store) restoreCert(certID, jobID string, seen, status domain.CertStatus, at, retryAt time.Time) (types.TransactWriteItem, error) {
	conds := []expression.ConditionBuilder{equals(attrCurrentJobID, s(jobID)), equals(attrStatus, s(string(seen)))}
	if seen.Retired() {
		upd := expression.Set(nameOf(attrUpdatedAt), valueOf(s(stamp(at)))).Remove(nameOf(attrCurrentJobID))
		return st.txUpdate(certKey(certID), upd, conds...)
	}
	upd := expression.Set(nameOf(attrStatus), valueOf(s(string(status)))).
		Set(nameOf(attrUpdatedAt), valueOf(s(stamp(at)))).
		Set(nameOf(attrDueSK), valueOf(s(dueSK(retryAt, certID)))).
		Remove(nameOf(attrCurrentJobID))
	return st.txUpdate(certKey(certID), upd, conds...)
}

// IsConditionFailed reports whether err is a failed condition.
func IsConditionFailed(err error) bool { return workflow.IsChanged(err) }

// PendingHandoffs pages through decided requests queued for delivery before
// cutoff, oldest first.
func (st *Store) PendingHandoffs(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*domain.Approval, string, error) {
	return queryAs(ctx, st, st.queuedBefore(handoffPartition, cutoff), page, decoder((*approvalItem).toDomain))
}

// ClearHandoff takes a request out of the hand-off queue.
func (st *Store) ClearHandoff(ctx context.Context, id string) error {
	return st.dequeue(ctx, "clear hand-off of "+id, approvalKey(id), handoffPartition)
}

// dequeue takes an item out of one partition of the pending index; it
// is harmless when the item has already left it.
func (st *Store) dequeue(ctx context.Context, what string, k itemKey, partition string) error {
	in, err := st.updateInput(k, expression.Remove(nameOf(attrPendingPK)).Remove(nameOf(attrPendingSK)), equals(attrPendingPK, s(partition)))
	if err != nil {
		return err
	}
	err = st.write(ctx, what, func() error {
		_, err := st.db.UpdateItem(ctx, in)
		return err
	})
	if errors.Is(err, workflow.ErrChanged) {
		return nil // already cleared (or, for a job, it has ended)
	}
	return err
}
