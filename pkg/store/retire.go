package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Record kinds of a certificate's deletion (workflow.RecordKey).
const (
	recordVersion  = "version"
	recordJob      = "job"
	recordApproval = "approval"
	recordDelivery = "delivery"
	// recordMove is a move request: found through by_parent, and counted
	// on the certificate (move_requests) so that its deletion cannot miss
	// one the index does not list yet.
	recordMove = "move_request"
)

// ArchiveCertificate archives an idle certificate (no job in flight, no
// move pending, status as read), takes it out of the due index, and
// appends its audit row.
func (st *Store) ArchiveCertificate(ctx context.Context, cert *domain.Certificate, at time.Time, audit *domain.AuditEvent) error {
	when := valueOf(s(stamp(at)))
	upd := expression.Set(nameOf(attrStatus), valueOf(s(string(domain.CertArchived)))).
		Set(nameOf(attrArchivedAt), when).
		Set(nameOf(attrUpdatedAt), when).
		Remove(nameOf(attrDuePK)).Remove(nameOf(attrDueSK)).
		// Out of the expiry queue too: nobody is warned of its end.
		Remove(nameOf(attrPendingPK)).Remove(nameOf(attrPendingSK))
	var t txn
	t.add(st.txUpdate(certKey(cert.ID), upd, exists(), equals(attrStatus, s(string(cert.Status))),
		nameOf(attrCurrentJobID).AttributeNotExists(), nameOf(attrPendingMoveID).AttributeNotExists()))
	return st.commitTxn(ctx, &t, audit)
}

// CertificateRecords lists up to max records a deletion of the
// certificate removes: its versions (strongly consistent), then its jobs
// and each job's request (from the by_parent index, which may lag a moment
// behind: a record already deleted may still be listed, and deleting it
// again changes nothing), then its move requests (from the same index,
// each read again strongly consistent: their deletions are counted, so
// one already gone is left out).
func (st *Store) CertificateRecords(ctx context.Context, certID string, max int) ([]workflow.RecordKey, error) {
	var out []workflow.RecordKey
	vk := versionKey(certID, "")
	versions, _, err := queryAs(ctx, st, query{table: st.stateTable, consistent: true,
		key: keyOf(attrPK).Equal(valueOf(s(vk.PK))).And(keyOf(attrSK).BeginsWith(vk.SK))},
		domain.PageRequest{Limit: max}, decoder((*versionItem).toDomain))
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		out = append(out, workflow.RecordKey{Kind: recordVersion, ID: v.JobID})
	}
	if len(out) >= max {
		return out, nil
	}
	dk := deliveryKey(certID, "")
	deliveries, _, err := queryAs(ctx, st, query{table: st.stateTable, consistent: true,
		key: keyOf(attrPK).Equal(valueOf(s(dk.PK))).And(keyOf(attrSK).BeginsWith(dk.SK))},
		domain.PageRequest{Limit: max - len(out)}, decoder((*deliveryItem).toDomain))
	if err != nil {
		return nil, err
	}
	for _, d := range deliveries {
		out = append(out, workflow.RecordKey{Kind: recordDelivery, ID: d.JobID})
	}
	if len(out) >= max {
		return out, nil
	}
	jobs, _, err := queryAs(ctx, st, query{table: st.stateTable, index: IndexParent, key: keyOf(attrParentPK).Equal(valueOf(s(jobsOf(certID))))},
		domain.PageRequest{Limit: max - len(out)}, decoder((*jobItem).toDomain))
	if err != nil {
		return nil, err
	}
	// A job's request before the job: a deletion cut between them leaves
	// the job, and through it the request, to be found again.
	for _, j := range jobs {
		if j.ApprovalID != "" {
			out = append(out, workflow.RecordKey{Kind: recordApproval, ID: j.ApprovalID})
		}
		out = append(out, workflow.RecordKey{Kind: recordJob, ID: j.ID})
	}
	if len(out) >= max {
		return out, nil
	}
	moves, _, err := queryAs(ctx, st, query{table: st.stateTable, index: IndexParent, key: keyOf(attrParentPK).Equal(valueOf(s(movesOf(certID))))},
		domain.PageRequest{Limit: max - len(out)}, decoder((*approvalItem).toDomain))
	if err != nil {
		return nil, err
	}
	for _, a := range moves {
		// The index may still list a request deleted a moment ago; its
		// deletion (counted, so not "or gone") would then fail: read it.
		if _, err := st.GetApproval(ctx, a.ID); errors.Is(err, domain.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, workflow.RecordKey{Kind: recordMove, ID: a.ID})
	}
	return out, nil
}

