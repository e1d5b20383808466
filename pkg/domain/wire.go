package domain

import (
	"slices"
	"time"
)

// The API's request bodies, and the answers that are views rather than
// entities. The server and the client (pkg/client) share these types, so
// the two cannot drift apart.

// ProfileInput is the body of POST /profiles and PUT /profiles/{id}. A
// field left out takes its default on create and keeps its value on update;
// a field given must be valid (0 is not "the default").
type ProfileInput struct {
	ID                   string         `json:"id,omitempty"`
	Name                 *string        `json:"name,omitempty"`
	RequiresApproval     *bool          `json:"requires_approval,omitempty"`
	AllowedNames         *[]NamePattern `json:"allowed_names,omitempty"`
	AllowedKeyAlgorithms *[]string      `json:"allowed_key_algorithms,omitempty"`
	MaxValiditySeconds   *int64         `json:"max_validity_seconds,omitempty"`
	RenewBeforeSeconds   *int64         `json:"renew_before_seconds,omitempty"`
	IssuerID             *string        `json:"issuer_id,omitempty"`
	// Approvers limits who may approve; principals are API-key principal
	// ids or IAM ARNs (stored canonical). {} clears the limit.
	Approvers *ApproverPool `json:"approvers,omitempty"`
	// Delivery names where each new version is published; {} clears it.
	Delivery *DeliveryTargets `json:"delivery,omitempty"`
	// RequiredApprovals is how many distinct actors must approve (default
	// 1); with an approval policy, its total.
	RequiredApprovals *int `json:"required_approvals,omitempty"`
	// ApprovalPolicy is the general form: factors, each a pool and a
	// count. [] clears it (back to the simple form).
	ApprovalPolicy *ApprovalPolicy `json:"approval_policy,omitempty"`
	// Notify names the notification targets told about the profile's
	// requests and certificates; [] means the stage's defaults.
	Notify *[]string `json:"notify,omitempty"`
}

// Profile returns the profile the input describes for a create: the
// fields given (a given 0 stays 0, and fails validation), defaults for the
// rest.
func (in ProfileInput) Profile() *Profile {
	p := &Profile{ID: in.ID}
	p.ApplyDefaults()
	in.ApplyTo(p)
	return p
}

// ApplyTo sets the fields the input gives on p and leaves the others.
func (in ProfileInput) ApplyTo(p *Profile) {
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.RequiresApproval != nil {
		p.RequiresApproval = *in.RequiresApproval
	}
	if in.AllowedNames != nil {
		p.AllowedNames = slices.Clone(*in.AllowedNames)
	}
	if in.AllowedKeyAlgorithms != nil {
		p.AllowedKeyAlgorithms = slices.Clone(*in.AllowedKeyAlgorithms)
	}
	if in.MaxValiditySeconds != nil {
		p.MaxValiditySeconds = *in.MaxValiditySeconds
	}
	if in.RenewBeforeSeconds != nil {
		p.RenewBeforeSeconds = *in.RenewBeforeSeconds
	}
	if in.IssuerID != nil {
		p.IssuerID = *in.IssuerID
	}
	if in.Notify != nil {
		p.Notify = slices.Clone(*in.Notify)
		if len(p.Notify) == 0 {
			p.Notify = nil
		}
	}
	if in.Approvers != nil {
		p.Approvers = in.Approvers.Clone()
		if p.Approvers.empty() {
			p.Approvers = nil
		}
	}
	if in.Delivery != nil {
		d := *in.Delivery
		p.Delivery = &d
		if d.Empty() {
			p.Delivery = nil
		}
	}
	if in.RequiredApprovals != nil {
		p.RequiredApprovals = *in.RequiredApprovals
	}
	if in.ApprovalPolicy != nil {
		p.ApprovalPolicy = in.ApprovalPolicy.Clone()
		for i := range p.ApprovalPolicy {
			if p.ApprovalPolicy[i].Approvers.empty() {
				p.ApprovalPolicy[i].Approvers = nil
			}
		}
		if len(p.ApprovalPolicy) == 0 {
			p.ApprovalPolicy = nil
		} else if in.RequiredApprovals == nil {
			// Left out, required_approvals follows the policy.
			p.RequiredApprovals = p.ApprovalPolicy.Total()
		}
	}
}

