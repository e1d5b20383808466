// Package api is the HTTP API (routes and contract: the README's "API"
// section) as a net/http handler: routing, authentication from the API
// Gateway context, role checks, JSON in and out.
// The rules live in pkg/workflow.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/version"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Reader is the API's read side: what it shows without asking the
// workflow, which owns every change. The DynamoDB adapter implements it.
type Reader interface {
	GetCertificate(ctx context.Context, id string) (*domain.Certificate, error)
	ListCertificates(ctx context.Context, f domain.CertificateFilter, page domain.PageRequest) ([]*domain.Certificate, string, error)
	ListVersions(ctx context.Context, certID string, page domain.PageRequest) ([]*domain.CertificateVersion, string, error)
	GetJob(ctx context.Context, id string) (*domain.Job, error)
	ListJobs(ctx context.Context, f domain.JobFilter, page domain.PageRequest) ([]*domain.Job, string, error)
	GetIssuer(ctx context.Context, id string) (*domain.Issuer, error)
	GetCRL(ctx context.Context, issuerID string) (*domain.CRL, error)
	ListDecisionMetrics(ctx context.Context, kind domain.ApprovalKind) ([]domain.DecisionMetric, error)
	// PendingGauges: bounded by the number of profiles (see pkg/store).
	PendingGauges(ctx context.Context) ([]domain.PendingGauge, error)
	ListAudit(ctx context.Context, f domain.AuditFilter, page domain.PageRequest) ([]*domain.AuditEvent, string, error)
	// The audit chain, for verification: heads, rows in chain order,
	// items outside every chain, and the signed digests.
	ChainStatus(ctx context.Context) (*domain.AuditChainStatus, error)
	ListChainRows(ctx context.Context, shard string, afterSeq int64, page domain.PageRequest) ([]domain.AuditChainRow, string, error)
	ListUnchained(ctx context.Context, page domain.PageRequest) ([]domain.AuditChainRow, string, error)
	ListDigests(ctx context.Context, f domain.DigestFilter, page domain.PageRequest) ([]*domain.AuditDigest, string, error)
}

// DigestKey is the audit digest key's public half (KMS): the api never
// signs with that key, and never asks for a digest.
type DigestKey interface {
	PublicKeyPEM(ctx context.Context) (keyID, pem string, err error)
}

// Executions names a job's execution; its ARN is derived, not stored.
type Executions interface {
	ExecutionARN(jobID string) string
}

