package store

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// The stored form of every item kind, and of every value object stored
// inside one: the store's own types, so the API's JSON and the table's
// layout can change independently. The dynamodbav names are the names
// stored before these types existed (testdata/*.golden.json pins them);
// see attrs.go.

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
)

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

// --- Value objects -------------------------------------------------------

type approverPoolRecord struct {
	Principals []string `dynamodbav:"principals,omitempty"`
	Roles      []string `dynamodbav:"roles,omitempty"`
}

func approverPoolRecordOf(p *domain.ApproverPool) *approverPoolRecord {
	if p == nil {
		return nil
	}
	return &approverPoolRecord{Principals: p.Principals, Roles: convert[string](p.Roles)}
}

func (r *approverPoolRecord) toDomain() *domain.ApproverPool {
	if r == nil {
		return nil
	}
	return &domain.ApproverPool{Principals: r.Principals, Roles: convert[domain.Role](r.Roles)}
}

type deliveryTargetsRecord struct {
	SSMParameter string `dynamodbav:"ssm_parameter,omitempty"`
	Secret       string `dynamodbav:"secret,omitempty"`
}

func deliveryTargetsRecordOf(t *domain.DeliveryTargets) *deliveryTargetsRecord {
	if t == nil {
		return nil
	}
	return &deliveryTargetsRecord{SSMParameter: t.SSMParameter, Secret: t.Secret}
}

func (r *deliveryTargetsRecord) toDomain() *domain.DeliveryTargets {
	if r == nil {
		return nil
	}
	return &domain.DeliveryTargets{SSMParameter: r.SSMParameter, Secret: r.Secret}
}

// deliveryStatusRecord is a job's delivery: where its version goes and
// how that went.
type deliveryStatusRecord struct {
	Status       string     `dynamodbav:"status"`
	SSMParameter string     `dynamodbav:"ssm_parameter,omitempty"`
	Secret       string     `dynamodbav:"secret,omitempty"`
	Attempts     int64      `dynamodbav:"attempts"`
	LastError    string     `dynamodbav:"last_error,omitempty"`
	DeliveredAt  *time.Time `dynamodbav:"delivered_at,omitempty"`
	UpdatedAt    time.Time  `dynamodbav:"updated_at"`
}

func deliveryStatusRecordOf(d *domain.DeliveryStatus) *deliveryStatusRecord {
	if d == nil {
		return nil
	}
	return &deliveryStatusRecord{Status: d.Status, SSMParameter: d.SSMParameter, Secret: d.Secret, Attempts: d.Attempts,
		LastError: d.LastError, DeliveredAt: d.DeliveredAt, UpdatedAt: d.UpdatedAt}
}

func (r *deliveryStatusRecord) toDomain() *domain.DeliveryStatus {
	if r == nil {
		return nil
	}
	return &domain.DeliveryStatus{Status: r.Status, SSMParameter: r.SSMParameter, Secret: r.Secret, Attempts: r.Attempts,
		LastError: r.LastError, DeliveredAt: r.DeliveredAt, UpdatedAt: r.UpdatedAt}
}

// factorRecord is one factor of an approval policy.
type factorRecord struct {
	Name      string              `dynamodbav:"name"`
	Approvers *approverPoolRecord `dynamodbav:"approvers,omitempty"`
	Count     int                 `dynamodbav:"count"`
}

func policyRecordOf(p domain.ApprovalPolicy) []factorRecord {
	if len(p) == 0 {
		return nil
	}
	out := make([]factorRecord, len(p))
	for i, f := range p {
		out[i] = factorRecord{Name: f.Name, Approvers: approverPoolRecordOf(f.Approvers), Count: f.Count}
	}
	return out
}

func policyOf(rs []factorRecord) domain.ApprovalPolicy {
	if len(rs) == 0 {
		return nil
	}
	out := make(domain.ApprovalPolicy, len(rs))
	for i, r := range rs {
		out[i] = domain.ApprovalFactor{Name: r.Name, Approvers: r.Approvers.toDomain(), Count: r.Count}
	}
	return out
}

// voteRecord is one vote on a request. Which factor it counts toward is
// not stored: it follows from the votes and the policy.
type voteRecord struct {
	Actor     string    `dynamodbav:"actor"`
	ActorType string    `dynamodbav:"actor_type"`
	At        time.Time `dynamodbav:"at"`
	Note      string    `dynamodbav:"note,omitempty"`
	Eligible  []string  `dynamodbav:"eligible"`
}

func votesRecordOf(vs []domain.Vote) []voteRecord {
	if len(vs) == 0 {
		return nil
	}
	out := make([]voteRecord, len(vs))
	for i, v := range vs {
		out[i] = voteRecord{Actor: v.Actor, ActorType: string(v.ActorType), At: v.At, Note: v.Note, Eligible: v.Eligible}
		if out[i].Eligible == nil {
			out[i].Eligible = []string{}
		}
	}
	return out
}

func votesOf(rs []voteRecord) []domain.Vote {
	if len(rs) == 0 {
		return nil
	}
	out := make([]domain.Vote, len(rs))
	for i, r := range rs {
		out[i] = domain.Vote{Actor: r.Actor, ActorType: domain.ActorType(r.ActorType), At: r.At, Note: r.Note, Eligible: r.Eligible}
	}
	return out
}

