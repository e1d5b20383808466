package api

import (
	"net/http"
	"strconv"
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

// chainStatus serves GET /audit/chain: the format, the shards and each
// shard's head as read now.
func (a *API) chainStatus(w http.ResponseWriter, r *http.Request) {
	st, err := a.reads.ChainStatus(r.Context())
	a.respond(w, r, http.StatusOK, st, err)
}

// listChainRows serves GET /audit/chain/{shard}: the shard's rows in chain
// order, every attribute as stored, from after_seq on.
func (a *API) listChainRows(w http.ResponseWriter, r *http.Request) {
	serveList(a, w, r, func(pg domain.PageRequest) ([]domain.AuditChainRow, string, error) {
		after, err := seqParam(r.URL.Query().Get("after_seq"), "after_seq")
		if err != nil {
			return nil, "", err
		}
		return a.reads.ListChainRows(r.Context(), r.PathValue("shard"), after, pg)
	})
}

// listUnchained serves GET /audit/unchained: items of the audit table that
// no chain links. Empty unless someone wrote the table around the service.
func (a *API) listUnchained(w http.ResponseWriter, r *http.Request) {
	serveList(a, w, r, func(pg domain.PageRequest) ([]domain.AuditChainRow, string, error) {
		return a.reads.ListUnchained(r.Context(), pg)
	})
}

// listDigests serves GET /audit/digests: newest first, or oldest first
// (order=asc) from from_seq on; until keeps those created at or before it.
func (a *API) listDigests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	serveList(a, w, r, func(pg domain.PageRequest) ([]*domain.AuditDigest, string, error) {
		var f domain.DigestFilter
		if err := oneOf("order", q.Get("order"), "asc", "desc"); err != nil {
			return nil, "", err
		}
		f.Ascending = q.Get("order") == "asc"
		var err error
		if f.FromSeq, err = seqParam(q.Get("from_seq"), "from_seq"); err != nil {
			return nil, "", err
		}
		if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
			return nil, "", err
		}
		return a.reads.ListDigests(r.Context(), f, pg)
	})
}

// publicKey serves GET /audit/public-key: the digest key's public half as
// PEM, which `openssl dgst -verify` reads; the key's ARN is in
// X-Key-Id. Every digest also names the key that signed it.
func (a *API) publicKey(w http.ResponseWriter, r *http.Request) {
	if a.digestKey == nil {
		a.fail(w, r, domain.Unavailable("audit digests are not configured here", nil))
		return
	}
	keyID, pem, err := a.digestKey.PublicKeyPEM(r.Context())
	if err != nil {
		a.fail(w, r, domain.Unavailable("the digest key's public half could not be read from KMS; retry", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("X-Key-Id", keyID)
	_, _ = w.Write([]byte(pem))
}

// seqParam reads a non-negative sequence number; empty is 0.
func seqParam(v, name string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, domain.Invalidf("%s must be a non-negative integer", name)
	}
	return n, nil
}
