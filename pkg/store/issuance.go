package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// SetCertStatus moves an idle certificate from one status to another
// (Active → Expiring → Expired as time passes), with its audit row.
func (st *Store) SetCertStatus(ctx context.Context, certID string, from, to domain.CertStatus, at time.Time, audit *domain.AuditEvent) error {
	var t txn
	t.add(st.txUpdate(certKey(certID),
		expression.Set(nameOf(attrStatus), valueOf(s(string(to)))).Set(nameOf(attrUpdatedAt), valueOf(s(stamp(at)))),
		equals(attrStatus, s(string(from))), nameOf(attrCurrentJobID).AttributeNotExists()))
	return st.commitTxn(ctx, &t, audit)
}

// MarkJobRunning claims a Pending job for issuance. A job already Running
// (a retried attempt) is claimed again; anything else is a conflict.
func (st *Store) MarkJobRunning(ctx context.Context, jobID string, at time.Time) error {
	t, err := st.jobTransition(jobID, []domain.JobStatus{domain.JobPending, domain.JobRunning}, domain.JobRunning, "", at)
	if err != nil {
		return err
	}
	in := updateItemInput(t.Update)
	err = st.write(ctx, "mark job "+jobID+" running", func() error {
		_, err := st.db.UpdateItem(ctx, in)
		return err
	})
	if errors.Is(err, workflow.ErrChanged) {
		return domain.Conflictf("job %s is not pending issuance", jobID)
	}
	return err
}

// CompleteIssuance stores the version (keyed by job id, so a retried
// issuance can never store a second one), activates the certificate, ends the
// job and appends the audit row. For a gated job the approval must still say
// approved or bypassed: the last guard of invariant 2.
func (st *Store) CompleteIssuance(ctx context.Context, c workflow.Completion) error {
	v := c.Version
	verItem, err := marshalItem(versionItemOf(v))
	if err != nil {
		return err
	}
	now := valueOf(s(stamp(v.IssuedAt)))
	activate := expression.Set(nameOf(attrStatus), valueOf(s(string(domain.CertActive)))).
		Set(nameOf(attrSerialNumber), valueOf(s(v.SerialNumber))).
		Set(nameOf(attrNotBefore), valueOf(s(stamp(v.NotBefore)))).
		Set(nameOf(attrExpiresAt), valueOf(s(stamp(v.NotAfter)))).
		Set(nameOf(attrRenewAt), valueOf(s(stamp(c.RenewAt)))).
		Set(nameOf(attrLastRenewalAt), now).
		Set(nameOf(attrUpdatedAt), now).
		Set(nameOf(attrCSR), valueOf(s(c.CSR))).
		Set(nameOf(attrKeyAlgorithm), valueOf(s(c.KeyAlg))).
		Set(nameOf(attrDuePK), valueOf(s(duePartition))).
		Set(nameOf(attrDueSK), valueOf(s(dueSK(c.RenewAt, v.CertificateID)))).
		Set(nameOf(attrPendingPK), valueOf(s(expiryPartition))).
		Set(nameOf(attrPendingSK), valueOf(s(expirySK(v.NotAfter, v.CertificateID)))).
		Remove(nameOf(attrCurrentJobID))
	var t txn
	t.add(st.putNew(verItem))
	// Never for a certificate revoked or archived while the job was in flight.
	t.add(st.txUpdate(certKey(v.CertificateID), activate, equals(attrCurrentJobID, s(c.Job.ID)),
		nameOf(attrStatus).NotEqual(valueOf(s(string(domain.CertRevoked)))),
		nameOf(attrStatus).NotEqual(valueOf(s(string(domain.CertArchived))))))
	if d := c.Delivery; d != nil {
		// The version enters the delivery queue with its issuance; the job
		// says where it goes.
		item, err := marshalItem(deliveryItemOf(d))
		if err != nil {
			return err
		}
		t.add(st.putNew(item))
		status, err := marshalItem(deliveryStatusRecordOf(&domain.DeliveryStatus{Status: domain.DeliveryPending,
			SSMParameter: d.Targets.SSMParameter, Secret: d.Targets.Secret, UpdatedAt: v.IssuedAt}))
		if err != nil {
			return err
		}
		t.add(st.jobTransitionWith(c.Job.ID, []domain.JobStatus{domain.JobRunning}, domain.JobCompleted, "", v.IssuedAt,
			func(u expression.UpdateBuilder) expression.UpdateBuilder {
				return u.Set(nameOf(attrDelivery), valueOf(&types.AttributeValueMemberM{Value: status}))
			}))
	} else {
		t.add(st.jobTransition(c.Job.ID, []domain.JobStatus{domain.JobRunning}, domain.JobCompleted, "", v.IssuedAt))
	}
	t.add(st.profileUnchanged(c.Job.ProfileID, c.ProfileVersion))
	if c.Governance != nil {
		t.add(st.governanceUnchanged(*c.Governance))
	}
	if c.Approval != "" {
		t.add(st.txCheck(approvalKey(c.Approval), or(
			equals(attrState, s(string(domain.ApprovalApproved))),
			equals(attrState, s(string(domain.ApprovalBypassed))),
		)))
	}
	return st.commitTxn(ctx, &t, c.Audit)
}