type subjectRecord struct {
	CommonName      string   `dynamodbav:"common_name"`
	DNSNames        []string `dynamodbav:"dns_names"`
	IPAddresses     []string `dynamodbav:"ip_addresses"`
	KeyAlgorithm    string   `dynamodbav:"key_algorithm"`
	PublicKeySHA256 string   `dynamodbav:"public_key_sha256"`
	ValiditySeconds int64    `dynamodbav:"validity_seconds"`
	IssuerID        string   `dynamodbav:"issuer_id"`
	KeyUsage        []string `dynamodbav:"key_usage"`
	ExtKeyUsage     []string `dynamodbav:"ext_key_usage"`
	ProfileID       string   `dynamodbav:"profile_id"`
	ProfileVersion  int64    `dynamodbav:"profile_version"`
	ProfileName     string   `dynamodbav:"profile_name,omitempty"`
	KeyChanged      *bool    `dynamodbav:"key_changed,omitempty"`
	PreviousKey     string   `dynamodbav:"previous_public_key_sha256,omitempty"`
}

func subjectRecordOf(x *domain.Subject) *subjectRecord {
	if x == nil {
		return nil
	}
	return &subjectRecord{
		CommonName: x.CommonName, DNSNames: x.DNSNames, IPAddresses: x.IPAddresses, KeyAlgorithm: x.KeyAlgorithm,
		PublicKeySHA256: x.PublicKeySHA256, ValiditySeconds: x.ValiditySeconds, IssuerID: x.IssuerID,
		KeyUsage: x.KeyUsage, ExtKeyUsage: x.ExtKeyUsage, ProfileID: x.ProfileID, ProfileVersion: x.ProfileVersion,
		ProfileName: x.ProfileName, KeyChanged: x.KeyChanged, PreviousKey: x.PreviousPublicKeySHA256,
	}
}

func (r *subjectRecord) toDomain() *domain.Subject {
	if r == nil {
		return nil
	}
	return &domain.Subject{
		CommonName: r.CommonName, DNSNames: r.DNSNames, IPAddresses: r.IPAddresses, KeyAlgorithm: r.KeyAlgorithm,
		PublicKeySHA256: r.PublicKeySHA256, ValiditySeconds: r.ValiditySeconds, IssuerID: r.IssuerID,
		KeyUsage: r.KeyUsage, ExtKeyUsage: r.ExtKeyUsage, ProfileID: r.ProfileID, ProfileVersion: r.ProfileVersion,
		ProfileName: r.ProfileName, KeyChanged: r.KeyChanged, PreviousPublicKeySHA256: r.PreviousKey,
	}
}

// profileRecord is a profile's attributes: the profile item's own, and
// the base and proposal of a profile edit.
type profileRecord struct {
	ID                   string                 `dynamodbav:"id"`
	Name                 string                 `dynamodbav:"name"`
	RequiresApproval     bool                   `dynamodbav:"requires_approval"`
	AllowedNames         []string               `dynamodbav:"allowed_names"`
	AllowedKeyAlgorithms []string               `dynamodbav:"allowed_key_algorithms"`
	MaxValiditySeconds   int64                  `dynamodbav:"max_validity_seconds"`
	RenewBeforeSeconds   int64                  `dynamodbav:"renew_before_seconds"`
	IssuerID             string                 `dynamodbav:"issuer_id"`
	Approvers            *approverPoolRecord    `dynamodbav:"approvers,omitempty"`
	Delivery             *deliveryTargetsRecord `dynamodbav:"delivery,omitempty"`
	RequiredApprovals    int                    `dynamodbav:"required_approvals,omitempty"`
	ApprovalPolicy       []factorRecord         `dynamodbav:"approval_policy,omitempty"`
	Version              int64                  `dynamodbav:"version"`
	PendingEditID        string                 `dynamodbav:"pending_edit_approval_id,omitempty"`
	CertificateCount     int64                  `dynamodbav:"certificate_count"`
	CreatedBy            string                 `dynamodbav:"created_by"`
	CreatedAt            time.Time              `dynamodbav:"created_at"`
	UpdatedAt            time.Time              `dynamodbav:"updated_at"`
}

