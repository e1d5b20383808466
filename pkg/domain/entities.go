package domain

import (
	"slices"
	"strings"
	"time"
)

// Profile is certificate policy: which keys are allowed, how long a
// certificate lives, when it renews, and whether issuance needs approval.
type Profile struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	RequiresApproval bool   `json:"requires_approval"`
	// AllowedNames are the names the profile may issue; for an
	// approval-tier profile, also the names it governs (see NamePattern).
	AllowedNames         []NamePattern `json:"allowed_names"`
	AllowedKeyAlgorithms []string      `json:"allowed_key_algorithms"`
	MaxValiditySeconds   int64         `json:"max_validity_seconds"`
	RenewBeforeSeconds   int64         `json:"renew_before_seconds"`
	IssuerID             string        `json:"issuer_id"`
	// Approvers, when set, limits who may approve this profile's requests.
	Approvers *ApproverPool `json:"approvers,omitempty"`
	// Delivery, when set, names where each new version's PEM chain is
	// published.
	Delivery *DeliveryTargets `json:"delivery,omitempty"`
	// RequiredApprovals is how many distinct actors must approve a request
	// (1 to MaxRequiredApprovals): from Approvers (the simple form), or in
	// all across ApprovalPolicy's factors when it has any (the general
	// form; then Approvers is empty).
	RequiredApprovals int            `json:"required_approvals"`
	ApprovalPolicy    ApprovalPolicy `json:"approval_policy,omitempty"`
	// Notify names the notification targets (configured at deploy) told
	// about this profile's requests and certificates; empty means the
	// stage's default targets.
	Notify  []string `json:"notify,omitempty"`
	Version int64    `json:"version"`
	// PendingEditID names the profile_edit request awaiting a decision; at
	// most one exists per profile.
	PendingEditID string `json:"pending_edit_approval_id,omitempty"`
	// CertificateCount is how many certificates use the profile; one in use
	// cannot be deleted.
	CertificateCount int64     `json:"certificate_count"`
	CreatedBy        string    `json:"created_by"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Certificate is a managed certificate: the names and CSR it is issued for,
// and where it stands in its lifecycle.
type Certificate struct {
	ID           string     `json:"id"`
	CommonName   string     `json:"common_name"`
	SANs         []string   `json:"sans"`
	ProfileID    string     `json:"profile_id"`
	IssuerID     string     `json:"issuer_id"`
	Status       CertStatus `json:"status"`
	CSR          string     `json:"csr"`
	KeyAlgorithm string     `json:"key_algorithm"`
	// CurrentJobID is set while an issuance or renewal is in flight; it is
	// what makes "at most one renewal in flight" a conditional write.
	CurrentJobID string `json:"current_job_id,omitempty"`
	// PendingMoveID names the certificate_move request awaiting a
	// decision; at most one exists per certificate.
	PendingMoveID string     `json:"pending_move_approval_id,omitempty"`
	SerialNumber  string     `json:"serial_number,omitempty"`
	NotBefore     *time.Time `json:"not_before,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	RenewAt       *time.Time `json:"renew_at,omitempty"`
	LastRenewalAt *time.Time `json:"last_renewal_at,omitempty"`
	// RevokedAt and RevocationReason are set once its current version (or
	// every version) was revoked; ArchivedAt once it was archived.
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	ArchivedAt       *time.Time `json:"archived_at,omitempty"`
	CreatedBy        string     `json:"created_by"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// DuePK reports whether the certificate is in the sweep's index: issued,
// idle and not retired.
func (c *Certificate) DuePK() bool { return c.RenewAt != nil && c.CurrentJobID == "" && !c.Retired() }

// Retired reports whether the certificate is Revoked or Archived: it is
// never renewed or issued again.
func (c *Certificate) Retired() bool { return c.Status.Retired() }

// CertificateVersion is one issued certificate.
type CertificateVersion struct {
	CertificateID     string    `json:"certificate_id"`
	JobID             string    `json:"job_id"`
	SerialNumber      string    `json:"serial_number"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
	PEMChain          string    `json:"pem_chain"`
	IssuedAt          time.Time `json:"issued_at"`
	// GovernanceVersion, for a certificate issued without approval, is the
	// governance version under which none of its names was governed.
	GovernanceVersion *int64 `json:"governance_version,omitempty"`
	// RevokedAt, RevocationReason (an RFC 5280 reason name) and RevokedBy
	// are set once the version is revoked; it is on its issuer's CRL
	// until it expires.
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	RevokedBy        string     `json:"revoked_by,omitempty"`
}

