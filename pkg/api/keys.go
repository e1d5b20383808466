package api

import (
	"net/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, false, func(in domain.APIKeyRequest) {
		created, err := a.keys.Create(r.Context(), actorFrom(r.Context()), in)
		w.Header().Set("Cache-Control", "no-store") // the secret is in the body
		a.respond(w, r, http.StatusCreated, created, err)
	})
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	serveList(a, w, r, func(pg domain.PageRequest) ([]domain.APIKey, string, error) {
		return a.keys.List(r.Context(), actorFrom(r.Context()), r.URL.Query().Get("principal"), pg)
	})
}

func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	v, err := a.keys.Revoke(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
	a.respond(w, r, http.StatusOK, v, err)
}

func (a *API) setRoles(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, false, func(in struct {
		Roles []domain.Role `json:"roles"`
	}) {
		p, err := a.keys.SetRoles(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in.Roles)
		a.respond(w, r, http.StatusOK, p, err)
	})
}
