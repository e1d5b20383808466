package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Key prefixes and index names. The index and attribute names are shared
// with the CDK app and the local harness.
const (
	IndexList    = "list"
	IndexParent  = "by_parent"
	IndexPending = "pending"
	IndexDue     = "due"

	AuditIndexActor  = "by_actor"
	AuditIndexAction = "by_action"
	AuditIndexDay    = "by_day"

	pendingPartition = "PENDING"
	startPartition   = "START"
	duePartition     = "DUE"
)

func profileKey(id string) map[string]types.AttributeValue  { return key("PROFILE#"+id, "PROFILE") }
func certKey(id string) map[string]types.AttributeValue     { return key("CERT#"+id, "CERT") }
func jobKey(id string) map[string]types.AttributeValue      { return key("JOB#"+id, "JOB") }
func approvalKey(id string) map[string]types.AttributeValue { return key("APPROVAL#"+id, "APPROVAL") }
func issuerKey(id string) map[string]types.AttributeValue   { return key("ISSUER#"+id, "ISSUER") }

// versionSK orders versions by job id (ULIDs sort by time) and makes the job
// id the idempotency key of issuance: one version per job, ever.
func versionSK(jobID string) string { return "VERSION#" + jobID }

func listKeys(item map[string]types.AttributeValue, partition string, created time.Time, id string) {
	item["list_pk"] = s(partition)
	item["list_sk"] = s(SortTime(created) + "#" + id)
}

func profileItem(p *domain.Profile) (map[string]types.AttributeValue, error) {
	item, err := marshal(p)
	if err != nil {
		return nil, err
	}
	for k, v := range profileKey(p.ID) {
		item[k] = v
	}
	listKeys(item, "PROFILE", p.CreatedAt, p.ID)
	return item, nil
}

func certItem(c *domain.Certificate) (map[string]types.AttributeValue, error) {
	item, err := marshal(c)
	if err != nil {
		return nil, err
	}
	for k, v := range certKey(c.ID) {
		item[k] = v
	}
	listKeys(item, "CERT", c.CreatedAt, c.ID)
	if c.RenewAt != nil && c.CurrentJobID == "" {
		item["due_pk"] = s(duePartition)
		item["due_sk"] = s(SortTime(*c.RenewAt) + "#" + c.ID)
	}
	return item, nil
}

// jobItem renders a new job. With startInput set, the job also enters the
// start queue (the sparse pending index, partition START) until its
// execution is confirmed started; the reaper starts what a crash left there.
func jobItem(j *domain.Job, startInput string) (map[string]types.AttributeValue, error) {
	item, err := marshal(j)
	if err != nil {
		return nil, err
	}
	if startInput != "" {
		item["start_input"] = s(startInput)
		item["pending_pk"] = s(startPartition)
		item["pending_sk"] = s(SortTime(j.CreatedAt) + "#" + j.ID)
	}
	for k, v := range jobKey(j.ID) {
		item[k] = v
	}
	listKeys(item, "JOB", j.CreatedAt, j.ID)
	item["parent_pk"] = s("CERT#" + j.CertificateID + "#JOB")
	item["parent_sk"] = s(SortTime(j.CreatedAt) + "#" + j.ID)
	item["csr_pem"] = s(j.CSR)
	item["prev_cert_status"] = s(string(j.PrevCertStatus))
	return item, nil
}

func jobFromItem(item map[string]types.AttributeValue) (*domain.Job, error) {
	var j domain.Job
	if err := unmarshal(item, &j); err != nil {
		return nil, err
	}
	j.CSR = str(item, "csr_pem")
	j.PrevCertStatus = domain.CertStatus(str(item, "prev_cert_status"))
	return &j, nil
}

func approvalItem(a *domain.Approval) (map[string]types.AttributeValue, error) {
	item, err := marshal(a)
	if err != nil {
		return nil, err
	}
	for k, v := range approvalKey(a.ID) {
		item[k] = v
	}
	listKeys(item, "APPROVAL", a.CreatedAt, a.ID)
	if a.State == domain.ApprovalPending {
		item["pending_pk"] = s(pendingPartition)
		item["pending_sk"] = s(SortTime(a.CreatedAt) + "#" + a.ID)
	}
	if a.TaskToken != "" {
		item["task_token"] = s(a.TaskToken)
	}
	item["prev_cert_status"] = s(string(a.PrevCertStatus))
	return item, nil
}

func approvalFromItem(item map[string]types.AttributeValue) (*domain.Approval, error) {
	var a domain.Approval
	if err := unmarshal(item, &a); err != nil {
		return nil, err
	}
	a.TaskToken = str(item, "task_token")
	a.PrevCertStatus = domain.CertStatus(str(item, "prev_cert_status"))
	return &a, nil
}

func versionItem(v *domain.CertificateVersion) (map[string]types.AttributeValue, error) {
	item, err := marshal(v)
	if err != nil {
		return nil, err
	}
	item["pk"] = s("CERT#" + v.CertificateID)
	item["sk"] = s(versionSK(v.JobID))
	return item, nil
}

// auditPut is the transaction item that appends one audit row. The row's key
// is new (time + ULID), and attribute_not_exists makes the write append-only.
func (st *Store) auditPut(ev *domain.AuditEvent) (types.TransactWriteItem, error) {
	if ev.ID == "" {
		ev.ID = ulid.Make().String()
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = time.Now().UTC()
	}
	details, err := json.Marshal(ev.Details)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("store: audit details: %w", err)
	}
	sk := SortTime(ev.Timestamp) + "#" + ev.ID
	item := map[string]types.AttributeValue{
		"pk":            s("AUDIT#" + ev.ResourceID),
		"sk":            s(sk),
		"id":            s(ev.ID),
		"actor":         s(ev.Actor),
		"actor_type":    s(string(ev.ActorType)),
		"action":        s(ev.Action),
		"resource_type": s(ev.ResourceType),
		"resource_id":   s(ev.ResourceID),
		"details":       s(string(details)),
		"ts":            s(ev.Timestamp.UTC().Format(time.RFC3339Nano)),
		"day":           s(ev.Timestamp.UTC().Format("2006-01-02")),
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:           aws.String(st.auditTable),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}}, nil
}

func auditFromItem(item map[string]types.AttributeValue) (*domain.AuditEvent, error) {
	ev := &domain.AuditEvent{
		ID:           str(item, "id"),
		Actor:        str(item, "actor"),
		ActorType:    domain.ActorType(str(item, "actor_type")),
		Action:       str(item, "action"),
		ResourceType: str(item, "resource_type"),
		ResourceID:   str(item, "resource_id"),
	}
	if d := str(item, "details"); d != "" && d != "null" {
		if err := json.Unmarshal([]byte(d), &ev.Details); err != nil {
			return nil, fmt.Errorf("store: audit details: %w", err)
		}
	}
	ts, err := time.Parse(time.RFC3339Nano, str(item, "ts"))
	if err != nil {
		return nil, fmt.Errorf("store: audit ts: %w", err)
	}
	ev.Timestamp = ts
	return ev, nil
}