// Job is one issuance or renewal: one Step Functions execution.
type Job struct {
	ID               string    `json:"id"`
	CertificateID    string    `json:"certificate_id"`
	ProfileID        string    `json:"profile_id"`
	Type             JobType   `json:"type"`
	Status           JobStatus `json:"status"`
	RequiresApproval bool      `json:"requires_approval"`
	ApprovalID       string    `json:"approval_id,omitempty"`
	RequestedBy      string    `json:"requested_by"`
	// Notify is the profile's notification targets when the job was planned.
	Notify []string `json:"-"`
	// RequestReason is why the requester asked (a ticket, a why).
	RequestReason string `json:"request_reason,omitempty"`
	// Subject is what the job issues (and, when gated, what was approved).
	Subject      *Subject `json:"subject,omitempty"`
	ExecutionARN string   `json:"execution_arn,omitempty"`
	Error        string   `json:"error,omitempty"`
	// Delivery is where the version the job issued is published, and how
	// that went.
	Delivery *DeliveryStatus `json:"delivery,omitempty"`
	CSR      string          `json:"-"`
	// PrevCertStatus is the certificate's status before this job started, so a
	// rejected, expired or failed job can put it back.
	PrevCertStatus CertStatus `json:"-"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
}

// Subject is exactly what a job issues, and so what an approver approves:
// every name the certificate carries (the common name included), the key
// (by the SHA-256 of its SubjectPublicKeyInfo), the validity, the issuer
// and the extensions. The issue step signs this and nothing else, and
// never more than the profile allows when it signs.
type Subject struct {
	CommonName      string   `json:"common_name"`
	DNSNames        []string `json:"dns_names"`
	IPAddresses     []string `json:"ip_addresses"`
	KeyAlgorithm    string   `json:"key_algorithm"`
	PublicKeySHA256 string   `json:"public_key_sha256"`
	ValiditySeconds int64    `json:"validity_seconds"`
	IssuerID        string   `json:"issuer_id"`
	KeyUsage        []string `json:"key_usage"`
	ExtKeyUsage     []string `json:"ext_key_usage"`
	ProfileID       string   `json:"profile_id"`
	ProfileVersion  int64    `json:"profile_version"`
	ProfileName     string   `json:"profile_name,omitempty"`
	// KeyChanged, for a renewal, says whether the key differs from the
	// last version's (PreviousPublicKeySHA256); absent for a first
	// issuance.
	KeyChanged              *bool  `json:"key_changed,omitempty"`
	PreviousPublicKeySHA256 string `json:"previous_public_key_sha256,omitempty"`
}

// Names returns every name of the subject: DNS names, then IP addresses.
func (s *Subject) Names() []string {
	return append(append([]string{}, s.DNSNames...), s.IPAddresses...)
}

// DeliveryTargets name where a profile's certificates are published after
// each issuance: an SSM Parameter Store parameter and/or a Secrets Manager
// secret, receiving the PEM chain (leaf, then CA; never a private key,
// which this service never holds). {certificate_id} in a name is the
// certificate's id.
type DeliveryTargets struct {
	SSMParameter string `json:"ssm_parameter,omitempty"`
	Secret       string `json:"secret,omitempty"`
}

// Empty reports whether no target is named.
func (t *DeliveryTargets) Empty() bool { return t == nil || (t.SSMParameter == "" && t.Secret == "") }

// For is the targets of one certificate: the placeholder replaced.
func (t *DeliveryTargets) For(certID string) *DeliveryTargets {
	if t.Empty() {
		return nil
	}
	return &DeliveryTargets{
		SSMParameter: strings.ReplaceAll(t.SSMParameter, CertificateIDPlaceholder, certID),
		Secret:       strings.ReplaceAll(t.Secret, CertificateIDPlaceholder, certID),
	}
}

// CertificateIDPlaceholder in a delivery target is the certificate's id.
const CertificateIDPlaceholder = "{certificate_id}"

// Delivery states.
const (
	DeliveryPending    = "pending"    // queued, not attempted yet
	DeliveryRetrying   = "retrying"   // an attempt failed; the reaper tries again
	DeliveryDelivered  = "delivered"  // every target holds this version's chain
	DeliverySuperseded = "superseded" // a newer version is delivered instead
	DeliveryDropped    = "dropped"    // revoked before it was published: never published
)

// DeliveryStatus is how a job's version was published.
type DeliveryStatus struct {
	Status       string     `json:"status"`
	SSMParameter string     `json:"ssm_parameter,omitempty"`
	Secret       string     `json:"secret,omitempty"`
	Attempts     int64      `json:"attempts"`
	LastError    string     `json:"last_error,omitempty"`
	DeliveredAt  *time.Time `json:"delivered_at,omitempty"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// ApproverPool names the principals, and the roles, allowed to approve.
type ApproverPool struct {
	Principals []string `json:"principals,omitempty"`
	Roles      []Role   `json:"roles,omitempty"`
}

// Allows reports whether actor may decide requests under the pool. An empty
// or absent pool allows every approver.
func (p *ApproverPool) Allows(actor Actor) bool {
	if p == nil || (len(p.Principals) == 0 && len(p.Roles) == 0) {
		return true
	}
	for _, id := range p.Principals {
		// A role id (iam:…:role/name) admits every session of that role:
		// the role itself when its sessions are one actor, else each
		// person, who carries the role as an alias.
		if id == actor.ID || slices.Contains(actor.Aliases, id) {
			return true
		}
	}
	return len(p.Roles) > 0 && actor.Has(p.Roles...)
}

// ProfileEdit is a gated change to a profile: the proposal, the version it
// was based on, and what it changes.
type ProfileEdit struct {
	BaseVersion int64             `json:"base_version"`
	Create      bool              `json:"create,omitempty"`
	Delete      bool              `json:"delete,omitempty"`
	Base        *Profile          `json:"base,omitempty"`
	Proposed    *Profile          `json:"proposed,omitempty"`
	Diff        map[string]Change `json:"diff"`
}

// Change is one field's old and new value.
type Change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// ProfileRef names a profile as a request saw it.
type ProfileRef struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Version          int64  `json:"version"`
	RequiresApproval bool   `json:"requires_approval"`
}

// RefOf is the reference to p.
func RefOf(p *Profile) ProfileRef {
	return ProfileRef{ID: p.ID, Name: p.Name, Version: p.Version, RequiresApproval: p.RequiresApproval}
}

// CertificateMove is a certificate's move to another profile: every name
// the certificate carries (the common name included), the profile it
// leaves and the one it joins (at the version its names were checked
// against). Moving into, out of or between approval-tier profiles changes
// the gate, so it waits for a second person.
type CertificateMove struct {
	From        ProfileRef `json:"from"`
	To          ProfileRef `json:"to"`
	CommonName  string     `json:"common_name"`
	DNSNames    []string   `json:"dns_names"`
	IPAddresses []string   `json:"ip_addresses"`
	// FromPolicy, when both profiles are approval-tier, is the source
	// profile's approval policy when the move was requested (the request's
	// own policy is the target's): every voter must be admitted by both,
	// and the votes must satisfy both, so neither profile's rule is a way
	// out of the other's (see Approval.Quorum).
	FromPolicy ApprovalPolicy `json:"from_policy,omitempty"`
}

// Policy is the request's approval policy: its snapshot, or for a request
// stored before policies existed, one approval from its pool.
func (a *Approval) Policy() ApprovalPolicy {
	if len(a.ApprovalPolicy) > 0 {
		return a.ApprovalPolicy
	}
	return SimplePolicy(a.ApproverPool, 1)
}