// Input returns the writable part of p: an update that changes nothing.
func (p *Profile) Input() ProfileInput {
	names, algs := slices.Clone(p.AllowedNames), slices.Clone(p.AllowedKeyAlgorithms)
	in := ProfileInput{
		ID: p.ID, Name: Ptr(p.Name), RequiresApproval: Ptr(p.RequiresApproval),
		AllowedNames: &names, AllowedKeyAlgorithms: &algs, MaxValiditySeconds: Ptr(p.MaxValiditySeconds),
		RenewBeforeSeconds: Ptr(p.RenewBeforeSeconds), IssuerID: Ptr(p.IssuerID), Approvers: &ApproverPool{},
		RequiredApprovals: Ptr(p.RequiredApprovals), ApprovalPolicy: &ApprovalPolicy{},
		Notify: Ptr(append([]string{}, p.Notify...)),
	}
	if p.Approvers != nil {
		in.Approvers = p.Approvers
	}
	in.Delivery = &DeliveryTargets{}
	if p.Delivery != nil {
		in.Delivery = p.Delivery
	}
	if len(p.ApprovalPolicy) > 0 {
		in.ApprovalPolicy = Ptr(p.ApprovalPolicy.Clone())
	}
	return in
}

// Ptr returns a pointer to v, for optional input fields.
func Ptr[T any](v T) *T { return &v }

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
	// Reason is why (a ticket, a why): at most 1 KB of one line, shown to
	// approvers and kept on the job, the request and in the audit trail.
	Reason string `json:"reason,omitempty"`
}

// RenewInput is the (optional) body of POST /certificates/{id}/renew: a
// new CSR (a new key; default: the stored one) and why.
type RenewInput struct {
	CSR    string `json:"csr,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// MoveInput is the body of PUT /certificates/{id}: the profile to move
// the certificate to, and why.
type MoveInput struct {
	ProfileID string `json:"profile_id"`
	Reason    string `json:"reason,omitempty"`
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
	// RequiredApprovals is how many votes the request's policy needs.
	RequiredApprovals int `json:"required_approvals"`
	// Missing, while the request is pending, is what it still needs.
	Missing *Missing `json:"missing,omitempty"`
}

// Actions a decision call reports.
const (
	ActionApproved = "approved" // the call approved the request (its vote completed the policy)
	ActionRejected = "rejected"
	ActionVoted    = "voted" // the call's vote was recorded; the request still waits for others
)

// Decision is the answer to approve and reject: what the call did, and
// the request's state after it.
type Decision struct {
	ID     string        `json:"id"`
	Action string        `json:"action"`
	State  ApprovalState `json:"state"`
	// DecidedBy is set when the call decided the request.
	DecidedBy string `json:"decided_by,omitempty"`
	// Missing, after a vote that left the request pending, is what it
	// still needs.
	Missing *Missing `json:"missing,omitempty"`
}

// RevokeInput is the body of POST /certificates/{id}/revoke: an RFC 5280
// reason name and, optionally, the serial of the one version to revoke
// (without it, every unexpired version not yet revoked).
type RevokeInput struct {
	Reason string `json:"reason"`
	Serial string `json:"serial,omitempty"`
}

// RevokedVersion is one version a revocation revoked.
type RevokedVersion struct {
	SerialNumber string    `json:"serial_number"`
	JobID        string    `json:"job_id"`
	NotAfter     time.Time `json:"not_after"`
}

// Revocation is the answer to a revocation: what was revoked and the
// certificate as it now stands. The issuer's CRL is regenerated at once,
// in the background.
type Revocation struct {
	Certificate *Certificate     `json:"certificate"`
	Reason      string           `json:"reason"`
	RevokedAt   time.Time        `json:"revoked_at"`
	Revoked     []RevokedVersion `json:"revoked"`
}

// Deletion is the answer to a DELETE of a certificate whose records did
// not all fit in one call: the rest are deleted by the next DELETE.
type Deletion struct {
	Status    string `json:"status"` // "deleting"
	Deleted   int    `json:"deleted"`
	Remaining bool   `json:"remaining"`
	Message   string `json:"message"`
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
	ID    string `json:"id"`
	Roles []Role `json:"roles"`
	// Controllers are the actors who could act as this principal: whoever
	// minted one of its keys (and, transitively, whoever controls them).
	// Two-person integrity treats a principal and its controllers as one
	// person: neither decides the other's requests.
	Controllers []string  `json:"controllers,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Controls reports whether actor could act as p (see Controllers).
func (p *Principal) Controls(actor string) bool {
	return p != nil && slices.Contains(p.Controllers, actor)
}
