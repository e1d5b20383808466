package workflow_test

import (
	"context"
	"sync"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// hooked is the real store with optional per-method hooks: a hook replaces
// the call (it may call the embedded store itself), and every call of a
// hooked method is counted, hook or not.
type hooked struct {
	*store.Store

	mu    sync.Mutex
	calls map[string]int

	getApproval      func(ctx context.Context, id string) (*domain.Approval, error)
	getJob           func(ctx context.Context, id string) (*domain.Job, error)
	getProfile       func(ctx context.Context, id string) (*domain.Profile, error)
	readGovernance   func(ctx context.Context, ps []domain.NamePattern, zones []string) (*workflow.Governance, error)
	decide           func(ctx context.Context, d workflow.Decision) error
	markJobRunning   func(ctx context.Context, jobID string, at time.Time) error
	completeIssuance func(ctx context.Context, c workflow.Completion) error
	clearHandoff     func(ctx context.Context, id string) error
	clearStart       func(ctx context.Context, jobID string) error
	getCertificate   func(ctx context.Context, id string) (*domain.Certificate, error)
	getCRL           func(ctx context.Context, issuerID string) (*domain.CRL, error)
	certRecords      func(ctx context.Context, certID string, max int) ([]workflow.RecordKey, error)
	listVersions     func(ctx context.Context, certID string, page domain.PageRequest) ([]*domain.CertificateVersion, string, error)
	storeTaskToken   func(ctx context.Context, id, token string) (*domain.Approval, bool, error)
}

func (h *hooked) ListVersions(ctx context.Context, certID string, page domain.PageRequest) ([]*domain.CertificateVersion, string, error) {
	h.count("ListVersions")
	if h.listVersions != nil {
		return h.listVersions(ctx, certID, page)
	}
	return h.Store.ListVersions(ctx, certID, page)
}

func (h *hooked) CertificateRecords(ctx context.Context, certID string, max int) ([]workflow.RecordKey, error) {
	h.count("CertificateRecords")
	if h.certRecords != nil {
		return h.certRecords(ctx, certID, max)
	}
	return h.Store.CertificateRecords(ctx, certID, max)
}

func (h *hooked) GetCRL(ctx context.Context, issuerID string) (*domain.CRL, error) {
	h.count("GetCRL")
	if h.getCRL != nil {
		return h.getCRL(ctx, issuerID)
	}
	return h.Store.GetCRL(ctx, issuerID)
}

func (h *hooked) count(name string) {
	h.mu.Lock()
	h.calls[name]++
	h.mu.Unlock()
}

// Calls is how often the named method was called.
func (h *hooked) Calls(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[name]
}

func (h *hooked) GetApproval(ctx context.Context, id string) (*domain.Approval, error) {
	h.count("GetApproval")
	if h.getApproval != nil {
		return h.getApproval(ctx, id)
	}
	return h.Store.GetApproval(ctx, id)
}

func (h *hooked) GetJob(ctx context.Context, id string) (*domain.Job, error) {
	h.count("GetJob")
	if h.getJob != nil {
		return h.getJob(ctx, id)
	}
	return h.Store.GetJob(ctx, id)
}

func (h *hooked) GetProfile(ctx context.Context, id string) (*domain.Profile, error) {
	h.count("GetProfile")
	if h.getProfile != nil {
		return h.getProfile(ctx, id)
	}
	return h.Store.GetProfile(ctx, id)
}

func (h *hooked) ReadGovernance(ctx context.Context, ps []domain.NamePattern, zones []string) (*workflow.Governance, error) {
	h.count("ReadGovernance")
	if h.readGovernance != nil {
		return h.readGovernance(ctx, ps, zones)
	}
	return h.Store.ReadGovernance(ctx, ps, zones)
}

func (h *hooked) Decide(ctx context.Context, d workflow.Decision) error {
	h.count("Decide")
	if h.decide != nil {
		return h.decide(ctx, d)
	}
	return h.Store.Decide(ctx, d)
}

func (h *hooked) MarkJobRunning(ctx context.Context, jobID string, at time.Time) error {
	h.count("MarkJobRunning")
	if h.markJobRunning != nil {
		return h.markJobRunning(ctx, jobID, at)
	}
	return h.Store.MarkJobRunning(ctx, jobID, at)
}

func (h *hooked) CompleteIssuance(ctx context.Context, c workflow.Completion) error {
	h.count("CompleteIssuance")
	if h.completeIssuance != nil {
		return h.completeIssuance(ctx, c)
	}
	return h.Store.CompleteIssuance(ctx, c)
}

func (h *hooked) ClearHandoff(ctx context.Context, id string) error {
	h.count("ClearHandoff")
	if h.clearHandoff != nil {
		return h.clearHandoff(ctx, id)
	}
	return h.Store.ClearHandoff(ctx, id)
}

func (h *hooked) ClearStart(ctx context.Context, jobID string) error {
	h.count("ClearStart")
	if h.clearStart != nil {
		return h.clearStart(ctx, jobID)
	}
	return h.Store.ClearStart(ctx, jobID)
}

func (h *hooked) GetCertificate(ctx context.Context, id string) (*domain.Certificate, error) {
	h.count("GetCertificate")
	if h.getCertificate != nil {
		return h.getCertificate(ctx, id)
	}
	return h.Store.GetCertificate(ctx, id)
}

func (h *hooked) StoreTaskToken(ctx context.Context, id, token string) (*domain.Approval, bool, error) {
	h.count("StoreTaskToken")
	if h.storeTaskToken != nil {
		return h.storeTaskToken(ctx, id, token)
	}
	return h.Store.StoreTaskToken(ctx, id, token)
}
