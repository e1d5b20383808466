package workflow

import (
	"context"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// Store is the persistence the workflow needs; *store.Store implements it.
type Store interface {
	CreateProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error
	UpdateProfile(ctx context.Context, p *domain.Profile, expectVersion int64, audit *domain.AuditEvent) error
	ReadGovernance(ctx context.Context, patterns []domain.NamePattern) (*store.Governance, error)
	GetProfile(ctx context.Context, id string) (*domain.Profile, error)
	GetPrincipal(ctx context.Context, id string) (*domain.Principal, error)
	RequestProfileEdit(ctx context.Context, a *domain.Approval, audit *domain.AuditEvent) error
	DeleteProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error
	ListProfiles(ctx context.Context, page store.PageRequest) ([]*domain.Profile, string, error)

	CreateCertificate(ctx context.Context, in store.NewJob) error
	StartRenewal(ctx context.Context, in store.NewJob) error
	DueBefore(ctx context.Context, t time.Time, page store.PageRequest) ([]*domain.Certificate, string, error)
	DeferRenewal(ctx context.Context, certID string, until time.Time, audit *domain.AuditEvent) error
	SetCertStatus(ctx context.Context, certID string, from, to domain.CertStatus, at time.Time, audit *domain.AuditEvent) error
	GetCertificate(ctx context.Context, id string) (*domain.Certificate, error)
	ListCertificates(ctx context.Context, f store.CertificateFilter, page store.PageRequest) ([]*domain.Certificate, string, error)
	ListVersions(ctx context.Context, certID string, page store.PageRequest) ([]*domain.CertificateVersion, string, error)
	GetVersion(ctx context.Context, certID, jobID string) (*domain.CertificateVersion, error)

	GetJob(ctx context.Context, id string) (*domain.Job, error)
	ListJobs(ctx context.Context, f store.JobFilter, page store.PageRequest) ([]*domain.Job, string, error)
	MarkJobRunning(ctx context.Context, jobID string, at time.Time) error
	CompleteIssuance(ctx context.Context, c store.Completion) error
	FailJob(ctx context.Context, f store.Failure) error

	GetApproval(ctx context.Context, id string) (*domain.Approval, error)
	ListApprovals(ctx context.Context, f store.ApprovalFilter, page store.PageRequest) ([]*domain.Approval, string, error)
	PendingOlderThan(ctx context.Context, cutoff time.Time, page store.PageRequest) ([]*domain.Approval, string, error)
	StoreTaskToken(ctx context.Context, id, token string) (*domain.Approval, bool, error)
	Decide(ctx context.Context, d store.Decision) error
	PendingHandoffs(ctx context.Context, cutoff time.Time, page store.PageRequest) ([]*domain.Approval, string, error)
	ClearHandoff(ctx context.Context, id string) error
	PendingStarts(ctx context.Context, cutoff time.Time, page store.PageRequest) ([]store.PendingStart, string, error)
	ClearStart(ctx context.Context, jobID string) error

	GetIssuer(ctx context.Context, id string) (*store.Issuer, error)
	PutIssuerIfAbsent(ctx context.Context, is *store.Issuer, audit *domain.AuditEvent) (*store.Issuer, bool, error)
}
