package api

import (
	"net/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// caller is the answer to GET /whoami: who the API takes the caller for.
// The console reads it to sign in and to show only what the roles allow
// (the routes enforce the roles whatever a client shows).
type caller struct {
	Principal string           `json:"principal"`
	Type      domain.ActorType `json:"type"`
	Roles     []domain.Role    `json:"roles"`
}

func (a *API) whoami(w http.ResponseWriter, r *http.Request) {
	actor := actorFrom(r.Context())
	roles := actor.Roles
	if roles == nil {
		roles = []domain.Role{}
	}
	writeJSON(w, http.StatusOK, caller{Principal: actor.ID, Type: actor.Type, Roles: roles})
}

// approvalHistory serves GET /approvals/{id}/history: the audit rows of one
// request, newest first, for everyone who may read the request (the whole
// audit trail is for auditors).
func (a *API) approvalHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	serveList(a, w, r, func(pg domain.PageRequest) ([]*domain.AuditEvent, string, error) {
		if _, err := a.svc.GetApproval(r.Context(), id); err != nil {
			return nil, "", err
		}
		rows, next, err := a.reads.ListAudit(r.Context(), domain.AuditFilter{ResourceID: id}, pg)
		// Resource ids are unique per type only: keep this request's rows.
		out := rows[:0]
		for _, row := range rows {
			if row.ResourceType == "approval" {
				out = append(out, row)
			}
		}
		return out, next, err
	})
}
