package api

import (
	"net/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var in apikey.CreateRequest
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	created, err := a.keys.Create(r.Context(), actorFrom(r.Context()), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, created)
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	pg, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	items, next, err := a.keys.List(r.Context(), actorFrom(r.Context()), r.URL.Query().Get("principal"), pg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, items, next)
}

func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	v, err := a.keys.Revoke(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) setRoles(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Roles []domain.Role `json:"roles"`
	}
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.keys.SetRoles(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in.Roles)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
