package store

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

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
	PendingPK     string   `dynamodbav:"pending_pk,omitempty"` // EXPIRY until its expiry warning
	PendingSK     string   `dynamodbav:"pending_sk,omitempty"`
	DuePK         string   `dynamodbav:"due_pk,omitempty"`
	DueSK         string   `dynamodbav:"due_sk,omitempty"`
	ID            string   `dynamodbav:"id"`
	CommonName    string   `dynamodbav:"common_name"`
	SANs          []string `dynamodbav:"sans"`
	ProfileID     string   `dynamodbav:"profile_id"`
	IssuerID      string   `dynamodbav:"issuer_id"`
	Status        string   `dynamodbav:"status"`
	CSR           string   `dynamodbav:"csr"`
	KeyAlgorithm  string   `dynamodbav:"key_algorithm"`
	CurrentJobID  string   `dynamodbav:"current_job_id,omitempty"`
	PendingMoveID string   `dynamodbav:"pending_move_approval_id,omitempty"`
	// MoveRequests counts the move requests made for the certificate and
	// not yet deleted with it: its deletion waits until every one is
	// found, whatever the by_parent index lags behind.
	MoveRequests     int64      `dynamodbav:"move_requests,omitempty"`
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

// expirySK places a certificate in the expiry queue at its not_after.
func expirySK(notAfter time.Time, certID string) string { return sortKey(notAfter, certID) }

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
	Notify           []string              `dynamodbav:"notify,omitempty"`
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
		RequiresApproval: j.RequiresApproval, ApprovalID: j.ApprovalID, RequestedBy: j.RequestedBy, RequestReason: j.RequestReason, Notify: j.Notify,
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
		RequestedBy: it.RequestedBy, RequestReason: it.RequestReason, Notify: it.Notify, Subject: it.Subject.toDomain(), ExecutionARN: it.ExecutionARN, Error: it.Error,
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
	Notify         []string            `dynamodbav:"notify,omitempty"`
	RemindersSent  int                 `dynamodbav:"reminders_sent,omitempty"`
	EscalatedAt    *time.Time          `dynamodbav:"escalated_at,omitempty"`
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
		Notify: a.Notify, RemindersSent: a.RemindersSent, EscalatedAt: a.EscalatedAt, CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt, DecidedAt: a.DecidedAt, TaskToken: a.TaskToken,
		PrevCertStatus: string(a.PrevCertStatus),
	}
	switch {
	case a.State == domain.ApprovalPending:
		// by_parent: its profile's pending requests, oldest first (the
		// pending-age gauge), until it is decided (decidedParent).
		it.PendingPK, it.PendingSK = pendingPartition, sortKey(a.CreatedAt, a.ID)
		it.ParentPK, it.ParentSK = pendingOfProfile(a.ProfileID), sortKey(a.CreatedAt, a.ID)
	case a.Kind == domain.KindCertificateMove:
		it.ParentPK, it.ParentSK = decidedParent(a)
	}
	return it, nil
}

// decidedParent is a decided request's by_parent key: a move request's
// is its certificate's moves, where deleting the certificate finds it (a
// certificate with a move pending cannot be archived, so every move
// request is decided by then); other requests leave the index.
func decidedParent(a *domain.Approval) (pk, sk string) {
	if a.Kind != domain.KindCertificateMove {
		return "", ""
	}
	return movesOf(a.CertificateID), sortKey(a.CreatedAt, a.ID)
}

func (it *approvalItem) toDomain() *domain.Approval {
	return &domain.Approval{
		ID: it.ID, Kind: domain.ApprovalKind(it.Kind), State: domain.ApprovalState(it.State), JobID: it.JobID,
		CertificateID: it.CertificateID, ProfileID: it.ProfileID, RequestedBy: it.RequestedBy,
		RequestedType: domain.ActorType(it.RequestedType), DecidedBy: it.DecidedBy, DecidedType: domain.ActorType(it.DecidedType),
		Note: it.Note, Reason: it.Reason, RequestReason: it.RequestReason, Subject: it.Subject.toDomain(), ProfileEdit: it.ProfileEdit.toDomain(),
		Move:         it.Move.toDomain(),
		ApproverPool: it.ApproverPool.toDomain(), ApprovalPolicy: policyOf(it.ApprovalPolicy), Votes: votesOf(it.Votes),
		Notify: it.Notify, RemindersSent: it.RemindersSent, EscalatedAt: it.EscalatedAt,
		Gauged: strings.HasPrefix(it.ParentPK, pendingOfProfile("")), CreatedAt: it.CreatedAt, ExpiresAt: it.ExpiresAt, DecidedAt: it.DecidedAt,
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

// pendingCountItem counts one profile's pending requests: ADD +1 in the
// transaction that makes a request, -1 in the one that decides it.
type pendingCountItem struct {
	itemKey
	listKey
	ProfileID string `dynamodbav:"profile_id"`
	Count     int64  `dynamodbav:"count"`
}

// pendingCountPartition lists the counters (list index).
const pendingCountPartition = "METRIC_PENDING"

func pendingCountKey(profileID string) itemKey {
	return itemKey{PK: pendingCountPartition + "#" + profileID, SK: "METRIC"}
}

// outboxItem is one event of a committed transition, in the OUTBOX queue
// until it is confirmed published. Its key is the event's (and the audit
// row's) id.
type outboxItem struct {
	itemKey
	PendingPK  string    `dynamodbav:"pending_pk"`
	PendingSK  string    `dynamodbav:"pending_sk"`
	ID         string    `dynamodbav:"id"`
	DetailType string    `dynamodbav:"detail_type"`
	Detail     string    `dynamodbav:"detail"`
	CreatedAt  time.Time `dynamodbav:"created_at"`
}

func outboxKey(id string) itemKey { return entityKey(tagOutbox, id) }

func outboxItemOf(n *domain.Notice) *outboxItem {
	return &outboxItem{
		itemKey: outboxKey(n.ID), PendingPK: outboxPartition, PendingSK: sortKey(n.Time, n.ID),
		ID: n.ID, DetailType: n.Type, Detail: string(n.Detail), CreatedAt: n.Time,
	}
}

func (it *outboxItem) toDomain() domain.Notice {
	return domain.Notice{ID: it.ID, Type: it.DetailType, Time: it.CreatedAt, Detail: json.RawMessage(it.Detail)}
}

// --- The audit table ------------------------------------------------------

// auditItem is one audit row: the details as JSON text, the time as
// RFC 3339 and as the day it falls in (the by_day index), and its link in
// its shard's hash chain (chain.go; pkg/auditchain defines the hash),
// set when the row is committed.
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
	Chain        string `dynamodbav:"chain,omitempty"`
	ChainSeq     string `dynamodbav:"chain_seq,omitempty"`
	PrevHash     string `dynamodbav:"prev_hash,omitempty"`
	RowHash      string `dynamodbav:"row_hash,omitempty"`
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
