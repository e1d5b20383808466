package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

const (
	pathProfiles     = apiPrefix + "/profiles"
	pathCertificates = apiPrefix + "/certificates"
	pathJobs         = apiPrefix + "/jobs"
	pathApprovals    = apiPrefix + "/approvals"
	pathIssuers      = apiPrefix + "/issuers"
)

// Health calls the open health route; it needs no credentials.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.HealthInfo(ctx)
	return err
}

// HealthStatus is what the health route answers.
type HealthStatus struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

// HealthInfo calls the open health route and returns its answer, which
// names the deployed version.
func (c *Client) HealthInfo(ctx context.Context) (*HealthStatus, error) {
	var h HealthStatus
	if _, err := c.do(ctx, http.MethodGet, apiPrefix+"/health", nil, nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// --- profiles

// CreateProfile creates a profile. An approval-tier profile applies at
// once; creating one that needs no approval returns the pending request a
// second person must approve (and a nil profile).
func (c *Client) CreateProfile(ctx context.Context, in domain.ProfileInput) (*domain.Profile, *domain.PendingEdit, error) {
	var raw json.RawMessage
	status, err := c.do(ctx, http.MethodPost, pathProfiles, nil, in, &raw)
	if err != nil {
		return nil, nil, err
	}
	if status == http.StatusAccepted {
		var pe domain.PendingEdit
		return nil, &pe, decodeRaw(raw, &pe)
	}
	var p domain.Profile
	return &p, nil, decodeRaw(raw, &p)
}

// GetProfile reads one profile.
func (c *Client) GetProfile(ctx context.Context, id string) (*domain.Profile, error) {
	var p domain.Profile
	if _, err := c.do(ctx, http.MethodGet, pathProfiles+"/"+escape(id), nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ListProfiles reads one page of profiles.
func (c *Client) ListProfiles(ctx context.Context, p PageRequest) ([]domain.Profile, string, error) {
	return getList[domain.Profile](ctx, c, pathProfiles, nil, p)
}

// AllProfiles reads every profile.
func (c *Client) AllProfiles(ctx context.Context) ([]domain.Profile, error) {
	return all(ctx, c.ListProfiles)
}

// UpdateProfile changes the fields in gives (the others keep their
// values). It returns the new profile, or, when the edit is gated, the
// pending edit that has to be approved first (and a nil profile).
func (c *Client) UpdateProfile(ctx context.Context, id string, in domain.ProfileInput) (*domain.Profile, *domain.PendingEdit, error) {
	var raw json.RawMessage
	status, err := c.do(ctx, http.MethodPut, pathProfiles+"/"+escape(id), nil, in, &raw)
	if err != nil {
		return nil, nil, err
	}
	if status == http.StatusAccepted {
		var pe domain.PendingEdit
		return nil, &pe, decodeRaw(raw, &pe)
	}
	var p domain.Profile
	return &p, nil, decodeRaw(raw, &p)
}

// DeleteProfile deletes a profile, or for an approval-tier profile returns
// the pending edit that deletes it once approved.
func (c *Client) DeleteProfile(ctx context.Context, id string) (*domain.PendingEdit, error) {
	var raw json.RawMessage
	status, err := c.do(ctx, http.MethodDelete, pathProfiles+"/"+escape(id), nil, nil, &raw)
	if err != nil || status != http.StatusAccepted {
		return nil, err
	}
	var pe domain.PendingEdit
	return &pe, decodeRaw(raw, &pe)
}

// --- certificates

// CreateCertificate registers a certificate and starts its issuance.
func (c *Client) CreateCertificate(ctx context.Context, in domain.CertificateInput) (*domain.Started, error) {
	var s domain.Started
	if _, err := c.do(ctx, http.MethodPost, pathCertificates, nil, in, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// GetCertificate reads one certificate.
func (c *Client) GetCertificate(ctx context.Context, id string) (*domain.Certificate, error) {
	var cert domain.Certificate
	if _, err := c.do(ctx, http.MethodGet, pathCertificates+"/"+escape(id), nil, nil, &cert); err != nil {
		return nil, err
	}
	return &cert, nil
}

// ListCertificates reads one page of certificates.
func (c *Client) ListCertificates(ctx context.Context, f CertificateFilter, p PageRequest) ([]domain.Certificate, string, error) {
	q := filter("status", f.Status, "profile_id", f.ProfileID)
	return getList[domain.Certificate](ctx, c, pathCertificates, q, p)
}

// AllCertificates reads every certificate matching f.
func (c *Client) AllCertificates(ctx context.Context, f CertificateFilter) ([]domain.Certificate, error) {
	return all(ctx, func(ctx context.Context, p PageRequest) ([]domain.Certificate, string, error) {
		return c.ListCertificates(ctx, f, p)
	})
}

// ListVersions reads one page of a certificate's issued versions, newest first.
func (c *Client) ListVersions(ctx context.Context, certID string, p PageRequest) ([]domain.CertificateVersion, string, error) {
	return getList[domain.CertificateVersion](ctx, c, pathCertificates+"/"+escape(certID)+"/versions", nil, p)
}

// AllVersions reads every issued version of a certificate, newest first.
func (c *Client) AllVersions(ctx context.Context, certID string) ([]domain.CertificateVersion, error) {
	return all(ctx, func(ctx context.Context, p PageRequest) ([]domain.CertificateVersion, string, error) {
		return c.ListVersions(ctx, certID, p)
	})
}

// Renew starts a renewal, with a new CSR (or, empty, the stored one) and
// the reason given, if any.
func (c *Client) Renew(ctx context.Context, certID string, in domain.RenewInput) (*domain.Started, error) {
	var body any
	if in != (domain.RenewInput{}) {
		body = in
	}
	var s domain.Started
	if _, err := c.do(ctx, http.MethodPost, pathCertificates+"/"+escape(certID)+"/renew", nil, body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// --- jobs

// GetJob reads one job.
func (c *Client) GetJob(ctx context.Context, id string) (*domain.Job, error) {
	var j domain.Job
	if _, err := c.do(ctx, http.MethodGet, pathJobs+"/"+escape(id), nil, nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// RepairJob ends a job whose execution is no longer running (admin).
func (c *Client) RepairJob(ctx context.Context, id string) (*domain.Job, error) {
	var j domain.Job
	if _, err := c.do(ctx, http.MethodPost, pathJobs+"/"+escape(id)+"/repair", nil, nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// ListJobs reads one page of jobs.
func (c *Client) ListJobs(ctx context.Context, f JobFilter, p PageRequest) ([]domain.Job, string, error) {
	q := filter("certificate_id", f.CertificateID, "status", f.Status)
	return getList[domain.Job](ctx, c, pathJobs, q, p)
}

// AllJobs reads every job matching f.
func (c *Client) AllJobs(ctx context.Context, f JobFilter) ([]domain.Job, error) {
	return all(ctx, func(ctx context.Context, p PageRequest) ([]domain.Job, string, error) {
		return c.ListJobs(ctx, f, p)
	})
}

// --- approvals

// GetApproval reads one approval request with what it would approve.
func (c *Client) GetApproval(ctx context.Context, id string) (*domain.ApprovalView, error) {
	var a domain.ApprovalView
	if _, err := c.do(ctx, http.MethodGet, pathApprovals+"/"+escape(id), nil, nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// ListApprovals reads one page of approval requests, newest first.
func (c *Client) ListApprovals(ctx context.Context, f ApprovalFilter, p PageRequest) ([]domain.ApprovalView, string, error) {
	canVote := ""
	if f.CanVote {
		canVote = "true"
	}
	q := filter("state", f.State, "kind", f.Kind, "profile_id", f.ProfileID,
		"certificate_id", f.CertificateID, "requested_by", f.RequestedBy, "can_vote", canVote)
	return getList[domain.ApprovalView](ctx, c, pathApprovals, q, p)
}

// AllApprovals reads every approval request matching f.
func (c *Client) AllApprovals(ctx context.Context, f ApprovalFilter) ([]domain.ApprovalView, error) {
	return all(ctx, func(ctx context.Context, p PageRequest) ([]domain.ApprovalView, string, error) {
		return c.ListApprovals(ctx, f, p)
	})
}

// Approve approves a pending request; note is optional.
func (c *Client) Approve(ctx context.Context, id, note string) (*domain.Decision, error) {
	return c.decide(ctx, id, "approve", note)
}

// Reject rejects a pending request; the server requires a note.
func (c *Client) Reject(ctx context.Context, id, note string) (*domain.Decision, error) {
	return c.decide(ctx, id, "reject", note)
}

func (c *Client) decide(ctx context.Context, id, action, note string) (*domain.Decision, error) {
	var d domain.Decision
	body := map[string]string{"note": note}
	if _, err := c.do(ctx, http.MethodPost, pathApprovals+"/"+escape(id)+"/"+action, nil, body, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// --- issuers

// GetIssuer reads an issuer and its CA certificate.
func (c *Client) GetIssuer(ctx context.Context, id string) (*domain.IssuerView, error) {
	var is domain.IssuerView
	if _, err := c.do(ctx, http.MethodGet, pathIssuers+"/"+escape(id), nil, nil, &is); err != nil {
		return nil, err
	}
	return &is, nil
}

// ListIssuers reads the issuers (there is one, "default").
func (c *Client) ListIssuers(ctx context.Context) ([]domain.IssuerView, error) {
	return all(ctx, func(ctx context.Context, p PageRequest) ([]domain.IssuerView, string, error) {
		return getList[domain.IssuerView](ctx, c, pathIssuers, nil, p)
	})
}

// Revoke revokes one version of a certificate (in.Serial) or every version
// neither expired nor revoked yet.
func (c *Client) Revoke(ctx context.Context, certID string, in domain.RevokeInput) (*domain.Revocation, error) {
	var r domain.Revocation
	if _, err := c.do(ctx, http.MethodPost, pathCertificates+"/"+escape(certID)+"/revoke", nil, in, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// CRL fetches an issuer's current CRL (DER); the route needs no credentials.
func (c *Client) CRL(ctx context.Context, issuerID string) ([]byte, error) {
	return c.der(ctx, pathIssuers+"/"+escape(issuerID)+"/crl", "application/pkix-crl")
}

// CACertificate fetches an issuer's CA certificate (DER); the route needs
// no credentials.
func (c *Client) CACertificate(ctx context.Context, issuerID string) ([]byte, error) {
	return c.der(ctx, pathIssuers+"/"+escape(issuerID)+"/ca", "application/pkix-cert")
}

// der fetches DER. A gateway that does not treat the answer as binary
// sends it base64-encoded: that is decoded too.
func (c *Client) der(ctx context.Context, path, mediaType string) ([]byte, error) {
	_, body, err := c.sendAccepting(ctx, http.MethodGet, path, nil, nil, mediaType)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 && body[0] != 0x30 { // not a DER SEQUENCE
		if decoded, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(body))); derr == nil && len(decoded) > 0 && decoded[0] == 0x30 {
			return decoded, nil
		}
		return nil, fmt.Errorf("GET %s: the answer is not DER", path)
	}
	return body, nil
}

// Archive archives a certificate: it is never renewed again.
func (c *Client) Archive(ctx context.Context, certID string) (*domain.Certificate, error) {
	var cert domain.Certificate
	if _, err := c.do(ctx, http.MethodPost, pathCertificates+"/"+escape(certID)+"/archive", nil, nil, &cert); err != nil {
		return nil, err
	}
	return &cert, nil
}

// DeleteCertificate deletes an archived certificate's records. It returns
// nil once the certificate is gone, or what is left for the next call.
func (c *Client) DeleteCertificate(ctx context.Context, certID string) (*domain.Deletion, error) {
	var d domain.Deletion
	status, err := c.do(ctx, http.MethodDelete, pathCertificates+"/"+escape(certID), nil, nil, &d)
	if err != nil || status != http.StatusAccepted {
		return nil, err
	}
	return &d, nil
}

// MoveCertificate moves a certificate to another profile. It returns the
// certificate, or, when the move changes a gate, the pending request a
// second person must approve (and a nil certificate).
func (c *Client) MoveCertificate(ctx context.Context, certID string, in domain.MoveInput) (*domain.Certificate, *domain.PendingEdit, error) {
	var raw json.RawMessage
	status, err := c.do(ctx, http.MethodPut, pathCertificates+"/"+escape(certID), nil, in, &raw)
	if err != nil {
		return nil, nil, err
	}
	if status == http.StatusAccepted {
		var pe domain.PendingEdit
		return nil, &pe, decodeRaw(raw, &pe)
	}
	var cert domain.Certificate
	return &cert, nil, decodeRaw(raw, &cert)
}
