package client

import (
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The entities themselves are pkg/domain's types, whose JSON is the API's:
// domain.Profile, domain.Certificate, domain.CertificateVersion, domain.Job
// and domain.AuditEvent. The request bodies and the few answers that are
// views rather than entities are mirrored here, so the client does not
// depend on the server's workflow and storage packages; a contract test
// checks that each mirror matches the server's type field for field.

// ProfileInput is the body of POST /profiles and PUT /profiles/{id}. Zero
// fields take the server's defaults; PUT replaces the whole profile.
type ProfileInput struct {
	ID                   string               `json:"id,omitempty"`
	Name                 string               `json:"name"`
	RequiresApproval     bool                 `json:"requires_approval"`
	AllowedKeyAlgorithms []string             `json:"allowed_key_algorithms,omitempty"`
	MaxValiditySeconds   int64                `json:"max_validity_seconds,omitempty"`
	RenewBeforeSeconds   int64                `json:"renew_before_seconds,omitempty"`
	IssuerID             string               `json:"issuer_id,omitempty"`
	Approvers            *domain.ApproverPool `json:"approvers,omitempty"`
}

// InputOf returns the writable part of p, for a read-modify-write update.
func InputOf(p *domain.Profile) ProfileInput {
	return ProfileInput{
		ID: p.ID, Name: p.Name, RequiresApproval: p.RequiresApproval,
		AllowedKeyAlgorithms: p.AllowedKeyAlgorithms, MaxValiditySeconds: p.MaxValiditySeconds,
		RenewBeforeSeconds: p.RenewBeforeSeconds, IssuerID: p.IssuerID, Approvers: p.Approvers,
	}
}

// PendingEdit is the 202 answer to a gated profile update or delete.
type PendingEdit struct {
	Status     string `json:"status"`
	ApprovalID string `json:"approval_id"`
}

// CertificateInput is the body of POST /certificates.
type CertificateInput struct {
	ID         string   `json:"id,omitempty"`
	CommonName string   `json:"common_name"`
	SANs       []string `json:"sans,omitempty"`
	ProfileID  string   `json:"profile_id"`
	CSR        string   `json:"csr"`
}

// Started is the answer to create and renew: the job started and, for an
// approval-tier profile, the request that gates it.
type Started struct {
	Certificate *domain.Certificate `json:"certificate,omitempty"`
	JobID       string              `json:"job_id"`
	ApprovalID  string              `json:"approval_id,omitempty"`
	Status      domain.JobStatus    `json:"status"`
}

// Approval is an approval request as shown to approvers.
type Approval struct {
	domain.Approval
	PendingAgeSeconds int64 `json:"pending_age_seconds"`
}

// Decision is the answer to approve and reject.
type Decision struct {
	ID        string `json:"id"`
	DecidedBy string `json:"decided_by"`
	Action    string `json:"action"`
}

// Issuer is a CA: its certificate once created ("active"), or
// "uninitialized" before the first issuance.
type Issuer struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	CAPEM     string     `json:"ca_certificate_pem,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

// KeyInput is the body of POST /apikeys.
type KeyInput struct {
	Principal string        `json:"principal,omitempty"`
	Roles     []domain.Role `json:"roles,omitempty"`
	ExpiresAt *time.Time    `json:"expires_at,omitempty"`
}

// Key is an API key as listed: never its secret.
type Key struct {
	ID        string     `json:"id"`
	Prefix    string     `json:"prefix"`
	Principal string     `json:"principal"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// CreatedKey is the answer to POST /apikeys, the only time the secret is shown.
type CreatedKey struct {
	Key
	Secret string        `json:"secret"`
	Roles  []domain.Role `json:"roles"`
}

// Principal is a principal and the roles it holds.
type Principal struct {
	ID        string        `json:"id"`
	Roles     []domain.Role `json:"roles"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// CertificateFilter narrows GET /certificates.
type CertificateFilter struct {
	Status    string
	ProfileID string
}

// JobFilter narrows GET /jobs.
type JobFilter struct {
	CertificateID string
	Status        string
}

// ApprovalFilter narrows GET /approvals.
type ApprovalFilter struct {
	State         string
	Kind          string
	ProfileID     string
	CertificateID string
	RequestedBy   string
}

// AuditFilter narrows GET /audit; zero times are left out.
type AuditFilter struct {
	Actor      string
	Action     string
	ResourceID string
	Since      time.Time
	Until      time.Time
}