// VoteBy returns the id under which actor has voted on the request (its
// own, or one of the ids it answers to), or "".
func (a *Approval) VoteBy(actor Actor) string {
	for _, v := range a.Votes {
		if actor.Is(v.Actor) {
			return v.Actor
		}
	}
	return ""
}

// Policy is the profile's approval policy as its requests snapshot it.
func (p *Profile) Policy() ApprovalPolicy {
	if len(p.ApprovalPolicy) > 0 {
		return p.ApprovalPolicy.Clone()
	}
	return SimplePolicy(p.Approvers.Clone(), p.RequiredApprovals)
}

// Approval is a two-person-integrity request. The task token that resumes the
// waiting execution is kept server-side and never serialised.
type Approval struct {
	ID            string        `json:"id"`
	Kind          ApprovalKind  `json:"kind"`
	State         ApprovalState `json:"state"`
	JobID         string        `json:"job_id,omitempty"`
	CertificateID string        `json:"certificate_id,omitempty"`
	ProfileID     string        `json:"profile_id"`
	RequestedBy   string        `json:"requested_by"`
	RequestedType ActorType     `json:"requested_by_type"`
	DecidedBy     string        `json:"decided_by,omitempty"`
	DecidedType   ActorType     `json:"decided_by_type,omitempty"`
	Note          string        `json:"note,omitempty"`
	// Reason is why the system decided it (expired, stale edit…).
	Reason string `json:"reason,omitempty"`
	// RequestReason is why the requester asked (a ticket, a why).
	RequestReason string       `json:"request_reason,omitempty"`
	Subject       *Subject     `json:"subject,omitempty"`
	ProfileEdit   *ProfileEdit `json:"profile_edit,omitempty"`
	// Move is what a certificate_move request moves, from where to where.
	Move *CertificateMove `json:"move,omitempty"`
	// ApproverPool is the profile's pool when the request was made.
	ApproverPool *ApproverPool `json:"approver_pool,omitempty"`
	// ApprovalPolicy is the profile's policy when the request was made
	// (its snapshot: a later change of the profile does not apply to the
	// request); Votes are the approvals so far, in order. A request is
	// approved by the vote that satisfies the policy.
	ApprovalPolicy ApprovalPolicy `json:"approval_policy,omitempty"`
	Votes          []Vote         `json:"votes"`
	// Notify is the profile's notification targets when the request was
	// made: who its events are for.
	Notify []string `json:"notify,omitempty"`
	// RemindersSent counts the reminders sent while it was pending;
	// EscalatedAt is when it was escalated, if it was.
	RemindersSent int        `json:"reminders_sent,omitempty"`
	EscalatedAt   *time.Time `json:"escalated_at,omitempty"`
	// Gauged says the request counts in its profile's pending gauge
	// (requests made before the gauge existed do not), so deciding it
	// counts it out.
	Gauged    bool       `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	// TaskToken resumes the waiting execution: a bearer capability, never
	// returned by the API.
	TaskToken string `json:"-"`
	// PrevCertStatus lets a rejection restore the certificate without
	// reading the job first.
	PrevCertStatus CertStatus `json:"-"`
}

// AuditEvent is one append-only audit row.
type AuditEvent struct {
	ID           string         `json:"id"`
	Actor        string         `json:"actor"`
	ActorType    ActorType      `json:"actor_type"`
	Action       string         `json:"action"`
	ResourceType string         `json:"resource_type"`
	ResourceID   string         `json:"resource_id"`
	Details      map[string]any `json:"details,omitempty"`
	Timestamp    time.Time      `json:"ts"`
	// Notice, when set, is the event the transition publishes: the store
	// writes it to the outbox with the row (see Notice). Never stored in
	// the row itself.
	Notice *Notice `json:"-"`
}

// Audit actions. These strings are a contract (README "Metrics and audit").
const (
	AuditRenewalTriggered     = "renewal_triggered"
	AuditApprovalRequested    = "approval_requested"
	AuditApprovalApproved     = "approval_approved"
	AuditApprovalRejected     = "approval_rejected"
	AuditApprovalExpired      = "approval_expired"
	AuditApprovalBypassed     = "approval_bypassed"
	AuditApprovalVote         = "approval_vote"
	AuditProfileEditRequested = "approval_profile_edit_requested"
	AuditProfileEditApplied   = "profile.edit_applied"
	AuditRenewalJobCompleted  = "renewal_job_completed"
	AuditRenewalJobFailed     = "renewal_job_failed"
	AuditProfileCreated       = "profile.created"
	AuditProfileUpdated       = "profile.updated"
	AuditProfileDeleted       = "profile.deleted"
	AuditCertificateCreated   = "certificate.created"
	AuditCertificateStatus    = "certificate.status_changed"
	AuditRenewalRefused       = "certificate.renewal_refused"
	AuditIssuerInitialized    = "issuer.initialized"
	AuditAPIKeyCreated        = "apikey.created"
	AuditAPIKeyRevoked        = "apikey.revoked"
	AuditRolesGranted         = "principal.roles_granted"
	// AuditApprovalReminder, AuditApprovalEscalated and AuditCertExpiring
	// are in events.go.
	AuditCertificateRevoked  = "certificate.revoked"
	AuditCRLPublished        = "crl.published"
	AuditCRLPruned           = "crl.entries_pruned"
	AuditCertificateArchived = "certificate.archived"
	AuditCertificatePurged   = "certificate.records_deleted"
	AuditCertificateDeleted  = "certificate.deleted"
	AuditMoveRequested       = "approval_certificate_move_requested"
	AuditCertificateMoved    = "certificate.moved"
	AuditDelivered           = "certificate.delivered"
	AuditDeliveryFailed      = "certificate.delivery_failed"
	AuditDeliverySuperseded  = "certificate.delivery_superseded"
	AuditDeliveryDropped     = "certificate.delivery_dropped"
)

// AuditActions lists every audit action, for validating filters.
var AuditActions = []string{
	AuditRenewalTriggered, AuditApprovalRequested, AuditApprovalApproved, AuditApprovalRejected,
	AuditApprovalExpired, AuditApprovalBypassed, AuditApprovalVote, AuditProfileEditRequested, AuditProfileEditApplied,
	AuditRenewalJobCompleted, AuditRenewalJobFailed, AuditProfileCreated, AuditProfileUpdated,
	AuditProfileDeleted, AuditCertificateCreated, AuditCertificateStatus, AuditRenewalRefused, AuditIssuerInitialized,
	AuditAPIKeyCreated, AuditAPIKeyRevoked, AuditRolesGranted,
	AuditApprovalReminder, AuditApprovalEscalated, AuditCertExpiring, AuditCertificateRevoked, AuditCRLPublished, AuditCRLPruned,
	AuditCertificateArchived, AuditCertificatePurged, AuditCertificateDeleted, AuditMoveRequested, AuditCertificateMoved,
	AuditDelivered, AuditDeliveryFailed, AuditDeliverySuperseded, AuditDeliveryDropped,
}

// PendingAgeBuckets are the upper bounds (seconds) of
// certctl_approval_pending_age_seconds; +Inf is implicit.
var PendingAgeBuckets = []int64{60, 300, 1800, 3600, 21600, 86400}
