package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// CRLTrigger asks for an issuer's CRL to be made again without waiting for
// it (in AWS: an asynchronous invocation of the function that holds the
// CA key). A lost trigger costs only time: the revocation left the CRL
// stale, and the scheduled refresh makes it again.
type CRLTrigger interface {
	RefreshCRL(ctx context.Context, issuerID string) error
}

// revokeChunk bounds the versions one revocation transaction revokes:
// each takes two items (the version and its CRL entry), plus the CRL
// state, the certificate and the audit row, within DynamoDB's 100.
const revokeChunk = 40

// maxVersionPages bounds the pages of versions read to revoke: a
// certificate renewed every day for ten years has fewer.
const maxVersionPages = 40

// Revoke revokes one version of a certificate (in.Serial) or every
// version that has neither expired nor been revoked yet. It takes effect
// at once: revocation only removes trust, so it needs no second person.
// Revoking the current version (or every version) makes the certificate
// Revoked, so it is never renewed again; a job in flight for it then
// fails instead of issuing. The issuer's CRL is made again at once (see
// CRLTrigger) and lists the revoked serials until they expire.
func (s *Service) Revoke(ctx context.Context, actor domain.Actor, certID string, in domain.RevokeInput) (*domain.Revocation, error) {
	if _, ok := ca.ReasonCode(in.Reason); !ok {
		return nil, domain.Invalidf("reason %q is not a revocation reason this CA uses; use one of %s (RFC 5280)", in.Reason, strings.Join(ca.RevocationReasons(), ", "))
	}
	serial := ""
	if in.Serial != "" {
		var err error
		if serial, err = NormalizeSerial(in.Serial); err != nil {
			return nil, err
		}
	}
	var done []domain.RevokedVersion
	var cert *domain.Certificate
	var at time.Time
	for attempt := 0; attempt < maxRetries; attempt++ {
		var err error
		if cert, err = s.Revocations.GetCertificate(ctx, certID); err != nil {
			return nil, err
		}
		versions, err := allVersions(ctx, s.Revocations, certID)
		if err != nil {
			return nil, err
		}
		if cert.SerialNumber != "" && !slices.ContainsFunc(versions, func(v *domain.CertificateVersion) bool { return v.SerialNumber == cert.SerialNumber }) {
			continue // the certificate's current version is not listed yet: read both again
		}
		at = s.now()
		targets, err := revocable(cert, versions, serial, at)
		if err != nil {
			if len(done) > 0 && errors.Is(err, domain.ErrConflict) {
				break // what is left was revoked by this call's earlier chunks, or concurrently
			}
			return nil, err
		}
		if err := s.roomOnCRL(ctx, cert.IssuerID, len(targets)); err != nil {
			return nil, err
		}
		// The current version going (or every version) retires the
		// certificate; an archived one stays Archived.
		whole := serial == "" || serial == cert.SerialNumber
		status := cert.Status
		if whole && cert.Status != domain.CertArchived {
			status = domain.CertRevoked
		}
		changed := false
		for len(targets) > 0 {
			chunk := targets[:min(len(targets), revokeChunk)]
			targets = targets[len(chunk):]
			r := s.revocation(actor, cert, chunk, in.Reason, status, whole, at)
			err := s.Revocations.Revoke(ctx, r)
			if IsChanged(err) {
				changed = true
				break // re-read: revoked concurrently, or the certificate changed
			}
			if err != nil {
				return nil, err
			}
			for _, v := range chunk {
				done = append(done, domain.RevokedVersion{SerialNumber: v.SerialNumber, JobID: v.JobID, NotAfter: v.NotAfter})
			}
			cert.Status = status
			if whole {
				cert.RevokedAt, cert.RevocationReason = &at, in.Reason
			}
		}
		if !changed {
			break
		}
	}
	if len(done) == 0 {
		return nil, domain.Conflictf("certificate %s is changing concurrently; retry", certID)
	}
	s.triggerCRL(ctx, cert.IssuerID)
	fresh, err := s.Revocations.GetCertificate(ctx, certID)
	if err == nil {
		cert = fresh
	}
	return &domain.Revocation{Certificate: cert, Reason: in.Reason, RevokedAt: at, Revoked: done}, nil
}

// NormalizeSerial reads a serial as people write it (upper or lower case,
// with colons, with leading zeros) into the form versions store: lower-case
// hex without leading zeros.
func NormalizeSerial(raw string) (string, error) {
	h := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(raw), ":", ""))
	h = strings.TrimPrefix(h, "0x")
	if h == "" || len(h) > 64 || strings.ContainsFunc(h, func(r rune) bool { return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') }) {
		return "", domain.Invalidf("serial %q is not a certificate serial number (hexadecimal, as the versions list shows it)", raw)
	}
	if h = strings.TrimLeft(h, "0"); h == "" {
		return "", domain.Invalidf("serial %q is not a certificate serial number (it is zero)", raw)
	}
	return h, nil
}

