package api

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Media types of what relying parties fetch (RFC 5280 §4.2.1.13, RFC 2585).
const (
	MediaTypeCRL  = "application/pkix-crl"
	MediaTypeCert = "application/pkix-cert"
)

// publicIssuer is the issuer a public route names, once the request is
// checked (no query parameters; an issuer that exists); otherwise it has
// answered the error.
func (a *API) publicIssuer(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	err := query(r)
	if err == nil && id != domain.DefaultIssuerID {
		err = domain.NotFoundf("issuer %s", id)
	}
	if err != nil {
		a.fail(w, r, err)
		return "", false
	}
	return id, true
}

// getCRL serves an issuer's current CRL, DER, to anyone: relying parties
// fetch it without credentials, from the URL each certificate names. API
// Gateway returns it as bytes when the request's Accept header matches the
// stack's binary media types (*/*), which curl's default does.
func (a *API) getCRL(w http.ResponseWriter, r *http.Request) {
	id, ok := a.publicIssuer(w, r)
	if !ok {
		return
	}
	c, err := a.reads.GetCRL(r.Context(), id)
	if err == nil && c.Number == 0 {
		err = domain.NotFoundf("issuer %s has published no CRL yet", id)
	}
	if statusOf(err) == http.StatusNotFound {
		err = domain.NotFoundf("issuer %s has published no CRL yet (it is made with the CA, on the first revocation, and on a schedule)", id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", MediaTypeCRL)
	// Short: a revocation shows on the next CRL within seconds.
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("Last-Modified", c.ThisUpdate.UTC().Format(http.TimeFormat))
	h.Set("Expires", c.NextUpdate.UTC().Format(http.TimeFormat))
	h.Set("X-Crl-Number", strconv.FormatInt(c.Number, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.DER)
}

// getCACertificate serves the issuer's CA certificate, DER, to anyone: the
// caIssuers URL of every certificate names it.
func (a *API) getCACertificate(w http.ResponseWriter, r *http.Request) {
	id, ok := a.publicIssuer(w, r)
	if !ok {
		return
	}
	is, err := a.reads.GetIssuer(r.Context(), id)
	if statusOf(err) == http.StatusNotFound {
		err = domain.NotFoundf("issuer %s has no CA certificate yet (it is made on first use)", id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	block, _ := pem.Decode([]byte(is.CAPEM))
	if block == nil {
		a.fail(w, r, fmt.Errorf("issuer %s: the stored CA certificate is not PEM", id))
		return
	}
	h := w.Header()
	h.Set("Content-Type", MediaTypeCert)
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Last-Modified", is.CreatedAt.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(block.Bytes)
}
