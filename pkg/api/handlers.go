package api

import (
	"net/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// respond writes v with status, or the error.
func (a *API) respond(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

// serveList answers a list route: page parameters in (the route table has
// already refused any parameter the route does not take), {data,
// next_page_token} out.
func serveList[T any](a *API, w http.ResponseWriter, r *http.Request, fetch func(domain.PageRequest) ([]T, string, error)) {
	pg, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	items, next, err := fetch(pg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, items, next)
}

// withBody decodes the request body into a new T (optional bodies may be
// empty) and calls serve with it.
func withBody[T any](a *API, w http.ResponseWriter, r *http.Request, optional bool, serve func(T)) {
	var in T
	dec := decode
	if optional {
		dec = decodeOptional
	}
	if err := dec(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	serve(in)
}

func (a *API) createProfile(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, false, func(in domain.ProfileInput) {
		p, pending, err := a.svc.CreateProfile(r.Context(), actorFrom(r.Context()), in)
		if err == nil && pending == nil {
			writeJSON(w, http.StatusCreated, p)
			return
		}
		a.changed(w, r, p, pending, err)
	})
}

// changed answers a profile change: 202 when it awaits approval.
func (a *API) changed(w http.ResponseWriter, r *http.Request, p *domain.Profile, pending *domain.PendingEdit, err error) {
	switch {
	case err != nil:
		a.fail(w, r, err)
	case pending != nil:
		writeJSON(w, http.StatusAccepted, pending)
	case p == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func (a *API) updateProfile(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, false, func(in domain.ProfileInput) {
		p, pending, err := a.svc.UpdateProfile(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in)
		a.changed(w, r, p, pending, err)
	})
}

func (a *API) deleteProfile(w http.ResponseWriter, r *http.Request) {
	pending, err := a.svc.DeleteProfile(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
	a.changed(w, r, nil, pending, err)
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.GetProfile(r.Context(), r.PathValue("id"))
	a.respond(w, r, http.StatusOK, p, err)
}

func (a *API) listProfiles(w http.ResponseWriter, r *http.Request) {
	serveList(a, w, r, func(pg domain.PageRequest) ([]*domain.Profile, string, error) {
		return a.svc.ListProfiles(r.Context(), pg)
	})
}

func (a *API) createCertificate(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, false, func(in domain.CertificateInput) {
		started, err := a.svc.CreateCertificate(r.Context(), actorFrom(r.Context()), in)
		a.respond(w, r, http.StatusCreated, started, err)
	})
}

func (a *API) getCertificate(w http.ResponseWriter, r *http.Request) {
	c, err := a.reads.GetCertificate(r.Context(), r.PathValue("id"))
	a.respond(w, r, http.StatusOK, c, err)
}

func (a *API) listCertificates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := domain.CertificateFilter{Status: q.Get("status"), ProfileID: q.Get("profile_id")}
	serveList(a, w, r, func(pg domain.PageRequest) ([]*domain.Certificate, string, error) {
		if _, ok := domain.ParseCertStatus(f.Status); f.Status != "" && !ok {
			return nil, "", domain.Invalidf("status must be one of Pending, Active, Expiring, Expired, RenewalInProgress, Failed, Revoked, Archived")
		}
		return a.reads.ListCertificates(r.Context(), f, pg)
	})
}

func (a *API) listVersions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	serveList(a, w, r, func(pg domain.PageRequest) ([]*domain.CertificateVersion, string, error) {
		if _, err := a.reads.GetCertificate(r.Context(), id); err != nil {
			return nil, "", err
		}
		return a.reads.ListVersions(r.Context(), id, pg)
	})
}

func (a *API) renew(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, true, func(in domain.RenewInput) {
		started, err := a.svc.Renew(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in)
		a.respond(w, r, http.StatusAccepted, started, err)
	})
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, false, func(in domain.RevokeInput) {
		res, err := a.svc.Revoke(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in)
		a.respond(w, r, http.StatusOK, res, err)
	})
}

// moveCertificate answers 200 with the certificate (moved, or already
// there), or 202 when the move waits for approval.
func (a *API) moveCertificate(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, false, func(in domain.MoveInput) {
		c, pending, err := a.svc.MoveCertificate(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in)
		switch {
		case err != nil:
			a.fail(w, r, err)
		case pending != nil:
			writeJSON(w, http.StatusAccepted, pending)
		default:
			writeJSON(w, http.StatusOK, c)
		}
	})
}