// DeleteCertificateRecords deletes some of an archived certificate's
// records in one transaction with its audit row, only while the
// certificate is still archived: a job only once it has ended, a request
// only once decided (a record already gone is no failure).
func (st *Store) DeleteCertificateRecords(ctx context.Context, certID string, keys []workflow.RecordKey, audit *domain.AuditEvent) error {
	if len(keys) == 0 || len(keys) > 98 {
		return fmt.Errorf("store: delete records: %d records (1 to 98 per transaction)", len(keys))
	}
	gone := nameOf(attrPK).AttributeNotExists()
	var t txn
	archived := equals(attrStatus, s(string(domain.CertArchived)))
	if moves := int64(countKind(keys, recordMove)); moves > 0 {
		t.add(st.txUpdate(certKey(certID), expression.Add(nameOf(attrMoveRequests), valueOf(n(-moves))), archived))
	} else {
		t.add(st.txCheck(certKey(certID), archived))
	}
	for _, k := range keys {
		switch k.Kind {
		case recordVersion:
			t.add(st.txDelete(versionKey(certID, k.ID), or(gone, equals(attrCertificateID, s(certID)))))
		case recordDelivery:
			t.add(st.txDelete(deliveryKey(certID, k.ID), or(gone, equals(attrCertificateID, s(certID)))))
		case recordJob:
			t.add(st.txDelete(jobKey(k.ID), or(gone, and(equals(attrCertificateID, s(certID)), or(
				equals(attrStatus, s(string(domain.JobCompleted))),
				equals(attrStatus, s(string(domain.JobFailed))),
				equals(attrStatus, s(string(domain.JobCancelled))))))))
		case recordApproval:
			t.add(st.txDelete(approvalKey(k.ID), or(gone, and(equals(attrCertificateID, s(certID)),
				nameOf(attrState).NotEqual(valueOf(s(string(domain.ApprovalPending))))))))
		case recordMove:
			// Not "or gone": the count goes down once per request deleted.
			t.add(st.txDelete(approvalKey(k.ID), and(equals(attrCertificateID, s(certID)),
				nameOf(attrState).NotEqual(valueOf(s(string(domain.ApprovalPending)))))))
		default:
			return fmt.Errorf("store: delete records: unknown kind %q", k.Kind)
		}
	}
	return st.commitTxn(ctx, &t, audit)
}

// DeleteCertificate deletes an archived certificate with no job in flight
// and takes it off its profile's count, with its audit row.
func (st *Store) DeleteCertificate(ctx context.Context, cert *domain.Certificate, audit *domain.AuditEvent) error {
	var t txn
	t.add(st.txDelete(certKey(cert.ID), equals(attrStatus, s(string(domain.CertArchived))), nameOf(attrCurrentJobID).AttributeNotExists(),
		// Every move request made for it already deleted (see recordMove).
		or(nameOf(attrMoveRequests).AttributeNotExists(), equals(attrMoveRequests, n(0)))))
	t.add(st.txUpdate(profileKey(cert.ProfileID), expression.Add(nameOf(attrCertificateCount), valueOf(n(-1))), exists()))
	err := st.commitTxn(ctx, &t, audit)
	if errors.Is(err, workflow.ErrChanged) {
		if _, getErr := st.GetCertificate(ctx, cert.ID); errors.Is(getErr, domain.ErrNotFound) {
			return domain.NotFoundf("certificate %s", cert.ID)
		}
	}
	return err
}

// countKind counts the keys of one kind.
func countKind(keys []workflow.RecordKey, kind string) int {
	n := 0
	for _, k := range keys {
		if k.Kind == kind {
			n++
		}
	}
	return n
}