// versionLister pages through a certificate's versions.
type versionLister interface {
	ListVersions(ctx context.Context, certID string, page domain.PageRequest) ([]*domain.CertificateVersion, string, error)
}

// allVersions reads every version of a certificate, newest first.
func allVersions(ctx context.Context, l versionLister, certID string) ([]*domain.CertificateVersion, error) {
	var out []*domain.CertificateVersion
	token := ""
	for page := 0; page < maxVersionPages; page++ {
		vs, next, err := l.ListVersions(ctx, certID, domain.PageRequest{Limit: 100, Token: token})
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
		if next == "" {
			return out, nil
		}
		token = next
	}
	return nil, fmt.Errorf("revoke: certificate %s has more than %d pages of versions", certID, maxVersionPages)
}

// revocable picks the versions a revocation revokes, or says why none.
func revocable(cert *domain.Certificate, versions []*domain.CertificateVersion, serial string, now time.Time) ([]*domain.CertificateVersion, error) {
	if serial != "" {
		i := slices.IndexFunc(versions, func(v *domain.CertificateVersion) bool { return v.SerialNumber == serial })
		if i < 0 {
			return nil, domain.NotFoundf("certificate %s has no version with serial %s", cert.ID, serial)
		}
		v := versions[i]
		switch {
		case v.RevokedAt != nil:
			return nil, domain.Conflictf("serial %s of certificate %s is already revoked (%s, at %s)", serial, cert.ID, v.RevocationReason, v.RevokedAt.Format(time.RFC3339))
		case !v.NotAfter.After(now):
			return nil, domain.Conflictf("serial %s of certificate %s expired at %s: an expired certificate is not revoked (no CRL lists it)", serial, cert.ID, v.NotAfter.Format(time.RFC3339))
		}
		return []*domain.CertificateVersion{v}, nil
	}
	var out []*domain.CertificateVersion
	revoked := 0
	for _, v := range versions {
		switch {
		case v.RevokedAt != nil:
			revoked++
		case v.NotAfter.After(now):
			out = append(out, v)
		}
	}
	switch {
	case len(out) > 0:
		return out, nil
	case len(versions) == 0:
		return nil, domain.Conflictf("certificate %s has no issued version to revoke", cert.ID)
	case revoked > 0:
		return nil, domain.Conflictf("certificate %s is already revoked: every version that has not expired is revoked", cert.ID)
	}
	return nil, domain.Conflictf("certificate %s has no version left to revoke: every version has expired", cert.ID)
}

// roomOnCRL refuses a revocation the issuer's CRL could not hold: the CRL
// is stored in one DynamoDB item, so its entries are capped (see
// CRLMaxEntries). The revocation's own condition enforces the cap; this
// check only explains it.
func (s *Service) roomOnCRL(ctx context.Context, issuerID string, adding int) error {
	c, err := s.Revocations.GetCRL(ctx, issuerID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		c = &domain.CRL{}
	case err != nil:
		return err
	}
	if limit := s.crlMaxEntries(); c.EntryCount+int64(adding) > limit {
		return domain.Conflictf("the CRL of issuer %s holds %d of its %d entries and cannot take %d more: a CRL is kept in one DynamoDB item (400 KB); entries leave it as their certificates expire", issuerID, c.EntryCount, limit, adding)
	}
	return nil
}

// revocation builds one revocation transaction.
func (s *Service) revocation(actor domain.Actor, cert *domain.Certificate, versions []*domain.CertificateVersion, reason string, status domain.CertStatus, whole bool, at time.Time) Revocation {
	r := Revocation{Cert: cert, Status: status, SetCert: whole, MaxEntries: s.crlMaxEntries(), At: at}
	serials := make([]string, len(versions))
	for i, v := range versions {
		serials[i] = v.SerialNumber
		r.Entries = append(r.Entries, domain.RevocationEntry{
			IssuerID: cert.IssuerID, SerialNumber: v.SerialNumber, CertificateID: cert.ID, JobID: v.JobID,
			Reason: reason, RevokedAt: at, RevokedBy: actor.ID, NotAfter: v.NotAfter,
		})
	}
	r.Audit = &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditCertificateRevoked,
		ResourceType: "certificate", ResourceID: cert.ID, Timestamp: at,
		Details: map[string]any{
			"serials": serials, "reason": reason, "issuer_id": cert.IssuerID,
			"current_version": whole, "from_status": string(cert.Status), "status": string(status),
		},
	}
	return r
}

// triggerCRL asks for the CRL to be made again now; a failure is only
// logged: the CRL is stale and the scheduled refresh makes it.
func (s *Service) triggerCRL(ctx context.Context, issuerID string) {
	if s.CRLTrigger == nil {
		return
	}
	if err := s.CRLTrigger.RefreshCRL(context.WithoutCancel(ctx), issuerID); err != nil {
		s.log().WarnContext(ctx, "revoked; asking for the CRL to be made again failed (the scheduled refresh will)", "issuer_id", issuerID, "error", err)
	}
}
