package workflow

import (
	"context"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Store is the persistence the workflow needs; *store.Store implements it.
type Store interface {
	CreateProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error
	UpdateProfile(ctx context.Context, p *domain.Profile, expectVersion int64, audit *domain.AuditEvent) error
	ReadGovernance(ctx context.Context, patterns []domain.NamePattern) (*Governance, error)
	GetProfile(ctx context.Context, id string) (*domain.Profile, error)
	GetPrincipal(ctx context.Context, id string) (*domain.Principal, error)
	RequestProfileEdit(ctx context.Context, a *domain.Approval, audit *domain.AuditEvent) error
	DeleteProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error
	ListProfiles(ctx context.Context, page domain.PageRequest) ([]*domain.Profile, string, error)

	CreateCertificate(ctx context.Context, in NewJob) error
	StartRenewal(ctx context.Context, in NewJob) error
	DueBefore(ctx context.Context, t time.Time, page domain.PageRequest) ([]*domain.Certificate, string, error)
	DeferRenewal(ctx context.Context, certID string, until time.Time, audit *domain.AuditEvent) error
	SetCertStatus(ctx context.Context, certID string, from, to domain.CertStatus, at time.Time, audit *domain.AuditEvent) error
	GetCertificate(ctx context.Context, id string) (*domain.Certificate, error)
	ListCertificates(ctx context.Context, f domain.CertificateFilter, page domain.PageRequest) ([]*domain.Certificate, string, error)
	ListVersions(ctx context.Context, certID string, page domain.PageRequest) ([]*domain.CertificateVersion, string, error)
	GetVersion(ctx context.Context, certID, jobID string) (*domain.CertificateVersion, error)

	GetJob(ctx context.Context, id string) (*domain.Job, error)
	ListJobs(ctx context.Context, f domain.JobFilter, page domain.PageRequest) ([]*domain.Job, string, error)
	MarkJobRunning(ctx context.Context, jobID string, at time.Time) error
	CompleteIssuance(ctx context.Context, c Completion) error
	FailJob(ctx context.Context, f Failure) error

	GetApproval(ctx context.Context, id string) (*domain.Approval, error)
	ListApprovals(ctx context.Context, f domain.ApprovalFilter, page domain.PageRequest) ([]*domain.Approval, string, error)
	PendingOlderThan(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*domain.Approval, string, error)
	StoreTaskToken(ctx context.Context, id, token string) (*domain.Approval, bool, error)
	Decide(ctx context.Context, d Decision) error
	PendingHandoffs(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]*domain.Approval, string, error)
	ClearHandoff(ctx context.Context, id string) error
	PendingStarts(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]PendingStart, string, error)
	ClearStart(ctx context.Context, jobID string) error

	GetIssuer(ctx context.Context, id string) (*domain.Issuer, error)
	PutIssuerIfAbsent(ctx context.Context, is *domain.Issuer, audit *domain.AuditEvent) (*domain.Issuer, bool, error)
}
