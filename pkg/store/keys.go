package store

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Keys, index names and partitions of both tables, and the marshalling
// every item type goes through.

// Index names. They are shared with the CDK app and the local harness.
const (
	IndexList    = "list"
	IndexParent  = "by_parent"
	IndexPending = "pending"
	IndexDue     = "due"

	AuditIndexActor  = "by_actor"
	AuditIndexAction = "by_action"
	AuditIndexDay    = "by_day"
)

// Entity tags: an entity's key is "<tag>#<id>" / "<tag>", and its list
// index partition is the tag.
const (
	tagProfile   = "PROFILE"
	tagCert      = "CERT"
	tagJob       = "JOB"
	tagApproval  = "APPROVAL"
	tagIssuer    = "ISSUER"
	tagAPIKey    = "APIKEY"
	tagAPIKeyID  = "APIKEYID"
	tagPrincipal = "PRINCIPAL"
	tagOutbox    = "OUTBOX"
	tagCRL       = "CRL"
)

// Partitions of the sparse pending and due indexes.
const (
	pendingPartition = "PENDING"
	startPartition   = "START"
	duePartition     = "DUE"
	// deliveryPartition holds issued versions not yet published to
	// their profile's delivery targets.
	deliveryPartition = "DELIVERY"
	// handoffPartition holds decided requests whose decision has not been
	// confirmed delivered to the waiting execution. Decide puts a request
	// here; ClearHandoff takes it out after a successful send.
	handoffPartition = "HANDOFF"
	// outboxPartition holds the events of committed transitions not yet
	// confirmed published; the committing function deletes its own after
	// PutEvents accepts them, the reaper publishes what is left.
	outboxPartition = "OUTBOX"
	// expiryPartition holds each issued certificate, by its not_after,
	// until its expiry warning is sent; a new version moves it.
	expiryPartition = "EXPIRY"
)

// pendingOfProfile is the by_parent partition of a profile's pending
// requests, oldest first: the pending-age gauge reads its first item.
func pendingOfProfile(profileID string) string { return "PENDING#" + profileID }

// tsLayout is fixed-width so that timestamps sort lexicographically in keys.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

// SortTime formats t for use inside a sort key.
func SortTime(t time.Time) string { return t.UTC().Format(tsLayout) }

// sortKey orders an entity by a time, then its id.
func sortKey(t time.Time, id string) string { return SortTime(t) + "#" + id }

// stamp formats a time an update expression writes: RFC 3339 in UTC, the
// form the items' time fields are read back from.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }

// itemKey is the table's primary key.
type itemKey struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
}

func (k itemKey) av() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: s(k.PK), attrSK: s(k.SK)}
}

func entityKey(tag, id string) itemKey { return itemKey{PK: tag + "#" + id, SK: tag} }

func profileKey(id string) itemKey  { return entityKey(tagProfile, id) }
func certKey(id string) itemKey     { return entityKey(tagCert, id) }
func jobKey(id string) itemKey      { return entityKey(tagJob, id) }
func approvalKey(id string) itemKey { return entityKey(tagApproval, id) }
func issuerKey(id string) itemKey   { return entityKey(tagIssuer, id) }

// crlKey is an issuer's CRL state; its revocation entries share its
// partition (revocationEntryKey), so one strongly consistent query reads
// them all.
func crlKey(issuerID string) itemKey { return entityKey(tagCRL, issuerID) }

func revocationEntryKey(issuerID, serial string) itemKey {
	return itemKey{PK: crlKey(issuerID).PK, SK: entryPrefix + serial}
}

const entryPrefix = "ENTRY#"

// versionKey orders versions by job id (ULIDs sort by time) and makes the
// job id the idempotency key of issuance: one version per job, ever.
func versionKey(certID, jobID string) itemKey {
	return itemKey{PK: certKey(certID).PK, SK: "VERSION#" + jobID}
}

// jobsOf is the by_parent partition of a certificate's jobs.
func jobsOf(certID string) string { return certKey(certID).PK + "#" + tagJob }

// movesOf is the by_parent partition of a certificate's move requests.
func movesOf(certID string) string { return certKey(certID).PK + "#MOVE" }

// auditPartition holds one resource's audit rows.
func auditPartition(resourceID string) string { return "AUDIT#" + resourceID }

func auditKey(ev *domain.AuditEvent) itemKey {
	return itemKey{PK: auditPartition(ev.ResourceID), SK: sortKey(ev.Timestamp, ev.ID)}
}

// listKey places an item in the list index: newest first within its
// partition.
type listKey struct {
	ListPK string `dynamodbav:"list_pk"`
	ListSK string `dynamodbav:"list_sk"`
}

func listed(partition string, created time.Time, id string) listKey {
	return listKey{ListPK: partition, ListSK: sortKey(created, id)}
}

// marshalItem renders an item type. Nulls from custom marshallers and
// zero times are omitted where a field says omitempty, as they always
// were.
func marshalItem(v any) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) {
		o.OmitNullAttributeValues = true
		o.OmitEmptyTime = true
	})
	if err != nil {
		return nil, fmt.Errorf("store: marshal %T: %w", v, err)
	}
	return item, nil
}

// marshalValue renders one attribute value the way marshalItem renders
// an item's.
func marshalValue(v any) (types.AttributeValue, error) {
	av, err := attributevalue.MarshalWithOptions(v, func(o *attributevalue.EncoderOptions) {
		o.OmitNullAttributeValues = true
		o.OmitEmptyTime = true
	})
	if err != nil {
		return nil, fmt.Errorf("store: marshal %T: %w", v, err)
	}
	return av, nil
}

func unmarshalItem(item map[string]types.AttributeValue, v any) error {
	if err := attributevalue.UnmarshalMap(item, v); err != nil {
		return fmt.Errorf("store: unmarshal %T: %w", v, err)
	}
	return nil
}

// decode reads an item into a new item type T and converts it with conv.
func decode[T, D any](item map[string]types.AttributeValue, conv func(*T) D) (D, error) {
	var v T
	if err := unmarshalItem(item, &v); err != nil {
		var zero D
		return zero, err
	}
	return conv(&v), nil
}

// decoder is decode as a function of the item, for query results.
func decoder[T, D any](conv func(*T) D) func(map[string]types.AttributeValue) (D, error) {
	return func(item map[string]types.AttributeValue) (D, error) { return decode(item, conv) }
}

// convert converts between slices of string types, keeping nil apart
// from empty (one is stored as NULL, the other as an empty list).
func convert[To, From ~string](in []From) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = To(v)
	}
	return out
}