func (a *API) archive(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, true, func(struct{}) {
		c, err := a.svc.ArchiveCertificate(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
		a.respond(w, r, http.StatusOK, c, err)
	})
}

// deleteCertificate answers 204 once the certificate is gone, 202 while
// records remain for the next call.
func (a *API) deleteCertificate(w http.ResponseWriter, r *http.Request) {
	if err := query(r); err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.svc.DeleteCertificate(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
	switch {
	case err != nil:
		a.fail(w, r, err)
	case d != nil:
		writeJSON(w, http.StatusAccepted, d)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// jobView adds the execution ARN, derived rather than stored.
type jobView struct {
	*domain.Job
	ExecutionARN string `json:"execution_arn,omitempty"`
}

func (a *API) jobView(j *domain.Job) jobView {
	return jobView{Job: j, ExecutionARN: a.executions.ExecutionARN(j.ID)}
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	j, err := a.reads.GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.jobView(j))
}

func (a *API) repairJob(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, true, func(struct{}) {
		j, err := a.svc.RepairJob(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a.jobView(j))
	})
}

func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := domain.JobFilter{CertificateID: q.Get("certificate_id"), Status: q.Get("status")}
	serveList(a, w, r, func(pg domain.PageRequest) ([]jobView, string, error) {
		if _, ok := domain.ParseJobStatus(f.Status); f.Status != "" && !ok {
			return nil, "", domain.Invalidf("status must be one of AwaitingApproval, Pending, Running, Completed, Failed, Cancelled")
		}
		jobs, next, err := a.reads.ListJobs(r.Context(), f, pg)
		views := make([]jobView, len(jobs))
		for i, j := range jobs {
			views[i] = a.jobView(j)
		}
		return views, next, err
	})
}

func (a *API) listApprovals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := domain.ApprovalFilter{
		State: q.Get("state"), Kind: q.Get("kind"), ProfileID: q.Get("profile_id"),
		CertificateID: q.Get("certificate_id"), RequestedBy: q.Get("requested_by"),
	}
	serveList(a, w, r, func(pg domain.PageRequest) ([]*domain.ApprovalView, string, error) {
		switch q.Get("can_vote") {
		case "":
		case "true":
			f.CanVote = true
		default:
			return nil, "", domain.Invalidf("can_vote must be true (or left out)")
		}
		return a.svc.ListApprovals(r.Context(), actorFrom(r.Context()), f, pg)
	})
}

func (a *API) getApproval(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.GetApproval(r.Context(), r.PathValue("id"))
	a.respond(w, r, http.StatusOK, v, err)
}

type decisionBody struct {
	Note string `json:"note"`
}

func (a *API) approve(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, true, func(in decisionBody) {
		res, err := a.svc.Approve(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in.Note)
		a.respond(w, r, http.StatusOK, res, err)
	})
}

func (a *API) reject(w http.ResponseWriter, r *http.Request) {
	withBody(a, w, r, true, func(in decisionBody) {
		res, err := a.svc.Reject(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in.Note)
		a.respond(w, r, http.StatusOK, res, err)
	})
}

func (a *API) issuer(r *http.Request, id string) (domain.IssuerView, error) {
	if id != domain.DefaultIssuerID {
		return domain.IssuerView{}, domain.NotFoundf("issuer %s", id)
	}
	is, err := a.reads.GetIssuer(r.Context(), id)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			// Configured, but its CA certificate is made on first issuance.
			return domain.IssuerView{ID: id, Status: "uninitialized"}, nil
		}
		return domain.IssuerView{}, err
	}
	return domain.IssuerView{ID: id, Status: "active", CAPEM: is.CAPEM, CreatedAt: &is.CreatedAt}, nil
}

func (a *API) listIssuers(w http.ResponseWriter, r *http.Request) {
	v, err := a.issuer(r, domain.DefaultIssuerID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, []domain.IssuerView{v}, "")
}

func (a *API) getIssuer(w http.ResponseWriter, r *http.Request) {
	v, err := a.issuer(r, r.PathValue("id"))
	a.respond(w, r, http.StatusOK, v, err)
}
