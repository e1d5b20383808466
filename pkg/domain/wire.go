package domain

import "time"

// The API's request bodies, and the answers that are views rather than
// entities. The server and the client (pkg/client) share these types, so
// the two cannot drift apart.

// ProfileInput is the body of POST /profiles and PUT /profiles/{id}. Zero
// fields take the defaults; PUT replaces the whole profile.
type ProfileInput struct {
	ID                   string   `json:"id,omitempty"`
	Name                 string   `json:"name"`
	RequiresApproval     bool     `json:"requires_approval"`
	AllowedKeyAlgorithms []string `json:"allowed_key_algorithms,omitempty"`
	MaxValiditySeconds   int64    `json:"max_validity_seconds,omitempty"`
	RenewBeforeSeconds   int64    `json:"renew_before_seconds,omitempty"`
	IssuerID             string   `json:"issuer_id,omitempty"`
	// Approvers limits who may approve; principals are API-key principal
	// ids or IAM ARNs (stored canonical).
	Approvers *ApproverPool `json:"approvers,omitempty"`
}

// Profile returns the profile the input describes, defaults applied.
func (in ProfileInput) Profile() *Profile {
	p := &Profile{
		ID:                   in.ID,
		Name:                 in.Name,
		RequiresApproval:     in.RequiresApproval,
		AllowedKeyAlgorithms: in.AllowedKeyAlgorithms,
		MaxValiditySeconds:   in.MaxValiditySeconds,
		RenewBeforeSeconds:   in.RenewBeforeSeconds,
		IssuerID:             in.IssuerID,
		Approvers:            in.Approvers,
	}
	p.ApplyDefaults()
	return p
}

// Input returns the writable part of p, for a read-modify-write update.
func (p *Profile) Input() ProfileInput {
	return ProfileInput{
		ID: p.ID, Name: p.Name, RequiresApproval: p.RequiresApproval,
		AllowedKeyAlgorithms: p.AllowedKeyAlgorithms, MaxValiditySeconds: p.MaxValiditySeconds,
		RenewBeforeSeconds: p.RenewBeforeSeconds, IssuerID: p.IssuerID, Approvers: p.Approvers,
	}
}

// PendingEdit is the 202 answer to a gated profile change.
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

// Started reports the job (and approval request) a create or renew started.
type Started struct {
	Certificate *Certificate `json:"certificate,omitempty"`
	JobID       string       `json:"job_id"`
	ApprovalID  string       `json:"approval_id,omitempty"`
	Status      JobStatus    `json:"status"`
}

// ApprovalView is what an approver sees: the request and, for issuance, the
// exact subject to be signed. The task token is never part of it.
type ApprovalView struct {
	*Approval
	PendingAgeSeconds int64 `json:"pending_age_seconds"`
}

// Decision is the answer to approve and reject.
type Decision struct {
	ID        string `json:"id"`
	DecidedBy string `json:"decided_by"`
	Action    string `json:"action"`
}

// IssuerView is a CA: its certificate once created ("active"), or
// "uninitialized" before the first issuance.
type IssuerView struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	CAPEM     string     `json:"ca_certificate_pem,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

// APIKeyRequest is the body of POST /apikeys.
type APIKeyRequest struct {
	Principal string     `json:"principal,omitempty"`
	Roles     []Role     `json:"roles,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// APIKey is a key as listed: never its secret or its hash.
type APIKey struct {
	ID        string     `json:"id"`
	Prefix    string     `json:"prefix"`
	Principal string     `json:"principal"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// NewAPIKey is the answer to POST /apikeys: the only time the secret is shown.
type NewAPIKey struct {
	APIKey
	Secret string `json:"secret"`
	Roles  []Role `json:"roles"`
}

// Principal is an identity and the roles it holds.
type Principal struct {
	ID        string    `json:"id"`
	Roles     []Role    `json:"roles"`
	UpdatedAt time.Time `json:"updated_at"`
}
