package api

import (
	"net/http"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// listAudit serves GET /audit: newest first, filtered by actor, action,
// resource and time. ?actor=system-bypass proves bypass is off.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	pg, err := page(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), ResourceID: q.Get("resource_id")}
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		a.fail(w, r, err)
		return
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		a.fail(w, r, err)
		return
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		a.fail(w, r, domain.Invalidf("until must not be before since"))
		return
	}
	items, next, err := a.records.ListAudit(r.Context(), f, pg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, items, next)
}

func timeParam(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, domain.Invalidf("%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", name)
	}
	return t.UTC(), nil
}