// API serves the HTTP API.
type API struct {
	svc        *workflow.Service
	keys       *apikey.Manager
	reads      Reader
	executions Executions
	identities Identities
	digestKey  DigestKey
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

// New returns the API handler. digestKey may be nil: the public key's
// route then answers 503.
func New(svc *workflow.Service, keys *apikey.Manager, reads Reader, executions Executions, identities Identities, digestKey DigestKey, log *slog.Logger) *API {
	a := &API{svc: svc, keys: keys, reads: reads, executions: executions, identities: identities, digestKey: digestKey, log: log, mux: http.NewServeMux()}
	a.routes()
	return a
}

// Route is one API route and the roles allowed to call it (admin holds every
// role). Open routes have no roles.
type Route struct {
	Method string
	Path   string
	Roles  []domain.Role
	Open   bool
}

type route struct {
	Route
	serve func(*API, http.ResponseWriter, *http.Request)
	// query is every query parameter the route takes; any other, or one
	// given twice, is a 400 before the handler runs.
	query []string
}

// paged is a list's query: its filters, limit and page_token.
func paged(filters ...string) []string { return append(filters, "limit", "page_token") }

const v1 = "/api/v1"

// routeTable is the API: the README's route table is checked against it.
var routeTable = []route{
	{Route{"GET", "/health", nil, true}, (*API).health, nil},
	{Route{"GET", v1 + "/health", nil, true}, (*API).health, nil},
	{Route{"GET", v1 + "/openapi.json", nil, true}, (*API).openapi, nil},

	{Route{"POST", v1 + "/profiles", operators, false}, (*API).createProfile, nil},
	{Route{"GET", v1 + "/profiles", readers, false}, (*API).listProfiles, paged()},
	{Route{"GET", v1 + "/profiles/{id}", readers, false}, (*API).getProfile, nil},
	{Route{"PUT", v1 + "/profiles/{id}", operators, false}, (*API).updateProfile, nil},
	{Route{"DELETE", v1 + "/profiles/{id}", operators, false}, (*API).deleteProfile, nil},

	{Route{"POST", v1 + "/certificates", operators, false}, (*API).createCertificate, nil},
	{Route{"GET", v1 + "/certificates", readers, false}, (*API).listCertificates, paged("status", "profile_id")},
	{Route{"GET", v1 + "/certificates/{id}", readers, false}, (*API).getCertificate, nil},
	{Route{"GET", v1 + "/certificates/{id}/versions", readers, false}, (*API).listVersions, paged()},
	{Route{"POST", v1 + "/certificates/{id}/renew", operators, false}, (*API).renew, nil},
	{Route{"POST", v1 + "/certificates/{id}/revoke", operators, false}, (*API).revoke, nil},
	{Route{"POST", v1 + "/certificates/{id}/archive", operators, false}, (*API).archive, nil},
	{Route{"PUT", v1 + "/certificates/{id}", operators, false}, (*API).moveCertificate, nil},
	{Route{"DELETE", v1 + "/certificates/{id}", operators, false}, (*API).deleteCertificate, nil},

	{Route{"GET", v1 + "/jobs", readers, false}, (*API).listJobs, paged("certificate_id", "status")},
	{Route{"GET", v1 + "/jobs/{id}", readers, false}, (*API).getJob, nil},
	{Route{"POST", v1 + "/jobs/{id}/repair", admins, false}, (*API).repairJob, nil},

	{Route{"GET", v1 + "/approvals", readers, false}, (*API).listApprovals, paged("state", "kind", "profile_id", "certificate_id", "requested_by", "can_vote")},
	{Route{"GET", v1 + "/approvals/{id}", readers, false}, (*API).getApproval, nil},
	{Route{"GET", v1 + "/approvals/{id}/history", readers, false}, (*API).approvalHistory, paged()},
	{Route{"POST", v1 + "/approvals/{id}/approve", approvers, false}, (*API).approve, nil},
	{Route{"POST", v1 + "/approvals/{id}/reject", approvers, false}, (*API).reject, nil},

	{Route{"GET", v1 + "/issuers", readers, false}, (*API).listIssuers, paged()},
	{Route{"GET", v1 + "/issuers/{id}", readers, false}, (*API).getIssuer, nil},
	{Route{"GET", v1 + "/issuers/{id}/crl", nil, true}, (*API).getCRL, nil},
	{Route{"GET", v1 + "/issuers/{id}/ca", nil, true}, (*API).getCACertificate, nil},

	{Route{"GET", v1 + "/metrics", anyRole, false}, (*API).serveMetrics, nil},
	{Route{"GET", v1 + "/audit", auditors, false}, (*API).listAudit, paged("actor", "action", "resource_id", "since", "until")},
	{Route{"GET", v1 + "/audit/chain", auditors, false}, (*API).chainStatus, nil},
	{Route{"GET", v1 + "/audit/chain/{shard}", auditors, false}, (*API).listChainRows, paged("after_seq")},
	{Route{"GET", v1 + "/audit/unchained", auditors, false}, (*API).listUnchained, paged()},
	{Route{"GET", v1 + "/audit/digests", auditors, false}, (*API).listDigests, paged("order", "from_seq", "until")},
	{Route{"GET", v1 + "/audit/public-key", anyRole, false}, (*API).publicKey, nil},

	{Route{"GET", v1 + "/whoami", anyRole, false}, (*API).whoami, nil},
	{Route{"POST", v1 + "/apikeys", admins, false}, (*API).createAPIKey, nil},
	{Route{"GET", v1 + "/apikeys", anyRole, false}, (*API).listAPIKeys, paged("principal")},
	{Route{"DELETE", v1 + "/apikeys/{id}", anyRole, false}, (*API).revokeAPIKey, nil},
	{Route{"PUT", v1 + "/principals/{id}", admins, false}, (*API).setRoles, nil},
}

// Routes lists every route with its roles.
func Routes() []Route {
	out := make([]Route, len(routeTable))
	for i, rt := range routeTable {
		out[i] = rt.Route
	}
	return out
}

func (a *API) routes() {
	for _, rt := range routeTable {
		h := func(w http.ResponseWriter, r *http.Request) {
			if err := query(r, rt.query...); err != nil {
				a.fail(w, r, err)
				return
			}
			rt.serve(a, w, r)
		}
		if !rt.Open {
			h = a.require(rt.Roles, h)
		}
		a.mux.HandleFunc(rt.Method+" "+rt.Path, h)
	}
}

// ServeHTTP routes the request; unknown routes and methods get the contract
// error shape rather than the mux's plain text.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A path with dot segments, doubled or encoded slashes names another
	// resource than it seems to: refuse it rather than redirect, which would
	// replay the method and body on the other resource.
	if p := r.URL.Path; p != path.Clean(p) || strings.Contains(r.URL.RawPath, "%2") || strings.Contains(r.URL.RawPath, "%5") {
		a.fail(w, r, domain.Invalidf("path %q is not in canonical form", r.URL.EscapedPath()))
		return
	}
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

// health is the liveness probe; it names the build, so a deployment can be
// matched to a release without credentials.
func (a *API) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version.String()})
}

// statusProbe captures what the mux would answer for an unmatched request.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }
