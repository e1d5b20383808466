package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// GetApproval reads one approval request, task token included.
func (st *Store) GetApproval(ctx context.Context, id string) (*domain.Approval, error) {
	item, err := st.get(ctx, "APPROVAL#"+id, "APPROVAL", "approval "+id)
	if err != nil {
		return nil, err
	}
	return approvalFromItem(item)
}

// ListApprovals lists requests newest first; pending ones come from the
// sparse pending index, so the queue stays cheap however long history grows.
func (st *Store) ListApprovals(ctx context.Context, f domain.ApprovalFilter, page domain.PageRequest) ([]*domain.Approval, string, error) {
	in := st.listQuery("APPROVAL")
	state := f.State
	if f.State == string(domain.ApprovalPending) {
		in = st.pendingQuery(false)
		state = ""
	}
	filter(in, map[string]string{
		"state":          state,
		"kind":           f.Kind,
		"profile_id":     f.ProfileID,
		"certificate_id": f.CertificateID,
		"requested_by":   f.RequestedBy,
	})
	return queryAs(ctx, st, in, page, approvalFromItem)
}

func (st *Store) pendingQuery(oldestFirst bool) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String(st.stateTable),
		IndexName:                 aws.String(IndexPending),
		KeyConditionExpression:    aws.String("pending_pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(pendingPartition)},
		ScanIndexForward:          aws.Bool(oldestFirst),
	}
}

// PendingOlderThan pages through pending requests created before cutoff,
// oldest first.
func (st *Store) PendingOlderThan(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*domain.Approval, string, error) {
	in := st.pendingQuery(true)
	in.KeyConditionExpression = aws.String("pending_pk = :p AND pending_sk < :cut")
	in.ExpressionAttributeValues[":cut"] = s(SortTime(cutoff))
	return queryAs(ctx, st, in, page, approvalFromItem)
}

// StoreTaskToken saves the token of the execution waiting on approval id,
// only while the request is pending. It returns the request as stored after
// the write, or — when the decision was recorded first — as decided, with
// stored=false, so the caller can hand the decision over itself.
func (st *Store) StoreTaskToken(ctx context.Context, id, token string) (a *domain.Approval, stored bool, err error) {
	var out *dynamodb.UpdateItemOutput
	err = st.write(ctx, "store task token for "+id, func() (err error) {
		out, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(st.stateTable),
			Key:                       approvalKey(id),
			UpdateExpression:          aws.String("SET task_token = :t"),
			ConditionExpression:       aws.String("attribute_exists(pk) AND #state = :pending"),
			ExpressionAttributeNames:  map[string]string{"#state": "state"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": s(token), ":pending": s(string(domain.ApprovalPending))},
			ReturnValues:              types.ReturnValueAllNew,
		})
		return err
	})
	if err == nil {
		a, err := approvalFromItem(out.Attributes)
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
	values := map[string]types.AttributeValue{
		":state":   s(string(d.State)),
		":by":      s(d.DecidedBy),
		":bytype":  s(string(d.ActorType)),
		":at":      s(d.At.UTC().Format(time.RFC3339Nano)),
		":pending": s(string(domain.ApprovalPending)),
	}
	set := "SET #state = :state, decided_by = :by, decided_by_type = :bytype, decided_at = :at"
	if d.Note != "" {
		set += ", note = :note"
		values[":note"] = s(d.Note)
	}
	if d.Reason != "" {
		set += ", reason = :reason"
		values[":reason"] = s(d.Reason)
	}
	cond := "#state = :pending AND requested_by <> :by"
	if a.TaskToken == "" {
		cond += " AND attribute_not_exists(task_token)"
	} else {
		cond += " AND task_token = :tok"
		values[":tok"] = s(a.TaskToken)
	}
	// A decision for a waiting execution leaves the request in the hand-off
	// queue, atomically with the decision: whoever sends it clears it, and
	// the reaper sends whatever a crash or an error left behind.
	if a.TaskToken != "" && a.JobID != "" {
		set += ", pending_pk = :hq, pending_sk = :hsk"
		values[":hq"] = s(handoffPartition)
		values[":hsk"] = s(SortTime(d.At) + "#" + a.ID)
	} else {
		set += " REMOVE pending_pk, pending_sk"
	}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       approvalKey(a.ID),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#state": "state"},
		ExpressionAttributeValues: values,
	}}}
	if a.JobID != "" {
		items = append(items, st.jobTransition(a.JobID, []domain.JobStatus{domain.JobAwaitingApproval}, d.JobStatus, d.JobError, d.At))
		if d.RestoreCert {
			items = append(items, st.restoreCert(a.CertificateID, a.JobID, a.PrevCertStatus, d.At, d.RetryAt))
		}
	}
	if d.Profile != nil {
		pc, err := st.profileChange(d.Profile)
		if err != nil {
			return err
		}
		items = append(items, pc...)
	}
	items = append(items, st.observeDecision(a.Kind, string(d.State), a.ProfileID, d.At.Sub(a.CreatedAt)))
	return st.commit(ctx, items, append([]*domain.AuditEvent{d.Audit}, d.MoreAudits...)...)
}

