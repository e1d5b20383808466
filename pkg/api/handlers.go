package api

import (
	"net/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

func (a *API) createProfile(w http.ResponseWriter, r *http.Request) {
	var in workflow.ProfileInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.CreateProfile(r.Context(), actorFrom(r.Context()), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func (a *API) updateProfile(w http.ResponseWriter, r *http.Request) {
	var in workflow.ProfileInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	p, pending, err := a.svc.UpdateProfile(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in)
	switch {
	case err != nil:
		a.fail(w, r, err)
	case pending != nil:
		writeJSON(w, http.StatusAccepted, pending)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func (a *API) deleteProfile(w http.ResponseWriter, r *http.Request) {
	pending, err := a.svc.DeleteProfile(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
	switch {
	case err != nil:
		a.fail(w, r, err)
	case pending != nil:
		writeJSON(w, http.StatusAccepted, pending)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *API) listProfiles(w http.ResponseWriter, r *http.Request) {
	pg, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	items, next, err := a.svc.ListProfiles(r.Context(), pg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, items, next)
}

func (a *API) createCertificate(w http.ResponseWriter, r *http.Request) {
	var in workflow.CertificateInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	started, err := a.svc.CreateCertificate(r.Context(), actorFrom(r.Context()), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, started)
}

func (a *API) getCertificate(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.Store.GetCertificate(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *API) listCertificates(w http.ResponseWriter, r *http.Request) {
	pg, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	items, next, err := a.svc.Store.ListCertificates(r.Context(), store.CertificateFilter{Status: q.Get("status"), ProfileID: q.Get("profile_id")}, pg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, items, next)
}

func (a *API) listVersions(w http.ResponseWriter, r *http.Request) {
	pg, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if _, err := a.svc.Store.GetCertificate(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	items, next, err := a.svc.Store.ListVersions(r.Context(), id, pg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, items, next)
}

func (a *API) renew(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CSR string `json:"csr"`
	}
	if err := decodeOptional(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	started, err := a.svc.Renew(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in.CSR)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, started)
}

// jobView adds the execution ARN, derived rather than stored.
type jobView struct {
	*domain.Job
	ExecutionARN string `json:"execution_arn,omitempty"`
}

func (a *API) jobView(j *domain.Job) jobView {
	return jobView{Job: j, ExecutionARN: a.svc.Exec.ExecutionARN(j.ID)}
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	j, err := a.svc.Store.GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.jobView(j))
}

func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	pg, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	if s := q.Get("status"); s != "" {
		if _, ok := domain.ParseJobStatus(s); !ok {
			a.fail(w, r, domain.Invalidf("status must be one of AwaitingApproval, Pending, Running, Completed, Failed, Cancelled"))
			return
		}
	}
	items, next, err := a.svc.Store.ListJobs(r.Context(), store.JobFilter{CertificateID: q.Get("certificate_id"), Status: q.Get("status")}, pg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	views := make([]jobView, len(items))
	for i, j := range items {
		views[i] = a.jobView(j)
	}
	writeList(w, views, next)
}

func (a *API) listApprovals(w http.ResponseWriter, r *http.Request) {
	pg, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.ApprovalFilter{
		State: q.Get("state"), Kind: q.Get("kind"), ProfileID: q.Get("profile_id"),
		CertificateID: q.Get("certificate_id"), RequestedBy: q.Get("requested_by"),
	}
	items, next, err := a.svc.ListApprovals(r.Context(), f, pg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, items, next)
}

func (a *API) getApproval(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.GetApproval(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type decisionBody struct {
	Note string `json:"note"`
}

func (a *API) approve(w http.ResponseWriter, r *http.Request) {
	var in decisionBody
	if err := decodeOptional(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.svc.Approve(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in.Note)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (a *API) reject(w http.ResponseWriter, r *http.Request) {
	var in decisionBody
	if err := decodeOptional(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.svc.Reject(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in.Note)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// issuerView is an issuer and its CA certificate, once created.
type issuerView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	CAPEM     string `json:"ca_certificate_pem,omitempty"`
	CreatedAt any    `json:"created_at,omitempty"`
}

func (a *API) issuer(r *http.Request, id string) (issuerView, error) {
	if id != domain.DefaultIssuerID {
		return issuerView{}, domain.NotFoundf("issuer %s", id)
	}
	is, err := a.svc.Store.GetIssuer(r.Context(), id)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			// Configured, but its CA certificate is made on first issuance.
			return issuerView{ID: id, Status: "uninitialized"}, nil
		}
		return issuerView{}, err
	}
	return issuerView{ID: id, Status: "active", CAPEM: is.CAPEM, CreatedAt: is.CreatedAt}, nil
}

func (a *API) listIssuers(w http.ResponseWriter, r *http.Request) {
	v, err := a.issuer(r, domain.DefaultIssuerID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, []issuerView{v}, "")
}

func (a *API) getIssuer(w http.ResponseWriter, r *http.Request) {
	v, err := a.issuer(r, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
