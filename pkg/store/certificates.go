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

// CreateCertificate inserts a certificate together with its first (issuance)
// job, its approval request if gated, and the audit rows. The profile must
// still be at the version the gate was read from, so a concurrent profile
// edit cannot slip an ungated issuance through.
func (st *Store) CreateCertificate(ctx context.Context, in workflow.NewJob) error {
	item, err := certItem(in.Cert)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		st.profileGainsCertificate(in.Cert.ProfileID, in.ProfileVersion),
	}
	err = st.writeJob(ctx, in, items)
	if errors.Is(err, workflow.ErrChanged) {
		if _, getErr := st.GetCertificate(ctx, in.Cert.ID); getErr == nil {
			return domain.Conflictf("certificate %q already exists", in.Cert.ID)
		}
		return domain.Conflictf("profile %q or name governance changed while the certificate was being created; retry", in.Cert.ProfileID)
	}
	return err
}

// StartRenewal marks the certificate RenewalInProgress and records the job,
// only if no other job is in flight and the status is still the one read.
func (st *Store) StartRenewal(ctx context.Context, in workflow.NewJob) error {
	set := "SET #status = :rip, current_job_id = :job, updated_at = :now"
	values := map[string]types.AttributeValue{
		":rip":  s(string(domain.CertRenewalInProgress)),
		":job":  s(in.Job.ID),
		":now":  s(in.Job.CreatedAt.UTC().Format(time.RFC3339Nano)),
		":prev": s(string(in.Job.PrevCertStatus)),
	}
	cond := "attribute_exists(pk) AND attribute_not_exists(current_job_id) AND #status = :prev"
	if in.ExpectRenewAt != nil {
		cond += " AND renew_at = :ra"
		values[":ra"] = s(in.ExpectRenewAt.Format(time.RFC3339Nano)) // as the item stores it
	}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       certKey(in.Cert.ID),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: values,
	}}}
	items = append(items, st.profileUnchanged(in.Cert.ProfileID, in.ProfileVersion))
	err := st.writeJob(ctx, in, items)
	if errors.Is(err, workflow.ErrChanged) {
		cur, getErr := st.GetCertificate(ctx, in.Cert.ID)
		switch {
		case getErr != nil:
			return getErr
		case cur.CurrentJobID != "":
			return domain.Conflictf("certificate %q already has job %s in flight", cur.ID, cur.CurrentJobID)
		default:
			return domain.Conflictf("certificate %q, its profile or name governance changed concurrently; retry", cur.ID)
		}
	}
	return err
}

func (st *Store) writeJob(ctx context.Context, in workflow.NewJob, items []types.TransactWriteItem) error {
	jobIt, err := jobItem(in.Job, in.StartInput)
	if err != nil {
		return err
	}
	items = append(items,
		types.TransactWriteItem{Put: &types.Put{TableName: aws.String(st.stateTable), Item: jobIt, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	)
	if in.Governance != nil {
		items = append(items, st.governanceUnchanged(*in.Governance))
	}
	if in.Approval != nil {
		apIt, err := approvalItem(in.Approval)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(st.stateTable), Item: apIt, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	if in.Bypassed {
		items = append(items, st.observeDecision(domain.KindCertIssuance, string(domain.ApprovalBypassed), in.Cert.ProfileID, 0))
	}
	return st.commit(ctx, items, in.Audits...)
}

// GetCertificate reads one certificate.
func (st *Store) GetCertificate(ctx context.Context, id string) (*domain.Certificate, error) {
	item, err := st.get(ctx, "CERT#"+id, "CERT", "certificate "+id)
	if err != nil {
		return nil, err
	}
	var c domain.Certificate
	return &c, unmarshal(item, &c)
}

// ListCertificates lists certificates, newest first.
func (st *Store) ListCertificates(ctx context.Context, f domain.CertificateFilter, page domain.PageRequest) ([]*domain.Certificate, string, error) {
	in := st.listQuery("CERT")
	filter(in, map[string]string{"status": f.Status, "profile_id": f.ProfileID})
	return queryAs(ctx, st, in, page, as[domain.Certificate])
}

// ListVersions lists a certificate's issued versions, newest first.
func (st *Store) ListVersions(ctx context.Context, certID string, page domain.PageRequest) ([]*domain.CertificateVersion, string, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(st.stateTable),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :v)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s("CERT#" + certID),
			":v":  s("VERSION#"),
		},
		ScanIndexForward: aws.Bool(false),
	}
	return queryAs(ctx, st, in, page, as[domain.CertificateVersion])
}

// DeferRenewal moves an idle certificate's place in the due index to
// until, so the sweep stops asking for a renewal policy refuses (a person
// has to act), with its audit row.
func (st *Store) DeferRenewal(ctx context.Context, certID string, until time.Time, audit *domain.AuditEvent) error {
	return st.commit(ctx, []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       certKey(certID),
		UpdateExpression:          aws.String("SET due_sk = :until"),
		ConditionExpression:       aws.String("attribute_exists(due_pk) AND attribute_not_exists(current_job_id)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": s(SortTime(until) + "#" + certID)},
	}}}, audit)
}

// GetVersion reads the version a job issued.
func (st *Store) GetVersion(ctx context.Context, certID, jobID string) (*domain.CertificateVersion, error) {
	item, err := st.get(ctx, "CERT#"+certID, versionSK(jobID), "version of job "+jobID)
	if err != nil {
		return nil, err
	}
	return as[domain.CertificateVersion](item)
}

// PendingStarts pages through jobs queued for a start before cutoff, oldest first.
func (st *Store) PendingStarts(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]workflow.PendingStart, string, error) {
	in := st.pendingQuery(true)
	in.KeyConditionExpression = aws.String("pending_pk = :p AND pending_sk < :cut")
	in.ExpressionAttributeValues[":p"] = s(startPartition)
	in.ExpressionAttributeValues[":cut"] = s(SortTime(cutoff))
	return queryAs(ctx, st, in, page, func(item map[string]types.AttributeValue) (workflow.PendingStart, error) {
		return workflow.PendingStart{JobID: str(item, "id"), Input: str(item, "start_input")}, nil
	})
}

// ClearStart takes a job out of the start queue once its execution exists.
func (st *Store) ClearStart(ctx context.Context, jobID string) error {
	err := st.write(ctx, "clear start of "+jobID, func() error {
		_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(st.stateTable),
			Key:                       jobKey(jobID),
			UpdateExpression:          aws.String("REMOVE pending_pk, pending_sk"),
			ConditionExpression:       aws.String("pending_pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(startPartition)},
		})
		return err
	})
	if errors.Is(err, workflow.ErrChanged) {
		return nil // already cleared, or the job has ended
	}
	return err
}

// DueBefore pages through certificates whose renewal time is before t and
// that have no job in flight, oldest first. It reads the sparse due index,
// so its cost follows the number of due certificates, not the total.
func (st *Store) DueBefore(ctx context.Context, t time.Time, page domain.PageRequest) ([]*domain.Certificate, string, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(st.stateTable),
		IndexName:              aws.String(IndexDue),
		KeyConditionExpression: aws.String("due_pk = :p AND due_sk < :t"),
		FilterExpression:       aws.String("attribute_not_exists(current_job_id)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": s(duePartition),
			":t": s(SortTime(t)),
		},
		ScanIndexForward: aws.Bool(true),
	}
	return queryAs(ctx, st, in, page, as[domain.Certificate])
}
