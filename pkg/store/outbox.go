package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// The transactional outbox: commit writes an audit row's notice as an
// OUTBOX item in the row's own transaction, so an event exists if and only
// if its transition committed. The function that committed publishes it
// and deletes the item; the reaper publishes what is left after the grace
// period (same id: consumers deduplicate on it).

// outboxPut is the transaction item that queues n. Its key is new: the
// notice's id is its audit row's, unique to the transaction.
func (st *Store) outboxPut(n *domain.Notice) (types.TransactWriteItem, error) {
	item, err := marshalItem(outboxItemOf(n))
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return st.putNew(item)
}

// ClearOutbox deletes a published event's outbox item; deleting one
// already gone is harmless.
func (st *Store) ClearOutbox(ctx context.Context, id string) error {
	in := &dynamodb.DeleteItemInput{TableName: aws.String(st.stateTable), Key: outboxKey(id).av()}
	return st.write(ctx, "clear outbox entry "+id, func() error {
		_, err := st.db.DeleteItem(ctx, in)
		return err
	})
}

// PendingOutbox pages through events queued before cutoff, oldest first.
func (st *Store) PendingOutbox(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]domain.Notice, string, error) {
	return queryAs(ctx, st, st.queuedBefore(outboxPartition, cutoff), page, decoder((*outboxItem).toDomain))
}

// pendingCount is the transaction item that moves a profile's count of
// pending requests by delta (ADD: concurrent requests never lose a count).
func (st *Store) pendingCount(profileID string, delta int64) (types.TransactWriteItem, error) {
	upd := expression.Add(nameOf(attrCount), valueOf(n(delta))).
		Set(nameOf(attrProfileID), valueOf(s(profileID))).
		Set(nameOf(attrListPK), valueOf(s(pendingCountPartition))).
		Set(nameOf(attrListSK), valueOf(s(profileID)))
	return st.txUpdate(pendingCountKey(profileID), upd)
}

// RemindPending records a reminder and/or an escalation of a request, only
// while it is pending, each only once, and while it has the votes read
// (its events report them), with the audit rows (and so the events) in
// the same transaction.
func (st *Store) RemindPending(ctx context.Context, r workflow.Reminder) error {
	conds := []expression.ConditionBuilder{equals(attrState, s(string(domain.ApprovalPending))), votesAsRead(len(r.Approval.Votes))}
	var upd expression.UpdateBuilder
	set := false
	if r.Number > 0 {
		upd = upd.Set(nameOf(attrReminders), valueOf(n(int64(r.Number))))
		conds = append(conds, or(nameOf(attrReminders).AttributeNotExists(), nameOf(attrReminders).LessThan(valueOf(n(int64(r.Number))))))
		set = true
	}
	if r.Escalate {
		upd = upd.Set(nameOf(attrEscalatedAt), valueOf(s(stamp(r.At))))
		conds = append(conds, nameOf(attrEscalatedAt).AttributeNotExists())
		set = true
	}
	if !set {
		return fmt.Errorf("store: a reminder of %s that sends nothing", r.Approval.ID)
	}
	var t txn
	t.add(st.txUpdate(approvalKey(r.Approval.ID), upd, conds...))
	return st.commitTxn(ctx, &t, r.Audits...)
}

// ExpiringBefore pages through certificates in the expiry queue whose
// current version ends before t, soonest first.
func (st *Store) ExpiringBefore(ctx context.Context, t time.Time, page domain.PageRequest) ([]*domain.Certificate, string, error) {
	return queryAs(ctx, st, st.queuedBefore(expiryPartition, t), page, decoder((*certItem).toDomain))
}

// WarnExpiring takes a certificate out of the expiry queue with the audit
// row (and event) of its warning, if serial is still its current version.
func (st *Store) WarnExpiring(ctx context.Context, certID, serial string, audit *domain.AuditEvent) error {
	var t txn
	t.add(st.txUpdate(certKey(certID), expression.Remove(nameOf(attrPendingPK)).Remove(nameOf(attrPendingSK)),
		equals(attrPendingPK, s(expiryPartition)), equals(attrSerialNumber, s(serial))))
	return st.commitTxn(ctx, &t, audit)
}

// maxGaugeProfiles bounds one read of the pending gauges: one Query of the
// counters, then one single-item Query per profile with requests pending.
const maxGaugeProfiles = 100

// PendingGauges reads how many requests each profile has pending (the
// counters its transactions maintain) and, for each with any, when its
// oldest was made (the first item of its by_parent partition). The work is
// bounded by the number of profiles, never by the number of requests: at
// most maxGaugeProfiles profiles with pending requests are reported, those
// with the most first.
func (st *Store) PendingGauges(ctx context.Context) ([]domain.PendingGauge, error) {
	q := st.listQuery(pendingCountPartition)
	q.forward = true
	in, err := q.input()
	if err != nil {
		return nil, err
	}
	var out []domain.PendingGauge
	token := ""
	for {
		items, next, err := st.queryPage(ctx, in, domain.PageRequest{Limit: 500, Token: token})
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			var it pendingCountItem
			if err := unmarshalItem(item, &it); err != nil {
				return nil, err
			}
			out = append(out, domain.PendingGauge{ProfileID: it.ProfileID, Count: it.Count})
		}
		if next == "" {
			break
		}
		token = next
	}
	slices.SortStableFunc(out, func(a, b domain.PendingGauge) int {
		switch {
		case a.Count > b.Count:
			return -1
		case a.Count < b.Count:
			return 1
		}
		return 0
	})
	for i := range out {
		if out[i].Count <= 0 || i >= maxGaugeProfiles {
			continue
		}
		oldest, _, err := queryAs(ctx, st, query{table: st.stateTable, index: IndexParent, forward: true,
			key: keyOf(attrParentPK).Equal(valueOf(s(pendingOfProfile(out[i].ProfileID))))},
			domain.PageRequest{Limit: 1}, decoder((*approvalItem).toDomain))
		if err != nil {
			return nil, err
		}
		if len(oldest) > 0 {
			at := oldest[0].CreatedAt
			out[i].Oldest = &at
		}
	}
	slices.SortFunc(out, func(a, b domain.PendingGauge) int {
		switch {
		case a.ProfileID < b.ProfileID:
			return -1
		case a.ProfileID > b.ProfileID:
			return 1
		}
		return 0
	})
	return out, nil
}
