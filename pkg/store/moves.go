package store

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// MoveCertificate applies a move that needs no approval, with its audit
// row (see moveItems for its conditions).
func (st *Store) MoveCertificate(ctx context.Context, m workflow.Move, audit *domain.AuditEvent) error {
	var t txn
	t.addAll(st.moveItems(m))
	return st.commitTxn(ctx, &t, audit)
}

// moveItems are the items of a move: the certificate joins To only if it
// is still in From, idle, at the status read, and waiting for this move's
// request (or for none, for a move that needs no approval), with its
// renewal time under To; From counts one certificate less; To one more,
// only if still at the version the names were checked against; and, when
// To needs no approval, governance still at the version that found the
// names ungoverned.
func (st *Store) moveItems(m workflow.Move) ([]types.TransactWriteItem, error) {
	c := m.Cert
	upd := expression.Set(nameOf(attrProfileID), valueOf(s(m.To.ID))).
		Set(nameOf(attrUpdatedAt), valueOf(s(stamp(m.At))))
	if m.RenewAt != nil {
		upd = upd.Set(nameOf(attrRenewAt), valueOf(s(stamp(*m.RenewAt))))
		if c.DuePK() {
			upd = upd.Set(nameOf(attrDueSK), valueOf(s(dueSK(*m.RenewAt, c.ID))))
		}
	}
	conds := []expression.ConditionBuilder{
		exists(), equals(attrProfileID, s(m.From.ID)), equals(attrStatus, s(string(c.Status))),
		nameOf(attrCurrentJobID).AttributeNotExists(),
	}
	if m.ApprovalID != "" {
		upd = upd.Remove(nameOf(attrPendingMoveID))
		conds = append(conds, equals(attrPendingMoveID, s(m.ApprovalID)))
	} else {
		conds = append(conds, nameOf(attrPendingMoveID).AttributeNotExists())
	}
	var t txn
	t.add(st.txUpdate(certKey(c.ID), upd, conds...))
	// The source is pinned at the version the move was planned on, as the
	// target is: a gate made stricter meanwhile must not be left under
	// the policy it had before.
	t.add(st.txUpdate(profileKey(m.From.ID), expression.Add(nameOf(attrCertificateCount), valueOf(n(-1))), equals(attrVersion, n(m.From.Version))))
	t.add(st.profileGainsCertificate(m.To.ID, m.To.Version))
	if m.Governance != nil {
		t.add(st.governanceUnchanged(*m.Governance))
	}
	return t.items, t.err
}

// RequestMove stores a certificate_move request and marks the certificate
// as having it pending, only if it is still in the request's source
// profile, idle, at the status read and with no other move pending.
func (st *Store) RequestMove(ctx context.Context, cert *domain.Certificate, a *domain.Approval, audit *domain.AuditEvent) error {
	rec, err := approvalItemOf(a)
	if err != nil {
		return err
	}
	item, err := marshalItem(rec)
	if err != nil {
		return err
	}
	var t txn
	t.add(st.putNew(item))
	t.add(st.txUpdate(certKey(cert.ID), expression.Set(nameOf(attrPendingMoveID), valueOf(s(a.ID))).
		Add(nameOf(attrMoveRequests), valueOf(n(1))),
		exists(), equals(attrProfileID, s(a.Move.From.ID)), equals(attrStatus, s(string(cert.Status))),
		nameOf(attrCurrentJobID).AttributeNotExists(), nameOf(attrPendingMoveID).AttributeNotExists()))
	t.add(st.pendingCount(a.ProfileID, 1))
	err = st.commitTxn(ctx, &t, audit)
	if errors.Is(err, workflow.ErrChanged) {
		if cur, getErr := st.GetCertificate(ctx, cert.ID); getErr == nil && cur.PendingMoveID != "" {
			return domain.Conflictf("certificate %s already has a move waiting for approval: %s", cert.ID, cur.PendingMoveID)
		}
	}
	return err
}

// moveDecisionItems are what a decision on a move request does to the
// certificate and profiles: approved, the move; otherwise the release of
// the one-pending-move lock.
func (st *Store) moveDecisionItems(c *workflow.MoveChange) ([]types.TransactWriteItem, error) {
	if c.Apply != nil {
		return st.moveItems(*c.Apply)
	}
	var t txn
	t.add(st.txUpdate(certKey(c.CertID), expression.Remove(nameOf(attrPendingMoveID)), equals(attrPendingMoveID, s(c.ApprovalID))))
	return t.items, t.err
}