func profileRecordOf(p *domain.Profile) *profileRecord {
	if p == nil {
		return nil
	}
	return &profileRecord{
		ID: p.ID, Name: p.Name, RequiresApproval: p.RequiresApproval, AllowedNames: convert[string](p.AllowedNames),
		AllowedKeyAlgorithms: p.AllowedKeyAlgorithms, MaxValiditySeconds: p.MaxValiditySeconds,
		RenewBeforeSeconds: p.RenewBeforeSeconds, IssuerID: p.IssuerID, Approvers: approverPoolRecordOf(p.Approvers),
		Delivery: deliveryTargetsRecordOf(p.Delivery), RequiredApprovals: p.RequiredApprovals, ApprovalPolicy: policyRecordOf(p.ApprovalPolicy),
		Version: p.Version, PendingEditID: p.PendingEditID, CertificateCount: p.CertificateCount,
		CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

func (r *profileRecord) toDomain() *domain.Profile {
	if r == nil {
		return nil
	}
	p := &domain.Profile{
		ID: r.ID, Name: r.Name, RequiresApproval: r.RequiresApproval, AllowedNames: convert[domain.NamePattern](r.AllowedNames),
		AllowedKeyAlgorithms: r.AllowedKeyAlgorithms, MaxValiditySeconds: r.MaxValiditySeconds,
		RenewBeforeSeconds: r.RenewBeforeSeconds, IssuerID: r.IssuerID, Approvers: r.Approvers.toDomain(),
		Delivery: r.Delivery.toDomain(), RequiredApprovals: r.RequiredApprovals, ApprovalPolicy: policyOf(r.ApprovalPolicy),
		Version: r.Version, PendingEditID: r.PendingEditID, CertificateCount: r.CertificateCount,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if p.RequiredApprovals == 0 {
		p.RequiredApprovals = 1 // stored before required_approvals existed: one approval
	}
	return p
}

// changeRecord is one field of a profile edit's diff. The values are
// free-form; read back they are what DynamoDB values decode to (string,
// bool, float64, []any, map[string]any, nil).
type changeRecord struct {
	Old any `dynamodbav:"old"`
	New any `dynamodbav:"new"`
}

// storedDiffValue is a diff value in a form that marshals by the store's
// names: domain value objects become their records. It keeps typed nils
// typed (a nil list is stored as an empty list, a nil pool as NULL).
func storedDiffValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, int64, float64, []string, []any, map[string]any:
		return v, nil
	case []domain.NamePattern:
		return convert[string](x), nil
	case []domain.Role:
		return convert[string](x), nil
	case *domain.ApproverPool:
		return approverPoolRecordOf(x), nil
	case *domain.DeliveryTargets:
		return deliveryTargetsRecordOf(x), nil
	case domain.ApprovalPolicy:
		return policyRecordOf(x), nil
	}
	return nil, fmt.Errorf("store: a profile diff value of type %T has no stored form", v)
}

// profileRefRecord is a profile as a request saw it.
type profileRefRecord struct {
	ID               string `dynamodbav:"id"`
	Name             string `dynamodbav:"name"`
	Version          int64  `dynamodbav:"version"`
	RequiresApproval bool   `dynamodbav:"requires_approval"`
}

type moveRecord struct {
	From        profileRefRecord `dynamodbav:"from"`
	To          profileRefRecord `dynamodbav:"to"`
	CommonName  string           `dynamodbav:"common_name"`
	DNSNames    []string         `dynamodbav:"dns_names"`
	IPAddresses []string         `dynamodbav:"ip_addresses"`
	FromPolicy  []factorRecord   `dynamodbav:"from_policy,omitempty"`
}

func moveRecordOf(m *domain.CertificateMove) *moveRecord {
	if m == nil {
		return nil
	}
	ref := func(r domain.ProfileRef) profileRefRecord {
		return profileRefRecord{ID: r.ID, Name: r.Name, Version: r.Version, RequiresApproval: r.RequiresApproval}
	}
	return &moveRecord{From: ref(m.From), To: ref(m.To), CommonName: m.CommonName, DNSNames: m.DNSNames, IPAddresses: m.IPAddresses,
		FromPolicy: policyRecordOf(m.FromPolicy)}
}

func (r *moveRecord) toDomain() *domain.CertificateMove {
	if r == nil {
		return nil
	}
	ref := func(p profileRefRecord) domain.ProfileRef {
		return domain.ProfileRef{ID: p.ID, Name: p.Name, Version: p.Version, RequiresApproval: p.RequiresApproval}
	}
	return &domain.CertificateMove{From: ref(r.From), To: ref(r.To), CommonName: r.CommonName, DNSNames: r.DNSNames, IPAddresses: r.IPAddresses,
		FromPolicy: policyOf(r.FromPolicy)}
}

type profileEditRecord struct {
	BaseVersion int64                   `dynamodbav:"base_version"`
	Create      bool                    `dynamodbav:"create,omitempty"`
	Delete      bool                    `dynamodbav:"delete,omitempty"`
	Base        *profileRecord          `dynamodbav:"base,omitempty"`
	Proposed    *profileRecord          `dynamodbav:"proposed,omitempty"`
	Diff        map[string]changeRecord `dynamodbav:"diff"`
}

func profileEditRecordOf(e *domain.ProfileEdit) (*profileEditRecord, error) {
	if e == nil {
		return nil, nil
	}
	r := &profileEditRecord{
		BaseVersion: e.BaseVersion, Create: e.Create, Delete: e.Delete,
		Base: profileRecordOf(e.Base), Proposed: profileRecordOf(e.Proposed),
	}
	if e.Diff != nil {
		r.Diff = make(map[string]changeRecord, len(e.Diff))
		for field, c := range e.Diff {
			old, err := storedDiffValue(c.Old)
			if err != nil {
				return nil, fmt.Errorf("%w (diff of %s)", err, field)
			}
			new, err := storedDiffValue(c.New)
			if err != nil {
				return nil, fmt.Errorf("%w (diff of %s)", err, field)
			}
			r.Diff[field] = changeRecord{Old: old, New: new}
		}
	}
	return r, nil
}

func (r *profileEditRecord) toDomain() *domain.ProfileEdit {
	if r == nil {
		return nil
	}
	e := &domain.ProfileEdit{
		BaseVersion: r.BaseVersion, Create: r.Create, Delete: r.Delete,
		Base: r.Base.toDomain(), Proposed: r.Proposed.toDomain(),
	}
	if r.Diff != nil {
		e.Diff = make(map[string]domain.Change, len(r.Diff))
		for field, c := range r.Diff {
			e.Diff[field] = domain.Change{Old: c.Old, New: c.New}
		}
	}
	return e
}

// --- Items of the state table ---------------------------------------------

type profileItem struct {
	itemKey
	listKey
	profileRecord
}

func profileItemOf(p *domain.Profile) *profileItem {
	return &profileItem{itemKey: profileKey(p.ID), listKey: listed(tagProfile, p.CreatedAt, p.ID), profileRecord: *profileRecordOf(p)}
}

func (it *profileItem) toDomain() *domain.Profile { return it.profileRecord.toDomain() }

// certItem is a certificate. While it has no job in flight and a renewal
// time, it is in the due index (which the sweep reads).
type certItem struct {
	itemKey
	listKey
	DuePK            string     `dynamodbav:"due_pk,omitempty"`
	DueSK            string     `dynamodbav:"due_sk,omitempty"`
	ID               string     `dynamodbav:"id"`
	CommonName       string     `dynamodbav:"common_name"`
	SANs             []string   `dynamodbav:"sans"`
	ProfileID        string     `dynamodbav:"profile_id"`
	IssuerID         string     `dynamodbav:"issuer_id"`
	Status           string     `dynamodbav:"status"`
	CSR              string     `dynamodbav:"csr"`
	KeyAlgorithm     string     `dynamodbav:"key_algorithm"`
	CurrentJobID     string     `dynamodbav:"current_job_id,omitempty"`
	PendingMoveID    string     `dynamodbav:"pending_move_approval_id,omitempty"`
	SerialNumber     string     `dynamodbav:"serial_number,omitempty"`
	NotBefore        *time.Time `dynamodbav:"not_before,omitempty"`
	ExpiresAt        *time.Time `dynamodbav:"expires_at,omitempty"`
	RenewAt          *time.Time `dynamodbav:"renew_at,omitempty"`
	LastRenewalAt    *time.Time `dynamodbav:"last_renewal_at,omitempty"`
	RevokedAt        *time.Time `dynamodbav:"revoked_at,omitempty"`
	RevocationReason string     `dynamodbav:"revocation_reason,omitempty"`
	ArchivedAt       *time.Time `dynamodbav:"archived_at,omitempty"`
	CreatedBy        string     `dynamodbav:"created_by"`
	CreatedAt        time.Time  `dynamodbav:"created_at"`
	UpdatedAt        time.Time  `dynamodbav:"updated_at"`
}

// dueSK places a certificate in the due index at t.
func dueSK(t time.Time, certID string) string { return sortKey(t, certID) }

func certItemOf(c *domain.Certificate) *certItem {
	it := &certItem{
		itemKey: certKey(c.ID), listKey: listed(tagCert, c.CreatedAt, c.ID),
		ID: c.ID, CommonName: c.CommonName, SANs: c.SANs, ProfileID: c.ProfileID, IssuerID: c.IssuerID,
		Status: string(c.Status), CSR: c.CSR, KeyAlgorithm: c.KeyAlgorithm, CurrentJobID: c.CurrentJobID, PendingMoveID: c.PendingMoveID,
		SerialNumber: c.SerialNumber, NotBefore: c.NotBefore, ExpiresAt: c.ExpiresAt, RenewAt: c.RenewAt,
		LastRenewalAt: c.LastRenewalAt, RevokedAt: c.RevokedAt, RevocationReason: c.RevocationReason, ArchivedAt: c.ArchivedAt,
		CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if c.RenewAt != nil && c.CurrentJobID == "" && !c.Retired() {
		it.DuePK, it.DueSK = duePartition, dueSK(*c.RenewAt, c.ID)
	}
	return it
}

func (it *certItem) toDomain() *domain.Certificate {
	return &domain.Certificate{
		ID: it.ID, CommonName: it.CommonName, SANs: it.SANs, ProfileID: it.ProfileID, IssuerID: it.IssuerID,
		Status: domain.CertStatus(it.Status), CSR: it.CSR, KeyAlgorithm: it.KeyAlgorithm, CurrentJobID: it.CurrentJobID, PendingMoveID: it.PendingMoveID,
		SerialNumber: it.SerialNumber, NotBefore: it.NotBefore, ExpiresAt: it.ExpiresAt, RenewAt: it.RenewAt,
		LastRenewalAt: it.LastRenewalAt, RevokedAt: it.RevokedAt, RevocationReason: it.RevocationReason, ArchivedAt: it.ArchivedAt,
		CreatedBy: it.CreatedBy, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
}

// jobItem is a job. A new job with an execution input also enters the
// start queue (the sparse pending index, partition START) until its
// execution is confirmed started; the reaper starts what a crash left
// there. CSR and PrevCertStatus are never shown by the API, but stored.
type jobItem struct {
	itemKey
	listKey
	ParentPK         string                `dynamodbav:"parent_pk"`
	ParentSK         string                `dynamodbav:"parent_sk"`
	PendingPK        string                `dynamodbav:"pending_pk,omitempty"`
	PendingSK        string                `dynamodbav:"pending_sk,omitempty"`
	StartInput       string                `dynamodbav:"start_input,omitempty"`
	ID               string                `dynamodbav:"id"`
	CertificateID    string                `dynamodbav:"certificate_id"`
	ProfileID        string                `dynamodbav:"profile_id"`
	Type             string                `dynamodbav:"type"`
	Status           string                `dynamodbav:"status"`
	RequiresApproval bool                  `dynamodbav:"requires_approval"`
	ApprovalID       string                `dynamodbav:"approval_id,omitempty"`
	RequestedBy      string                `dynamodbav:"requested_by"`
	RequestReason    string                `dynamodbav:"request_reason,omitempty"`
	Subject          *subjectRecord        `dynamodbav:"subject,omitempty"`
	ExecutionARN     string                `dynamodbav:"execution_arn,omitempty"`
	Error            string                `dynamodbav:"error,omitempty"`
	Delivery         *deliveryStatusRecord `dynamodbav:"delivery,omitempty"`
	CSR              string                `dynamodbav:"csr_pem"`
	PrevCertStatus   string                `dynamodbav:"prev_cert_status"`
	CreatedAt        time.Time             `dynamodbav:"created_at"`
	UpdatedAt        time.Time             `dynamodbav:"updated_at"`
	CompletedAt      *time.Time            `dynamodbav:"completed_at,omitempty"`
}

func jobItemOf(j *domain.Job, startInput string) *jobItem {
	it := &jobItem{
		itemKey: jobKey(j.ID), listKey: listed(tagJob, j.CreatedAt, j.ID),
		ParentPK: jobsOf(j.CertificateID), ParentSK: sortKey(j.CreatedAt, j.ID),
		ID: j.ID, CertificateID: j.CertificateID, ProfileID: j.ProfileID, Type: string(j.Type), Status: string(j.Status),
		RequiresApproval: j.RequiresApproval, ApprovalID: j.ApprovalID, RequestedBy: j.RequestedBy, RequestReason: j.RequestReason,
		Subject: subjectRecordOf(j.Subject), ExecutionARN: j.ExecutionARN, Error: j.Error, Delivery: deliveryStatusRecordOf(j.Delivery), CSR: j.CSR,
		PrevCertStatus: string(j.PrevCertStatus), CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, CompletedAt: j.CompletedAt,
	}
	if startInput != "" {
		it.StartInput, it.PendingPK, it.PendingSK = startInput, startPartition, sortKey(j.CreatedAt, j.ID)
	}
	return it
}

func (it *jobItem) toDomain() *domain.Job {
	return &domain.Job{
		ID: it.ID, CertificateID: it.CertificateID, ProfileID: it.ProfileID, Type: domain.JobType(it.Type),
		Status: domain.JobStatus(it.Status), RequiresApproval: it.RequiresApproval, ApprovalID: it.ApprovalID,
		RequestedBy: it.RequestedBy, RequestReason: it.RequestReason, Subject: it.Subject.toDomain(), ExecutionARN: it.ExecutionARN, Error: it.Error,
		Delivery: it.Delivery.toDomain(),
		CSR:      it.CSR, PrevCertStatus: domain.CertStatus(it.PrevCertStatus), CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
		CompletedAt: it.CompletedAt,
	}
}

func (it *jobItem) pendingStart() workflow.PendingStart {
	return workflow.PendingStart{JobID: it.ID, Input: it.StartInput}
}

// approvalItem is an approval request. A pending one is in the pending
// index (partition PENDING); a decided one waiting for its hand-off, in
// partition HANDOFF. The task token is a bearer capability the API never
// shows; it is stored only once an execution waits.
type approvalItem struct {
	itemKey
	listKey
	PendingPK      string              `dynamodbav:"pending_pk,omitempty"`
	PendingSK      string              `dynamodbav:"pending_sk,omitempty"`
	ParentPK       string              `dynamodbav:"parent_pk,omitempty"`
	ParentSK       string              `dynamodbav:"parent_sk,omitempty"`
	ID             string              `dynamodbav:"id"`
	Kind           string              `dynamodbav:"kind"`
	State          string              `dynamodbav:"state"`
	JobID          string              `dynamodbav:"job_id,omitempty"`
	CertificateID  string              `dynamodbav:"certificate_id,omitempty"`
	ProfileID      string              `dynamodbav:"profile_id"`
	RequestedBy    string              `dynamodbav:"requested_by"`
	RequestedType  string              `dynamodbav:"requested_by_type"`
	DecidedBy      string              `dynamodbav:"decided_by,omitempty"`
	DecidedType    string              `dynamodbav:"decided_by_type,omitempty"`
	Note           string              `dynamodbav:"note,omitempty"`
	Reason         string              `dynamodbav:"reason,omitempty"`
	RequestReason  string              `dynamodbav:"request_reason,omitempty"`
	Subject        *subjectRecord      `dynamodbav:"subject,omitempty"`
	ProfileEdit    *profileEditRecord  `dynamodbav:"profile_edit,omitempty"`
	Move           *moveRecord         `dynamodbav:"move,omitempty"`
	ApproverPool   *approverPoolRecord `dynamodbav:"approver_pool,omitempty"`
	ApprovalPolicy []factorRecord      `dynamodbav:"approval_policy,omitempty"`
	Votes          []voteRecord        `dynamodbav:"votes,omitempty"`
	CreatedAt      time.Time           `dynamodbav:"created_at"`
	ExpiresAt      time.Time           `dynamodbav:"expires_at"`
	DecidedAt      *time.Time          `dynamodbav:"decided_at,omitempty"`
	TaskToken      string              `dynamodbav:"task_token,omitempty"`
	PrevCertStatus string              `dynamodbav:"prev_cert_status"`
}

func approvalItemOf(a *domain.Approval) (*approvalItem, error) {
	edit, err := profileEditRecordOf(a.ProfileEdit)
	if err != nil {
		return nil, err
	}
	it := &approvalItem{
		itemKey: approvalKey(a.ID), listKey: listed(tagApproval, a.CreatedAt, a.ID),
		ID: a.ID, Kind: string(a.Kind), State: string(a.State), JobID: a.JobID, CertificateID: a.CertificateID,
		ProfileID: a.ProfileID, RequestedBy: a.RequestedBy, RequestedType: string(a.RequestedType),
		DecidedBy: a.DecidedBy, DecidedType: string(a.DecidedType), Note: a.Note, Reason: a.Reason, RequestReason: a.RequestReason,
		Subject: subjectRecordOf(a.Subject), ProfileEdit: edit, Move: moveRecordOf(a.Move), ApproverPool: approverPoolRecordOf(a.ApproverPool),
		ApprovalPolicy: policyRecordOf(a.ApprovalPolicy), Votes: votesRecordOf(a.Votes),
		CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt, DecidedAt: a.DecidedAt, TaskToken: a.TaskToken,
		PrevCertStatus: string(a.PrevCertStatus),
	}
	if a.State == domain.ApprovalPending {
		it.PendingPK, it.PendingSK = pendingPartition, sortKey(a.CreatedAt, a.ID)
	}
	if a.Kind == domain.KindCertificateMove {
		// Found with the certificate's other records when it is deleted.
		it.ParentPK, it.ParentSK = movesOf(a.CertificateID), sortKey(a.CreatedAt, a.ID)
	}
	return it, nil
}

func (it *approvalItem) toDomain() *domain.Approval {
	return &domain.Approval{
		ID: it.ID, Kind: domain.ApprovalKind(it.Kind), State: domain.ApprovalState(it.State), JobID: it.JobID,
		CertificateID: it.CertificateID, ProfileID: it.ProfileID, RequestedBy: it.RequestedBy,
		RequestedType: domain.ActorType(it.RequestedType), DecidedBy: it.DecidedBy, DecidedType: domain.ActorType(it.DecidedType),
		Note: it.Note, Reason: it.Reason, RequestReason: it.RequestReason, Subject: it.Subject.toDomain(), ProfileEdit: it.ProfileEdit.toDomain(),
		Move:         it.Move.toDomain(),
		ApproverPool: it.ApproverPool.toDomain(), ApprovalPolicy: policyOf(it.ApprovalPolicy), Votes: votesOf(it.Votes),
		CreatedAt: it.CreatedAt, ExpiresAt: it.ExpiresAt, DecidedAt: it.DecidedAt,
		TaskToken: it.TaskToken, PrevCertStatus: domain.CertStatus(it.PrevCertStatus),
	}
}

// versionItem is one issued certificate, under its certificate's
// partition.
type versionItem struct {
	itemKey
	CertificateID     string    `dynamodbav:"certificate_id"`
	JobID             string    `dynamodbav:"job_id"`
	SerialNumber      string    `dynamodbav:"serial_number"`
	NotBefore         time.Time `dynamodbav:"not_before"`
	NotAfter          time.Time `dynamodbav:"not_after"`
	FingerprintSHA256 string    `dynamodbav:"fingerprint_sha256"`
	PEMChain          string    `dynamodbav:"pem_chain"`
	IssuedAt          time.Time `dynamodbav:"issued_at"`
	GovernanceVersion *int64    `dynamodbav:"governance_version,omitempty"`
	// Set by a revocation (an update; a new version is never revoked).
	RevokedAt        *time.Time `dynamodbav:"revoked_at,omitempty"`
	RevocationReason string     `dynamodbav:"revocation_reason,omitempty"`
	RevokedBy        string     `dynamodbav:"revoked_by,omitempty"`
}

func versionItemOf(v *domain.CertificateVersion) *versionItem {
	return &versionItem{
		itemKey: versionKey(v.CertificateID, v.JobID), CertificateID: v.CertificateID, JobID: v.JobID,
		SerialNumber: v.SerialNumber, NotBefore: v.NotBefore, NotAfter: v.NotAfter, FingerprintSHA256: v.FingerprintSHA256,
		PEMChain: v.PEMChain, IssuedAt: v.IssuedAt, GovernanceVersion: v.GovernanceVersion,
		RevokedAt: v.RevokedAt, RevocationReason: v.RevocationReason, RevokedBy: v.RevokedBy,
	}
}

func (it *versionItem) toDomain() *domain.CertificateVersion {
	return &domain.CertificateVersion{
		CertificateID: it.CertificateID, JobID: it.JobID, SerialNumber: it.SerialNumber, NotBefore: it.NotBefore,
		NotAfter: it.NotAfter, FingerprintSHA256: it.FingerprintSHA256, PEMChain: it.PEMChain, IssuedAt: it.IssuedAt,
		GovernanceVersion: it.GovernanceVersion, RevokedAt: it.RevokedAt, RevocationReason: it.RevocationReason, RevokedBy: it.RevokedBy,
	}
}

// deliveryItem is one version waiting to be published, in the delivery
// queue (the pending index, partition DELIVERY) until every target holds
// it; it sits under its certificate's partition, so a deletion finds it.
type deliveryItem struct {
	itemKey
	PendingPK     string    `dynamodbav:"pending_pk,omitempty"`
	PendingSK     string    `dynamodbav:"pending_sk,omitempty"`
	JobID         string    `dynamodbav:"job_id"`
	CertificateID string    `dynamodbav:"certificate_id"`
	SerialNumber  string    `dynamodbav:"serial_number"`
	SSMParameter  string    `dynamodbav:"ssm_parameter,omitempty"`
	Secret        string    `dynamodbav:"secret,omitempty"`
	Attempts      int64     `dynamodbav:"attempts"`
	LastError     string    `dynamodbav:"last_error,omitempty"`
	CreatedAt     time.Time `dynamodbav:"created_at"`
}

func deliveryKey(certID, jobID string) itemKey {
	return itemKey{PK: certKey(certID).PK, SK: deliveryPrefix + jobID}
}

const deliveryPrefix = "DELIVERY#"

func deliveryItemOf(d *workflow.Delivery) *deliveryItem {
	return &deliveryItem{
		itemKey: deliveryKey(d.CertificateID, d.JobID), PendingPK: deliveryPartition, PendingSK: sortKey(d.CreatedAt, d.JobID),
		JobID: d.JobID, CertificateID: d.CertificateID, SerialNumber: d.SerialNumber,
		SSMParameter: d.Targets.SSMParameter, Secret: d.Targets.Secret, Attempts: d.Attempts, LastError: d.LastError, CreatedAt: d.CreatedAt,
	}
}

func (it *deliveryItem) toDomain() *workflow.Delivery {
	return &workflow.Delivery{
		JobID: it.JobID, CertificateID: it.CertificateID, SerialNumber: it.SerialNumber,
		Targets:  domain.DeliveryTargets{SSMParameter: it.SSMParameter, Secret: it.Secret},
		Attempts: it.Attempts, LastError: it.LastError, CreatedAt: it.CreatedAt,
	}
}

// revocationEntryItem is one revoked serial of an issuer, listed on its
// CRL until the certificate expires (then the CRL refresh deletes it). It
// outlives the certificate's own records.
type revocationEntryItem struct {
	itemKey
	IssuerID      string    `dynamodbav:"issuer_id"`
	SerialNumber  string    `dynamodbav:"serial_number"`
	CertificateID string    `dynamodbav:"certificate_id"`
	JobID         string    `dynamodbav:"job_id"`
	Reason        string    `dynamodbav:"reason"`
	RevokedAt     time.Time `dynamodbav:"revoked_at"`
	RevokedBy     string    `dynamodbav:"revoked_by"`
	NotAfter      time.Time `dynamodbav:"not_after"`
}

func revocationEntryItemOf(e *domain.RevocationEntry) *revocationEntryItem {
	return &revocationEntryItem{
		itemKey: revocationEntryKey(e.IssuerID, e.SerialNumber), IssuerID: e.IssuerID, SerialNumber: e.SerialNumber,
		CertificateID: e.CertificateID, JobID: e.JobID, Reason: e.Reason, RevokedAt: e.RevokedAt, RevokedBy: e.RevokedBy, NotAfter: e.NotAfter,
	}
}

func (it *revocationEntryItem) toDomain() *domain.RevocationEntry {
	return &domain.RevocationEntry{
		IssuerID: it.IssuerID, SerialNumber: it.SerialNumber, CertificateID: it.CertificateID, JobID: it.JobID,
		Reason: it.Reason, RevokedAt: it.RevokedAt, RevokedBy: it.RevokedBy, NotAfter: it.NotAfter,
	}
}

// crlItem is an issuer's CRL: the signed DER of the current one and the
// counters that say when to make it again. Only updates write it:
// revocations ADD to revision and entry_count, pruning subtracts from
// entry_count, and a publication SETs the rest if the number is still the
// one it followed.
type crlItem struct {
	itemKey
	IssuerID      string     `dynamodbav:"issuer_id"`
	Number        int64      `dynamodbav:"number"`
	DER           []byte     `dynamodbav:"der"`
	ThisUpdate    *time.Time `dynamodbav:"this_update"`
	NextUpdate    *time.Time `dynamodbav:"next_update"`
	Entries       int        `dynamodbav:"entries"`
	Revision      int64      `dynamodbav:"revision"`
	BuiltRevision int64      `dynamodbav:"built_revision"`
	EntryCount    int64      `dynamodbav:"entry_count"`
	UpdatedAt     *time.Time `dynamodbav:"updated_at"`
}

func (it *crlItem) toDomain() *domain.CRL {
	c := &domain.CRL{
		IssuerID: it.IssuerID, Number: it.Number, DER: it.DER, Entries: it.Entries,
		Revision: it.Revision, BuiltRevision: it.BuiltRevision, EntryCount: it.EntryCount,
	}
	if c.IssuerID == "" {
		c.IssuerID = it.PK[len(tagCRL)+1:]
	}
	if it.ThisUpdate != nil {
		c.ThisUpdate = *it.ThisUpdate
	}
	if it.NextUpdate != nil {
		c.NextUpdate = *it.NextUpdate
	}
	if it.UpdatedAt != nil {
		c.UpdatedAt = *it.UpdatedAt
	}
	return c
}

type issuerItem struct {
	itemKey
	ID        string    `dynamodbav:"id"`
	CAPEM     string    `dynamodbav:"ca_certificate_pem"`
	KeyID     string    `dynamodbav:"kms_key_id"`
	CreatedAt time.Time `dynamodbav:"created_at"`
}

func issuerItemOf(is *domain.Issuer) *issuerItem {
	return &issuerItem{itemKey: issuerKey(is.ID), ID: is.ID, CAPEM: is.CAPEM, KeyID: is.KeyID, CreatedAt: is.CreatedAt}
}

func (it *issuerItem) toDomain() *domain.Issuer {
	return &domain.Issuer{ID: it.ID, CAPEM: it.CAPEM, KeyID: it.KeyID, CreatedAt: it.CreatedAt}
}

// apiKeyItem is an API key under the SHA-256 of its secret (what the
// authorizer looks up).
type apiKeyItem struct {
	itemKey
	listKey
	ID        string     `dynamodbav:"id"`
	Hash      string     `dynamodbav:"hash"`
	Prefix    string     `dynamodbav:"prefix"`
	Principal string     `dynamodbav:"principal"`
	CreatedBy string     `dynamodbav:"created_by"`
	CreatedAt time.Time  `dynamodbav:"created_at"`
	ExpiresAt *time.Time `dynamodbav:"expires_at,omitempty"`
	RevokedAt *time.Time `dynamodbav:"revoked_at,omitempty"`
}

func apiKeyKey(hash string) itemKey { return entityKey(tagAPIKey, hash) }

func apiKeyItemOf(k *apikey.Key) *apiKeyItem {
	return &apiKeyItem{
		itemKey: apiKeyKey(k.Hash), listKey: listed(tagAPIKey, k.CreatedAt, k.ID),
		ID: k.ID, Hash: k.Hash, Prefix: k.Prefix, Principal: k.Principal, CreatedBy: k.CreatedBy,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt,
	}
}

func (it *apiKeyItem) toDomain() *apikey.Key {
	return &apikey.Key{
		ID: it.ID, Hash: it.Hash, Prefix: it.Prefix, Principal: it.Principal, CreatedBy: it.CreatedBy,
		CreatedAt: it.CreatedAt, ExpiresAt: it.ExpiresAt, RevokedAt: it.RevokedAt,
	}
}

// apiKeyIDItem finds a key's hash by the key's id (what revocation names).
type apiKeyIDItem struct {
	itemKey
	Hash string `dynamodbav:"hash"`
}

func apiKeyIDKey(id string) itemKey { return entityKey(tagAPIKeyID, id) }

func apiKeyIDItemOf(k *apikey.Key) *apiKeyIDItem {
	return &apiKeyIDItem{itemKey: apiKeyIDKey(k.ID), Hash: k.Hash}
}

func (it *apiKeyIDItem) hash() string { return it.Hash }

// principalItem is a principal's role set; it is listed by its last
// change.
type principalItem struct {
	itemKey
	listKey
	ID          string    `dynamodbav:"id"`
	Roles       []string  `dynamodbav:"roles"`
	Controllers []string  `dynamodbav:"controllers,stringset,omitempty"`
	UpdatedAt   time.Time `dynamodbav:"updated_at"`
}

func principalKey(id string) itemKey { return entityKey(tagPrincipal, id) }

func principalItemOf(p *domain.Principal) *principalItem {
	return &principalItem{
		itemKey: principalKey(p.ID), listKey: listed(tagPrincipal, p.UpdatedAt, p.ID),
		ID: p.ID, Roles: convert[string](p.Roles), Controllers: p.Controllers, UpdatedAt: p.UpdatedAt,
	}
}

func (it *principalItem) toDomain() *domain.Principal {
	return &domain.Principal{ID: it.ID, Roles: convert[domain.Role](it.Roles), Controllers: it.Controllers, UpdatedAt: it.UpdatedAt}
}

// adminsItem counts the principals holding admin, so the last one cannot
// lose it. It is only ever written with ADD.
type adminsItem struct {
	itemKey
	Count int64 `dynamodbav:"count"`
}

func adminsKey() itemKey { return itemKey{PK: "ADMINS", SK: "ADMINS"} }

// governanceItem carries the governance version (see profiles.go).
type governanceItem struct {
	itemKey
	Version int64 `dynamodbav:"version"`
}

func governanceKey() itemKey { return itemKey{PK: governancePK, SK: governancePK} }

func (it *governanceItem) version() int64 { return it.Version }

// markerItem counts the approval-tier profiles that govern a pattern.
type markerItem struct {
	itemKey
	Pattern string `dynamodbav:"pattern"`
	Count   int64  `dynamodbav:"count"`
}

// markerKey is where the marker of p lives. An exact DNS name's marker is
// kept in its parent zone's partition (the first label as sort key), so a
// wildcard *.zone can find every governed name it would cover with one
// query; other patterns have a partition each.
func markerKey(p domain.NamePattern) itemKey {
	if zone, label, ok := zoneChild(p); ok {
		return itemKey{PK: zonePrefix + zone, SK: label}
	}
	return itemKey{PK: markerPrefix + string(p), SK: "GOV"}
}

// zoneChild splits an exact DNS name pattern into its parent zone and first
// label; ok is false for wildcards, IP addresses and single-label names.
func zoneChild(p domain.NamePattern) (zone, label string, ok bool) {
	name := string(p)
	if strings.HasPrefix(name, "*") || strings.Count(name, ".") < 2 {
		return "", "", false
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "", "", false
	}
	label, zone, _ = strings.Cut(name, ".")
	return zone, label, true
}

func (it *markerItem) governed() (domain.NamePattern, bool) {
	return domain.NamePattern(it.Pattern), it.Count > 0
}

// metricItem is one decision series: counts by outcome and profile, and
// the pending-age histogram, whose bucket attributes (bucketAttr) are
// read by name.
type metricItem struct {
	itemKey
	listKey
	Outcome    string  `dynamodbav:"outcome"`
	ProfileID  string  `dynamodbav:"profile_id"`
	Count      int64   `dynamodbav:"count"`
	SumSeconds float64 `dynamodbav:"sum_seconds"`
}

// --- The audit table ------------------------------------------------------

// auditItem is one audit row: the details as JSON text, the time as
// RFC 3339 and as the day it falls in (the by_day index).
type auditItem struct {
	itemKey
	ID           string `dynamodbav:"id"`
	Actor        string `dynamodbav:"actor"`
	ActorType    string `dynamodbav:"actor_type"`
	Action       string `dynamodbav:"action"`
	ResourceType string `dynamodbav:"resource_type"`
	ResourceID   string `dynamodbav:"resource_id"`
	Details      string `dynamodbav:"details"`
	TS           string `dynamodbav:"ts"`
	Day          string `dynamodbav:"day"`
}

const dayLayout = "2006-01-02"

// auditItemOf renders an event, first giving it an id and a time if it
// has none: the id makes the row's key unique to its transaction.
func auditItemOf(ev *domain.AuditEvent) (*auditItem, error) {
	if ev.ID == "" {
		ev.ID = ulid.Make().String()
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = time.Now().UTC()
	}
	details, err := json.Marshal(ev.Details)
	if err != nil {
		return nil, fmt.Errorf("store: audit details: %w", err)
	}
	return &auditItem{
		itemKey: auditKey(ev), ID: ev.ID, Actor: ev.Actor, ActorType: string(ev.ActorType), Action: ev.Action,
		ResourceType: ev.ResourceType, ResourceID: ev.ResourceID, Details: string(details),
		TS: stamp(ev.Timestamp), Day: ev.Timestamp.UTC().Format(dayLayout),
	}, nil
}

func auditFromItem(item map[string]types.AttributeValue) (*domain.AuditEvent, error) {
	var it auditItem
	if err := unmarshalItem(item, &it); err != nil {
		return nil, err
	}
	return it.toDomain()
}

func (it *auditItem) toDomain() (*domain.AuditEvent, error) {
	ev := &domain.AuditEvent{
		ID: it.ID, Actor: it.Actor, ActorType: domain.ActorType(it.ActorType), Action: it.Action,
		ResourceType: it.ResourceType, ResourceID: it.ResourceID,
	}
	if it.Details != "" && it.Details != "null" {
		if err := json.Unmarshal([]byte(it.Details), &ev.Details); err != nil {
			return nil, fmt.Errorf("store: audit details: %w", err)
		}
	}
	ts, err := time.Parse(time.RFC3339Nano, it.TS)
	if err != nil {
		return nil, fmt.Errorf("store: audit ts: %w", err)
	}
	ev.Timestamp = ts
	return ev, nil
}