// FailJob records a job's failure atomically. workflow.ErrChanged means the
// job, certificate or request moved on meanwhile: re-read and decide again.
func (st *Store) FailJob(ctx context.Context, f workflow.Failure) error {
	from := []domain.JobStatus{domain.JobAwaitingApproval, domain.JobPending, domain.JobRunning}
	var t txn
	t.add(st.jobTransition(f.Job.ID, from, f.Status, f.Error, f.At))
	t.add(st.restoreCert(f.Job.CertificateID, f.Job.ID, f.CertSeen, f.CertStatus, f.At, f.RetryAt))
	if a := f.ExpireApproval; a != nil {
		expire := expression.Set(nameOf(attrState), valueOf(s(string(domain.ApprovalExpired)))).
			Set(nameOf(attrDecidedBy), valueOf(s(domain.SystemWorkflow))).
			Set(nameOf(attrDecidedByType), valueOf(s(string(domain.ActorSystem)))).
			Set(nameOf(attrDecidedAt), valueOf(s(stamp(f.At)))).
			Set(nameOf(attrReason), valueOf(s(f.Error))).
			Remove(nameOf(attrPendingPK)).Remove(nameOf(attrPendingSK)).
			Remove(nameOf(attrParentPK)).Remove(nameOf(attrParentSK))
		// Pinned to the votes read, which its Approval Expired event reports.
		t.add(st.txUpdate(approvalKey(a.ID), expire, equals(attrState, s(string(domain.ApprovalPending))), votesAsRead(len(a.Votes))))
		if a.Gauged {
			t.add(st.pendingCount(a.ProfileID, -1))
		}
		t.add(st.observeDecision(a.Kind, string(domain.ApprovalExpired), a.ProfileID, f.At.Sub(a.CreatedAt)))
	}
	return st.commitTxn(ctx, &t, f.Audits...)
}

// GetIssuer reads an issuer's CA certificate.
func (st *Store) GetIssuer(ctx context.Context, id string) (*domain.Issuer, error) {
	item, err := st.get(ctx, issuerKey(id), "issuer "+id)
	if err != nil {
		return nil, err
	}
	return decode(item, (*issuerItem).toDomain)
}

// PutIssuerIfAbsent stores the CA certificate unless one exists; it returns
// the stored issuer, which is the caller's only if created is true. Two cold
// starts racing to create a CA therefore agree on one.
func (st *Store) PutIssuerIfAbsent(ctx context.Context, is *domain.Issuer, audit *domain.AuditEvent) (stored *domain.Issuer, created bool, err error) {
	item, err := marshalItem(issuerItemOf(is))
	if err != nil {
		return nil, false, err
	}
	var t txn
	t.add(st.putNew(item))
	err = st.commitTxn(ctx, &t, audit)
	if errors.Is(err, workflow.ErrChanged) {
		existing, getErr := st.GetIssuer(ctx, is.ID)
		return existing, false, getErr
	}
	if err != nil {
		return nil, false, err
	}
	return is, true, nil
}