func (st *Store) profileChange(c *workflow.ProfileChange) ([]types.TransactWriteItem, error) {
	values := map[string]types.AttributeValue{":aid": s(c.ApprovalID), ":base": n(c.BaseVersion)}
	guarded := "pending_edit_approval_id = :aid AND version = :base"
	switch {
	case c.Create && c.Apply != nil:
		create, err := st.profileCreate(c.Apply)
		if err != nil {
			return nil, err
		}
		return append([]types.TransactWriteItem{create}, st.governanceItems(c.Governance)...), nil
	case c.Apply != nil:
		expr, names, fieldValues, err := profileFields(c.Apply, "pending_edit_approval_id")
		if err != nil {
			return nil, err
		}
		for k, v := range values {
			fieldValues[k] = v
		}
		return append([]types.TransactWriteItem{{Update: &types.Update{
			TableName: aws.String(st.stateTable), Key: profileKey(c.ID),
			UpdateExpression:          aws.String(expr),
			ConditionExpression:       aws.String(guarded),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: fieldValues,
		}}}, st.governanceItems(c.Governance)...), nil
	case c.Delete:
		values[":zero"] = n(0)
		return append([]types.TransactWriteItem{{Delete: &types.Delete{
			TableName: aws.String(st.stateTable), Key: profileKey(c.ID),
			ConditionExpression: aws.String(guarded + " AND " + profileUnused), ExpressionAttributeValues: values,
		}}}, st.governanceItems(c.Governance)...), nil
	case c.Create:
		return nil, nil // a rejected or expired create: nothing exists to release
	}
	delete(values, ":base")
	return []types.TransactWriteItem{{Update: &types.Update{
		TableName: aws.String(st.stateTable), Key: profileKey(c.ID),
		UpdateExpression:          aws.String("REMOVE pending_edit_approval_id"),
		ConditionExpression:       aws.String("pending_edit_approval_id = :aid"),
		ExpressionAttributeValues: values,
	}}}, nil
}

// jobTransition moves a job from one of from to status. A job that ends
// leaves the start queue (see workflow.NewJob).
func (st *Store) jobTransition(jobID string, from []domain.JobStatus, to domain.JobStatus, jobErr string, at time.Time) types.TransactWriteItem {
	names := map[string]string{"#status": "status"}
	values := map[string]types.AttributeValue{
		":to":  s(string(to)),
		":now": s(at.UTC().Format(time.RFC3339Nano)),
	}
	set := "SET #status = :to, updated_at = :now"
	if to.Terminal() {
		set += ", completed_at = :now"
	}
	if jobErr != "" {
		set += ", #error = :err"
		names["#error"] = "error"
		values[":err"] = s(jobErr)
	}
	if to.Terminal() {
		set += " REMOVE pending_pk, pending_sk"
	}
	cond := ""
	for i, f := range from {
		name := fmt.Sprintf(":from%d", i)
		values[name] = s(string(f))
		if cond != "" {
			cond += " OR "
		}
		cond += "#status = " + name
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       jobKey(jobID),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}
}

// restoreCert ends the certificate's in-flight job and puts its status back,
// only if that job is still the one in flight. Its due time moves to
// retryAt (it only counts while the certificate is in the due index).
func (st *Store) restoreCert(certID, jobID string, status domain.CertStatus, at, retryAt time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                aws.String(st.stateTable),
		Key:                      certKey(certID),
		UpdateExpression:         aws.String("SET #status = :st, updated_at = :now, due_sk = :retry REMOVE current_job_id"),
		ConditionExpression:      aws.String("current_job_id = :job"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":st":    s(string(status)),
			":now":   s(at.UTC().Format(time.RFC3339Nano)),
			":job":   s(jobID),
			":retry": s(SortTime(retryAt) + "#" + certID),
		},
	}}
}

// IsConditionFailed reports whether err is a failed condition.
func IsConditionFailed(err error) bool { return workflow.IsChanged(err) }

// handoffPartition holds decided requests whose decision has not been
// confirmed delivered to the waiting execution. Decide puts a request here;
// ClearHandoff takes it out after a successful send.
const handoffPartition = "HANDOFF"

// PendingHandoffs pages through decided requests queued for delivery before
// cutoff, oldest first.
func (st *Store) PendingHandoffs(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*domain.Approval, string, error) {
	in := st.pendingQuery(true)
	in.KeyConditionExpression = aws.String("pending_pk = :p AND pending_sk < :cut")
	in.ExpressionAttributeValues[":p"] = s(handoffPartition)
	in.ExpressionAttributeValues[":cut"] = s(SortTime(cutoff))
	return queryAs(ctx, st, in, page, approvalFromItem)
}

// ClearHandoff takes a request out of the hand-off queue.
func (st *Store) ClearHandoff(ctx context.Context, id string) error {
	err := st.write(ctx, "clear hand-off of "+id, func() error {
		_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(st.stateTable),
			Key:                       approvalKey(id),
			UpdateExpression:          aws.String("REMOVE pending_pk, pending_sk"),
			ConditionExpression:       aws.String("pending_pk = :h"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": s(handoffPartition)},
		})
		return err
	})
	if errors.Is(err, workflow.ErrChanged) {
		return nil // already cleared
	}
	return err
}
