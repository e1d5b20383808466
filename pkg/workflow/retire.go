package workflow

import (
	"context"
	"fmt"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// deleteBatch bounds the records one deletion transaction removes (with a
// check of the certificate and the audit row, within DynamoDB's 100), and
// deleteBatchesPerCall the transactions one call makes: a certificate with
// more records is deleted over several calls.
const (
	deleteBatch          = 90
	deleteBatchesPerCall = 10
)

// ArchiveCertificate retires a certificate: status Archived, out of the
// sweep's index, never renewed or issued again. Its versions stay valid
// until they expire (revoke them to remove trust). While a job is in
// flight, or a move waits for approval, archiving is refused (409): the
// job would otherwise end on an archived certificate, and a decided move
// would move it; let the job end (or reject its request) first.
func (s *Service) ArchiveCertificate(ctx context.Context, actor domain.Actor, certID string) (*domain.Certificate, error) {
	for attempt := 0; attempt < maxRetries; attempt++ {
		cert, err := s.Retirement.GetCertificate(ctx, certID)
		if err != nil {
			return nil, err
		}
		if err := archivable(cert); err != nil {
			return nil, err
		}
		now := s.now()
		audit := &domain.AuditEvent{
			Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditCertificateArchived,
			ResourceType: "certificate", ResourceID: cert.ID, Timestamp: now,
			Details: map[string]any{"from_status": string(cert.Status), "profile_id": cert.ProfileID, "serial_number": cert.SerialNumber},
		}
		err = s.Retirement.ArchiveCertificate(ctx, cert, now, audit)
		if IsChanged(err) {
			continue // a job started, or the status changed: classify again
		}
		if err != nil {
			return nil, err
		}
		return s.Retirement.GetCertificate(ctx, certID)
	}
	return nil, domain.Conflictf("certificate %s is changing concurrently; retry", certID)
}

// archivable says why a certificate cannot be archived now, if it cannot.
func archivable(c *domain.Certificate) error {
	switch {
	case c.Status == domain.CertArchived:
		return domain.Conflictf("certificate %s is already archived", c.ID)
	case c.CurrentJobID != "":
		return domain.Conflictf("certificate %s has job %s in flight: let it end (or reject its approval request) and archive again", c.ID, c.CurrentJobID)
	case c.PendingMoveID != "":
		return domain.Conflictf("certificate %s has a move waiting for approval (%s): decide it first", c.ID, c.PendingMoveID)
	}
	return nil
}

// DeleteCertificate removes an archived certificate's records: its
// versions, its jobs and their requests, then the certificate itself (and
// its count on its profile). The audit trail keeps its history, and the
// issuer's CRL keeps listing its revoked versions until they expire.
// Records go in bounded transactions, each checking that the certificate
// is still archived and carrying its audit row; a certificate with more
// records than one call deletes answers a Deletion (call again), nil when
// it is gone.
func (s *Service) DeleteCertificate(ctx context.Context, actor domain.Actor, certID string) (*domain.Deletion, error) {
	cert, err := s.Retirement.GetCertificate(ctx, certID)
	if err != nil {
		return nil, err
	}
	if cert.Status != domain.CertArchived {
		return nil, domain.Conflictf("certificate %s is %s: only an archived certificate is deleted; archive it first", certID, cert.Status)
	}
	if err := s.noLiveVersions(ctx, cert); err != nil {
		return nil, err
	}
	size := deleteBatch
	if s.DeleteBatch > 0 && s.DeleteBatch < deleteBatch {
		size = s.DeleteBatch
	}
	deleted := 0
	done := map[RecordKey]bool{}
	for batch := 0; batch < deleteBatchesPerCall; batch++ {
		keys, err := s.Retirement.CertificateRecords(ctx, certID, size+len(done))
		if err != nil {
			return nil, err
		}
		// An index may still list what this call deleted a moment ago.
		fresh := keys[:0]
		for _, k := range keys {
			if !done[k] {
				fresh = append(fresh, k)
			}
		}
		if len(fresh) > size {
			fresh = fresh[:size]
		}
		if len(fresh) == 0 {
			return nil, s.deleteCertificateItem(ctx, actor, cert, deleted)
		}
		now := s.now()
		audit := &domain.AuditEvent{
			Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditCertificatePurged,
			ResourceType: "certificate", ResourceID: certID, Timestamp: now,
			Details: recordDetails(fresh),
		}
		err = s.Retirement.DeleteCertificateRecords(ctx, certID, fresh, audit)
		if IsChanged(err) {
			return nil, domain.Conflictf("certificate %s changed while its records were being deleted; retry", certID)
		}
		if err != nil {
			return nil, err
		}
		for _, k := range fresh {
			done[k] = true
		}
		deleted += len(fresh)
	}
	return &domain.Deletion{
		Status: "deleting", Deleted: deleted, Remaining: true,
		Message: fmt.Sprintf("deleted %d records of certificate %s; more remain: send DELETE again to go on", deleted, certID),
	}, nil
}

func (s *Service) deleteCertificateItem(ctx context.Context, actor domain.Actor, cert *domain.Certificate, records int) error {
	audit := &domain.AuditEvent{
		Actor: actor.ID, ActorType: actor.Type, Action: domain.AuditCertificateDeleted,
		ResourceType: "certificate", ResourceID: cert.ID, Timestamp: s.now(),
		Details: map[string]any{
			"profile_id": cert.ProfileID, "common_name": cert.CommonName, "sans": cert.SANs,
			"serial_number": cert.SerialNumber, "records_deleted_by_this_call": records,
		},
	}
	err := s.Retirement.DeleteCertificate(ctx, cert, audit)
	if IsChanged(err) {
		return domain.Conflictf("certificate %s changed while it was being deleted; retry", cert.ID)
	}
	return err
}

func recordDetails(keys []RecordKey) map[string]any {
	by := map[string][]string{}
	for _, k := range keys {
		by[k.Kind+"s"] = append(by[k.Kind+"s"], k.ID)
	}
	out := map[string]any{}
	for kind, ids := range by {
		out[kind] = ids
	}
	return out
}

// noLiveVersions refuses to delete a certificate while a version of it is
// unexpired and unrevoked: revocation finds versions through their
// certificate, so once deleted such a version could never reach the CRL
// (a key compromise found later would have no remedy). Archived, the
// certificate gains no versions, so the check cannot go stale.
func (s *Service) noLiveVersions(ctx context.Context, cert *domain.Certificate) error {
	versions, err := allVersions(ctx, s.Revocations, cert.ID)
	if err != nil {
		return err
	}
	now := s.now()
	var live []string
	for _, v := range versions {
		if v.RevokedAt == nil && v.NotAfter.After(now) {
			live = append(live, v.SerialNumber)
		}
	}
	if len(live) > 0 {
		return domain.Conflictf("certificate %s has %d version(s) still valid and not revoked (serial %s): revoke them first (POST /api/v1/certificates/%s/revoke), or delete once they have expired; a deleted certificate's versions can no longer be revoked",
			cert.ID, len(live), live[0], cert.ID)
	}
	return nil
}
