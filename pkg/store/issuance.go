package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// SetCertStatus moves an idle certificate from one status to another
// (Active → Expiring → Expired as time passes), with its audit row.
func (st *Store) SetCertStatus(ctx context.Context, certID string, from, to domain.CertStatus, at time.Time, audit *domain.AuditEvent) error {
	return st.commit(ctx, []types.TransactWriteItem{{Update: &types.Update{
		TableName:                aws.String(st.stateTable),
		Key:                      certKey(certID),
		UpdateExpression:         aws.String("SET #status = :to, updated_at = :now"),
		ConditionExpression:      aws.String("#status = :from AND attribute_not_exists(current_job_id)"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to":   s(string(to)),
			":from": s(string(from)),
			":now":  s(at.UTC().Format(time.RFC3339Nano)),
		},
	}}}, audit)
}

// MarkJobRunning claims a Pending job for issuance. A job already Running
// (a retried attempt) is claimed again; anything else is a conflict.
func (st *Store) MarkJobRunning(ctx context.Context, jobID string, at time.Time) error {
	t := st.jobTransition(jobID, []domain.JobStatus{domain.JobPending, domain.JobRunning}, domain.JobRunning, "", at).Update
	err := st.write(ctx, "mark job "+jobID+" running", func() error {
		_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 t.TableName,
			Key:                       t.Key,
			UpdateExpression:          t.UpdateExpression,
			ConditionExpression:       t.ConditionExpression,
			ExpressionAttributeNames:  t.ExpressionAttributeNames,
			ExpressionAttributeValues: t.ExpressionAttributeValues,
		})
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
	verItem, err := versionItem(v)
	if err != nil {
		return err
	}
	now := s(v.IssuedAt.UTC().Format(time.RFC3339Nano))
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: verItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Update: &types.Update{
			TableName: aws.String(st.stateTable),
			Key:       certKey(v.CertificateID),
			UpdateExpression: aws.String("SET #status = :active, serial_number = :serial, not_before = :nb, expires_at = :na, renew_at = :ra, " +
				"last_renewal_at = :now, updated_at = :now, csr = :csr, key_algorithm = :alg, due_pk = :duepk, due_sk = :duesk REMOVE current_job_id"),
			ConditionExpression:      aws.String("current_job_id = :job"),
			ExpressionAttributeNames: map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":active": s(string(domain.CertActive)),
				":serial": s(v.SerialNumber),
				":nb":     s(v.NotBefore.UTC().Format(time.RFC3339Nano)),
				":na":     s(v.NotAfter.UTC().Format(time.RFC3339Nano)),
				":ra":     s(c.RenewAt.UTC().Format(time.RFC3339Nano)),
				":now":    now,
				":csr":    s(c.CSR),
				":alg":    s(c.KeyAlg),
				":duepk":  s(duePartition),
				":duesk":  s(SortTime(c.RenewAt) + "#" + v.CertificateID),
				":job":    s(c.Job.ID),
			},
		}},
		st.jobTransition(c.Job.ID, []domain.JobStatus{domain.JobRunning}, domain.JobCompleted, "", v.IssuedAt),
	}
	items = append(items, st.profileUnchanged(c.Job.ProfileID, c.ProfileVersion))
	if c.Governance != nil {
		items = append(items, st.governanceUnchanged(*c.Governance))
	}
	if c.Approval != "" {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                 aws.String(st.stateTable),
			Key:                       approvalKey(c.Approval),
			ConditionExpression:       aws.String("#state = :approved OR #state = :bypassed"),
			ExpressionAttributeNames:  map[string]string{"#state": "state"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":approved": s(string(domain.ApprovalApproved)), ":bypassed": s(string(domain.ApprovalBypassed))},
		}})
	}
	return st.commit(ctx, items, c.Audit)
}

// FailJob records a job's failure atomically. workflow.ErrChanged means the
// job, certificate or request moved on meanwhile: re-read and decide again.
func (st *Store) FailJob(ctx context.Context, f workflow.Failure) error {
	from := []domain.JobStatus{domain.JobAwaitingApproval, domain.JobPending, domain.JobRunning}
	items := []types.TransactWriteItem{
		st.jobTransition(f.Job.ID, from, f.Status, f.Error, f.At),
		st.restoreCert(f.Job.CertificateID, f.Job.ID, f.CertStatus, f.At, f.RetryAt),
	}
	if a := f.ExpireApproval; a != nil {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                aws.String(st.stateTable),
			Key:                      approvalKey(a.ID),
			UpdateExpression:         aws.String("SET #state = :expired, decided_by = :by, decided_by_type = :sys, decided_at = :at, reason = :reason REMOVE pending_pk, pending_sk"),
			ConditionExpression:      aws.String("#state = :pending"),
			ExpressionAttributeNames: map[string]string{"#state": "state"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":expired": s(string(domain.ApprovalExpired)),
				":pending": s(string(domain.ApprovalPending)),
				":by":      s(domain.SystemWorkflow),
				":sys":     s(string(domain.ActorSystem)),
				":at":      s(f.At.UTC().Format(time.RFC3339Nano)),
				":reason":  s(f.Error),
			},
		}})
		items = append(items, st.observeDecision(a.Kind, string(domain.ApprovalExpired), a.ProfileID, f.At.Sub(a.CreatedAt)))
	}
	return st.commit(ctx, items, f.Audits...)
}

// GetIssuer reads an issuer's CA certificate.
func (st *Store) GetIssuer(ctx context.Context, id string) (*domain.Issuer, error) {
	item, err := st.get(ctx, "ISSUER#"+id, "ISSUER", "issuer "+id)
	if err != nil {
		return nil, err
	}
	var is domain.Issuer
	return &is, unmarshal(item, &is)
}

// PutIssuerIfAbsent stores the CA certificate unless one exists; it returns
// the stored issuer, which is the caller's only if created is true. Two cold
// starts racing to create a CA therefore agree on one.
func (st *Store) PutIssuerIfAbsent(ctx context.Context, is *domain.Issuer, audit *domain.AuditEvent) (stored *domain.Issuer, created bool, err error) {
	item, err := marshal(is)
	if err != nil {
		return nil, false, err
	}
	for k, v := range issuerKey(is.ID) {
		item[k] = v
	}
	err = st.commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}, audit)
	if errors.Is(err, workflow.ErrChanged) {
		existing, getErr := st.GetIssuer(ctx, is.ID)
		return existing, false, getErr
	}
	if err != nil {
		return nil, false, err
	}
	return is, true, nil
}
