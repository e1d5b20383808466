// Package api is the HTTP API (DESIGN §3) as a net/http handler: routing,
// authentication from the API Gateway context, role checks, JSON in and out.
// The rules live in pkg/workflow.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Records reads what the workflow does not own: metrics and the audit trail.
type Records interface {
	ListDecisionMetrics(ctx context.Context) ([]store.DecisionMetric, error)
	ListAudit(ctx context.Context, f store.AuditFilter, page store.PageRequest) ([]*domain.AuditEvent, string, error)
}

// API serves the HTTP API.
type API struct {
	svc        *workflow.Service
	keys       *apikey.Manager
	records    Records
	identities Identities
	log        *slog.Logger
	mux        *http.ServeMux
}

// Role sets per route family.
var (
	readers   = []domain.Role{domain.RoleViewer, domain.RoleOperator, domain.RoleApprover}
	operators = []domain.Role{domain.RoleOperator}
	approvers = []domain.Role{domain.RoleApprover}
	anyRole   = []domain.Role{domain.RoleViewer, domain.RoleOperator, domain.RoleApprover, domain.RoleAuditor}
	auditors  = []domain.Role{domain.RoleAuditor}
	admins    = []domain.Role{domain.RoleAdmin}
)

// New returns the API handler.
func New(svc *workflow.Service, keys *apikey.Manager, records Records, identities Identities, log *slog.Logger) *API {
	a := &API{svc: svc, keys: keys, records: records, identities: identities, log: log, mux: http.NewServeMux()}
	a.routes()
	return a
}

func (a *API) routes() {
	const v1 = "/api/v1"
	m := a.mux
	m.HandleFunc("GET /health", a.health)
	m.HandleFunc("GET "+v1+"/health", a.health)

	m.HandleFunc("POST "+v1+"/profiles", a.require(operators, a.createProfile))
	m.HandleFunc("GET "+v1+"/profiles", a.require(readers, a.listProfiles))
	m.HandleFunc("GET "+v1+"/profiles/{id}", a.require(readers, a.getProfile))
	m.HandleFunc("PUT "+v1+"/profiles/{id}", a.require(operators, a.updateProfile))
	m.HandleFunc("DELETE "+v1+"/profiles/{id}", a.require(operators, a.deleteProfile))

	m.HandleFunc("POST "+v1+"/certificates", a.require(operators, a.createCertificate))
	m.HandleFunc("GET "+v1+"/certificates", a.require(readers, a.listCertificates))
	m.HandleFunc("GET "+v1+"/certificates/{id}", a.require(readers, a.getCertificate))
	m.HandleFunc("GET "+v1+"/certificates/{id}/versions", a.require(readers, a.listVersions))
	m.HandleFunc("POST "+v1+"/certificates/{id}/renew", a.require(operators, a.renew))

	m.HandleFunc("GET "+v1+"/jobs", a.require(readers, a.listJobs))
	m.HandleFunc("GET "+v1+"/jobs/{id}", a.require(readers, a.getJob))

	m.HandleFunc("GET "+v1+"/approvals", a.require(readers, a.listApprovals))
	m.HandleFunc("GET "+v1+"/approvals/{id}", a.require(readers, a.getApproval))
	m.HandleFunc("POST "+v1+"/approvals/{id}/approve", a.require(approvers, a.approve))
	m.HandleFunc("POST "+v1+"/approvals/{id}/reject", a.require(approvers, a.reject))

	m.HandleFunc("GET "+v1+"/issuers", a.require(readers, a.listIssuers))
	m.HandleFunc("GET "+v1+"/issuers/{id}", a.require(readers, a.getIssuer))

	m.HandleFunc("GET "+v1+"/metrics", a.require(anyRole, a.serveMetrics))
	m.HandleFunc("GET "+v1+"/audit", a.require(auditors, a.listAudit))

	m.HandleFunc("POST "+v1+"/apikeys", a.require(admins, a.createAPIKey))
	m.HandleFunc("GET "+v1+"/apikeys", a.require(anyRole, a.listAPIKeys))
	m.HandleFunc("DELETE "+v1+"/apikeys/{id}", a.require(anyRole, a.revokeAPIKey))
	m.HandleFunc("PUT "+v1+"/principals/{id}", a.require(admins, a.setRoles))
}

// ServeHTTP routes the request; unknown routes and methods get the contract
// error shape rather than the mux's plain text.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{
				Error: http.StatusText(http.StatusMethodNotAllowed), RequestID: requestID(r),
				Message: r.Method + " is not allowed on " + r.URL.Path,
			})
			return
		}
		a.fail(w, r, domain.NotFoundf("no route for %s %s", r.Method, r.URL.Path))
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *API) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// statusProbe captures what the mux would answer for an unmatched request.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }
