package workflow

import (
	"context"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The workflow's ports: what each use case needs from persistence, and no
// more. The DynamoDB adapter (pkg/store) implements them all; a test can
// implement one. Every write is a conditional transition that either
// applies whole, with its audit rows, or fails with ErrChanged.

type profileReader interface {
	GetProfile(ctx context.Context, id string) (*domain.Profile, error)
}

type approvalReader interface {
	GetApproval(ctx context.Context, id string) (*domain.Approval, error)
}

type jobReader interface {
	GetJob(ctx context.Context, id string) (*domain.Job, error)
}

type certificateReader interface {
	GetCertificate(ctx context.Context, id string) (*domain.Certificate, error)
}

type crlReader interface {
	// GetCRL reads an issuer's CRL state; domain.ErrNotFound before the
	// first revocation or publication.
	GetCRL(ctx context.Context, issuerID string) (*domain.CRL, error)
}

type governanceReader interface {
	// ReadGovernance reads the governance version, which of patterns are
	// governed, and for each of wildcardZones (z of a name *.z) one
	// governed exact name directly under it.
	ReadGovernance(ctx context.Context, patterns []domain.NamePattern, wildcardZones []string) (*Governance, error)
}

// ProfilePort is what managing profiles and their gated edits needs.
type ProfilePort interface {
	profileReader
	governanceReader
	ListProfiles(ctx context.Context, page domain.PageRequest) ([]*domain.Profile, string, error)
	GetPrincipal(ctx context.Context, id string) (*domain.Principal, error)
	CreateProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error
	UpdateProfile(ctx context.Context, p *domain.Profile, expectVersion int64, audit *domain.AuditEvent) error
	DeleteProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error
	RequestProfileEdit(ctx context.Context, a *domain.Approval, audit *domain.AuditEvent) error
}

// RequestPort is what starting a job needs: create, renew and the sweep.
type RequestPort interface {
	profileReader
	governanceReader
	certificateReader
	CreateCertificate(ctx context.Context, in NewJob) error
	StartRenewal(ctx context.Context, in NewJob) error
	ClearStart(ctx context.Context, jobID string) error
	DueBefore(ctx context.Context, t time.Time, page domain.PageRequest) ([]*domain.Certificate, string, error)
	SetCertStatus(ctx context.Context, certID string, from, to domain.CertStatus, at time.Time, audit *domain.AuditEvent) error
	DeferRenewal(ctx context.Context, certID string, until time.Time, audit *domain.AuditEvent) error
	// ExpiringBefore pages through issued certificates whose current
	// version ends before t and that were not yet announced as expiring.
	ExpiringBefore(ctx context.Context, t time.Time, page domain.PageRequest) ([]*domain.Certificate, string, error)
	// WarnExpiring records that the version serial of certID was announced
	// as expiring, if it is still the current one and not announced yet.
	WarnExpiring(ctx context.Context, certID, serial string, audit *domain.AuditEvent) error
}

// DecisionPort is what deciding, expiring and handing over requests needs.
type DecisionPort interface {
	approvalReader
	profileReader
	governanceReader
	certificateReader
	ListApprovals(ctx context.Context, f domain.ApprovalFilter, page domain.PageRequest) ([]*domain.Approval, string, error)
	StoreTaskToken(ctx context.Context, id, token string) (*domain.Approval, bool, error)
	Decide(ctx context.Context, d Decision) error
	Vote(ctx context.Context, b Ballot) error
	ClearHandoff(ctx context.Context, id string) error
}

// IssuancePort is what the issue step needs.
type IssuancePort interface {
	jobReader
	approvalReader
	profileReader
	governanceReader
	certificateReader
	MarkJobRunning(ctx context.Context, jobID string, at time.Time) error
	CompleteIssuance(ctx context.Context, c Completion) error
	GetVersion(ctx context.Context, certID, jobID string) (*domain.CertificateVersion, error)
}

// ClosingPort is what ending a job that did not finish needs.
type ClosingPort interface {
	jobReader
	approvalReader
	certificateReader
	FailJob(ctx context.Context, f Failure) error
}

// QueuePort is what the reaper reads and clears.
type QueuePort interface {
	PendingOlderThan(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*domain.Approval, string, error)
	PendingHandoffs(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*domain.Approval, string, error)
	ClearHandoff(ctx context.Context, id string) error
	PendingStarts(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]PendingStart, string, error)
	ClearStart(ctx context.Context, jobID string) error
	// RemindPending records a reminder or an escalation of a request that
	// is still pending with the votes read (each once), with its audit rows.
	RemindPending(ctx context.Context, r Reminder) error
	// PendingGauges reads the pending requests per profile: how many, and
	// the oldest.
	PendingGauges(ctx context.Context) ([]domain.PendingGauge, error)
}

