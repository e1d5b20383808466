package domain

import "time"

// What the read side asks for: pages and filters of the lists, and the
// stored decision metrics.

// PageRequest asks for one page of a list.
type PageRequest struct {
	Limit int    // 1..500
	Token string // opaque; empty for the first page
}

// ApprovalFilter narrows ListApprovals.
type ApprovalFilter struct {
	State         string
	Kind          string
	ProfileID     string
	CertificateID string
	RequestedBy   string
	// CanVote keeps the pending requests the caller can vote on, with a
	// vote that would count (applied by the workflow, not the store).
	CanVote bool
}

// CertificateFilter narrows ListCertificates.
type CertificateFilter struct {
	Status    string
	ProfileID string
}

// JobFilter narrows ListJobs.
type JobFilter struct {
	CertificateID string
	Status        string
}

// AuditFilter narrows ListAudit. Zero times mean unbounded.
type AuditFilter struct {
	Actor      string
	Action     string
	ResourceID string
	Since      time.Time
	Until      time.Time
}

// DecisionMetric is the stored state of one (outcome, profile) series: the
// decision counter and the pending-age histogram observed at each decision.
type DecisionMetric struct {
	Kind      ApprovalKind
	Outcome   string
	ProfileID string
	Count     int64
	SumSecs   float64
	// Buckets holds per-bucket (not cumulative) counts, one per
	// PendingAgeBuckets bound plus a final +Inf bucket.
	Buckets []int64
}

// Issuer is a CA's stored certificate.
type Issuer struct {
	ID        string    `json:"id"`
	CAPEM     string    `json:"ca_certificate_pem"`
	KeyID     string    `json:"kms_key_id"`
	CreatedAt time.Time `json:"created_at"`
}

// RevocationEntry is one revoked version as its issuer's CRL lists it,
// kept until the version expires.
type RevocationEntry struct {
	IssuerID      string
	SerialNumber  string // lower-case hex, as versions store it
	CertificateID string
	JobID         string
	Reason        string // an RFC 5280 reason name
	RevokedAt     time.Time
	RevokedBy     string
	NotAfter      time.Time
}

// CRL is an issuer's current certificate revocation list and the state
// that decides when it is made again.
type CRL struct {
	IssuerID   string
	Number     int64  // 0: none published yet
	DER        []byte // the signed CRL
	ThisUpdate time.Time
	NextUpdate time.Time
	// Entries is how many serials the published CRL lists.
	Entries int
	// Revision counts the revocations committed; BuiltRevision is the
	// revision the published CRL was made at. Revision > BuiltRevision
	// means a revocation is not on it yet: the CRL is stale.
	Revision      int64
	BuiltRevision int64
	// EntryCount is how many revocation entries are stored (expired ones
	// until they are pruned); a revocation past the maximum is refused.
	EntryCount int64
	UpdatedAt  time.Time
}

// Stale reports whether a revocation is not on the published CRL yet.
func (c *CRL) Stale() bool { return c.Number == 0 || c.Revision > c.BuiltRevision }
