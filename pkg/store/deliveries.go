package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// GetDelivery reads the queued delivery of a job's version;
// domain.ErrNotFound once it has ended (or if none was queued).
func (st *Store) GetDelivery(ctx context.Context, certID, jobID string) (*workflow.Delivery, error) {
	item, err := st.get(ctx, deliveryKey(certID, jobID), "delivery of job "+jobID)
	if err != nil {
		return nil, err
	}
	return decode(item, (*deliveryItem).toDomain)
}

// PendingDeliveries pages through versions queued for delivery before
// cutoff, oldest first.
func (st *Store) PendingDeliveries(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*workflow.Delivery, string, error) {
	return queryAs(ctx, st, st.queuedBefore(deliveryPartition, cutoff), page, decoder((*deliveryItem).toDomain))
}

// EndDelivery takes a delivery out of the queue, only if it is still
// there at the attempts read (another attempt did not end it first), and
// records how it ended on its job (delivered or superseded), with its
// audit row.
func (st *Store) EndDelivery(ctx context.Context, d *workflow.Delivery, status string, at time.Time, audit *domain.AuditEvent) error {
	rec := &domain.DeliveryStatus{Status: status, SSMParameter: d.Targets.SSMParameter, Secret: d.Targets.Secret,
		Attempts: d.Attempts + 1, UpdatedAt: at}
	if status == domain.DeliverySuperseded || status == domain.DeliveryDropped {
		rec.Attempts, rec.LastError = d.Attempts, d.LastError
	}
	if status == domain.DeliveryDelivered {
		rec.DeliveredAt = &at
	}
	var t txn
	t.add(st.txDelete(deliveryKey(d.CertificateID, d.JobID), exists(), equals(attrAttempts, n(d.Attempts))))
	t.add(st.jobDelivery(d.JobID, rec))
	return st.commitTxn(ctx, &t, audit)
}

// DeliveryFailed records a failed attempt on the queued delivery (it
// stays queued for the reaper) and on its job, only if no other attempt
// recorded itself first. audit is nil but for the first failure.
func (st *Store) DeliveryFailed(ctx context.Context, d *workflow.Delivery, msg string, at time.Time, audit *domain.AuditEvent) error {
	var t txn
	t.add(st.txUpdate(deliveryKey(d.CertificateID, d.JobID),
		expression.Set(nameOf(attrAttempts), valueOf(n(d.Attempts+1))).Set(nameOf(attrLastError), valueOf(s(msg))),
		exists(), equals(attrAttempts, n(d.Attempts))))
	t.add(st.jobDelivery(d.JobID, &domain.DeliveryStatus{Status: domain.DeliveryRetrying, SSMParameter: d.Targets.SSMParameter,
		Secret: d.Targets.Secret, Attempts: d.Attempts + 1, LastError: msg, UpdatedAt: at}))
	if audit == nil {
		if t.err != nil {
			return t.err
		}
		return st.transact(ctx, t.items)
	}
	return st.commitTxn(ctx, &t, audit)
}

// jobDelivery writes a job's delivery status.
func (st *Store) jobDelivery(jobID string, d *domain.DeliveryStatus) (types.TransactWriteItem, error) {
	rec, err := marshalItem(deliveryStatusRecordOf(d))
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return st.txUpdate(jobKey(jobID), expression.Set(nameOf(attrDelivery), valueOf(&types.AttributeValueMemberM{Value: rec})), exists())
}