// DigestPort is what signing a digest of the audit chain needs.
type DigestPort interface {
	// ChainHeads reads every shard's head (strongly consistent).
	ChainHeads(ctx context.Context) ([]domain.AuditChainHead, error)
	// LatestDigest is the newest digest, or nil before the first.
	LatestDigest(ctx context.Context) (*domain.AuditDigest, error)
	// PutDigest stores a digest at its seq; ErrChanged if one is there.
	PutDigest(ctx context.Context, d *domain.AuditDigest) error
}

// RevocationPort is what revoking a certificate's versions needs.
type RevocationPort interface {
	certificateReader
	crlReader
	versionLister
	Revoke(ctx context.Context, r Revocation) error
}

// RetirementPort is what archiving and deleting a certificate needs.
type RetirementPort interface {
	certificateReader
	ArchiveCertificate(ctx context.Context, cert *domain.Certificate, at time.Time, audit *domain.AuditEvent) error
	// CertificateRecords lists, a page at a time, the keys of a
	// certificate's records a deletion removes (versions, jobs and their
	// requests), at most max of them.
	CertificateRecords(ctx context.Context, certID string, max int) ([]RecordKey, error)
	DeleteCertificateRecords(ctx context.Context, certID string, keys []RecordKey, audit *domain.AuditEvent) error
	DeleteCertificate(ctx context.Context, cert *domain.Certificate, audit *domain.AuditEvent) error
}

// MovePort is what moving a certificate to another profile needs.
type MovePort interface {
	certificateReader
	profileReader
	governanceReader
	MoveCertificate(ctx context.Context, m Move, audit *domain.AuditEvent) error
	RequestMove(ctx context.Context, cert *domain.Certificate, a *domain.Approval, audit *domain.AuditEvent) error
}

// DeliveryPort is what publishing issued versions needs.
type DeliveryPort interface {
	certificateReader
	versionLister
	GetVersion(ctx context.Context, certID, jobID string) (*domain.CertificateVersion, error)
	GetDelivery(ctx context.Context, certID, jobID string) (*Delivery, error)
	PendingDeliveries(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*Delivery, string, error)
	EndDelivery(ctx context.Context, d *Delivery, status string, at time.Time, audit *domain.AuditEvent) error
	DeliveryFailed(ctx context.Context, d *Delivery, msg string, at time.Time, audit *domain.AuditEvent) error
}

// CRLPort is what making an issuer's CRL needs. Entries are read strongly
// consistent, so a CRL made after a revocation committed lists it.
type CRLPort interface {
	crlReader
	ListRevocationEntries(ctx context.Context, issuerID string, page domain.PageRequest) ([]*domain.RevocationEntry, string, error)
	PruneRevocationEntries(ctx context.Context, issuerID string, serials []string, audit *domain.AuditEvent) error
	PublishCRL(ctx context.Context, p CRLPublication) error
}

// Store is every port at once, for wiring a Service over one adapter.
type Store interface {
	ProfilePort
	RequestPort
	DecisionPort
	IssuancePort
	ClosingPort
	QueuePort
	OutboxPort
	DigestPort
	RevocationPort
	CRLPort
	RetirementPort
	MovePort
	DeliveryPort
}
