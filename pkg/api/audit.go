package api

import (
	"net/http"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// listAudit serves GET /audit: newest first, filtered by actor, action,
// resource and time. ?actor=system-bypass proves bypass is off.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	serveList(a, w, r, func(pg domain.PageRequest) ([]*domain.AuditEvent, string, error) {
		f := domain.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), ResourceID: q.Get("resource_id")}
		if err := oneOf("action", f.Action, domain.AuditActions...); err != nil {
			return nil, "", err
		}
		var err error
		if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
			return nil, "", err
		}
		if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
			return nil, "", err
		}
		if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
			return nil, "", domain.Invalidf("until must not be before since")
		}
		return a.reads.ListAudit(r.Context(), f, pg)
	})
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
