package client

import (
	"time"
)

// The API's entities and wire shapes are pkg/domain's types, shared with
// the server; only the list filters are the client's own.

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
	// CanVote keeps the pending requests the caller can still vote on.
	CanVote bool
}

// AuditFilter narrows GET /audit; zero times are left out.
type AuditFilter struct {
	Actor      string
	Action     string
	ResourceID string
	Since      time.Time
	Until      time.Time
}
