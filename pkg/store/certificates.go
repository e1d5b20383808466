package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// CreateCertificate inserts a certificate together with its first (issuance)
// job, its approval request if gated, and the audit rows. The profile must
// still be at the version the gate was read from, so a concurrent profile
// edit cannot slip an ungated issuance through.
func (st *Store) CreateCertificate(ctx context.Context, in workflow.NewJob) error {
	item, err := marshalItem(certItemOf(in.Cert))
	if err != nil {
		return err
	}
	var t txn
	t.add(st.putNew(item))
	t.add(st.profileGainsCertificate(in.Cert.ProfileID, in.ProfileVersion))
	err = st.writeJob(ctx, in, &t)
	if errors.Is(err, workflow.ErrChanged) {
		if _, getErr := st.GetCertificate(ctx, in.Cert.ID); getErr == nil {
			return domain.Conflictf("certificate %q already exists", in.Cert.ID)
		}
		return domain.Conflictf("profile %q or name governance changed while the certificate was being created; retry", in.Cert.ProfileID)
	}
	return err
}

// StartRenewal marks the certificate RenewalInProgress and records the job,
// only if no other job is in flight and the status is still the one read.
func (st *Store) StartRenewal(ctx context.Context, in workflow.NewJob) error {
	upd := expression.Set(nameOf(attrStatus), valueOf(s(string(domain.CertRenewalInProgress)))).
		Set(nameOf(attrCurrentJobID), valueOf(s(in.Job.ID))).
		Set(nameOf(attrUpdatedAt), valueOf(s(stamp(in.Job.CreatedAt))))
	conds := []expression.ConditionBuilder{
		exists(), nameOf(attrCurrentJobID).AttributeNotExists(), equals(attrStatus, s(string(in.Job.PrevCertStatus))),
	}
	if in.ExpectRenewAt != nil {
		conds = append(conds, equals(attrRenewAt, s(in.ExpectRenewAt.Format(time.RFC3339Nano)))) // as the item stores it
	}
	var t txn
	t.add(st.txUpdate(certKey(in.Cert.ID), upd, conds...))
	t.add(st.profileUnchanged(in.Cert.ProfileID, in.ProfileVersion))
	err := st.writeJob(ctx, in, &t)
	if errors.Is(err, workflow.ErrChanged) {
		cur, getErr := st.GetCertificate(ctx, in.Cert.ID)
		switch {
		case getErr != nil:
			return getErr
		case cur.CurrentJobID != "":
			return domain.Conflictf("certificate %q already has job %s in flight", cur.ID, cur.CurrentJobID)
		default:
			return domain.Conflictf("certificate %q, its profile or name governance changed concurrently; retry", cur.ID)
		}
	}
	return err
}

// writeJob adds the new job (and its request, governance check and bypass
// count) to t and commits it.
func (st *Store) writeJob(ctx context.Context, in workflow.NewJob, t *txn) error {
	jobIt, err := marshalItem(jobItemOf(in.Job, in.StartInput))
	if err != nil {
		return err
	}
	t.add(st.putNew(jobIt))
	if in.Governance != nil {
		t.add(st.governanceUnchanged(*in.Governance))
	}
	if in.Approval != nil {
		rec, err := approvalItemOf(in.Approval)
		if err != nil {
			return err
		}
		apIt, err := marshalItem(rec)
		if err != nil {
			return err
		}
		t.add(st.putNew(apIt))
		if in.Approval.State == domain.ApprovalPending {
			t.add(st.pendingCount(in.Approval.ProfileID, 1))
		}
	}
	if in.Bypassed {
		t.add(st.observeDecision(domain.KindCertIssuance, string(domain.ApprovalBypassed), in.Cert.ProfileID, 0))
	}
	return st.commitTxn(ctx, t, in.Audits...)
}

// GetCertificate reads one certificate.
func (st *Store) GetCertificate(ctx context.Context, id string) (*domain.Certificate, error) {
	item, err := st.get(ctx, certKey(id), "certificate "+id)
	if err != nil {
		return nil, err
	}
	return decode(item, (*certItem).toDomain)
}

// ListCertificates lists certificates, newest first.
func (st *Store) ListCertificates(ctx context.Context, f domain.CertificateFilter, page domain.PageRequest) ([]*domain.Certificate, string, error) {
	q := st.listQuery(tagCert)
	q.filter = eqFilters(map[string]string{attrStatus: f.Status, attrProfileID: f.ProfileID})
	return queryAs(ctx, st, q, page, decoder((*certItem).toDomain))
}

// ListVersions lists a certificate's issued versions, newest first.
func (st *Store) ListVersions(ctx context.Context, certID string, page domain.PageRequest) ([]*domain.CertificateVersion, string, error) {
	k := versionKey(certID, "")
	// Strongly consistent: a revocation or a deletion decides from this
	// list, and a version issued a moment ago must be on it.
	q := query{table: st.stateTable, consistent: true, key: keyOf(attrPK).Equal(valueOf(s(k.PK))).And(keyOf(attrSK).BeginsWith(k.SK))}
	return queryAs(ctx, st, q, page, decoder((*versionItem).toDomain))
}

// DeferRenewal moves an idle certificate's place in the due index to
// until, so the sweep stops asking for a renewal policy refuses (a person
// has to act), with its audit row.
func (st *Store) DeferRenewal(ctx context.Context, certID string, until time.Time, audit *domain.AuditEvent) error {
	var t txn
	t.add(st.txUpdate(certKey(certID), expression.Set(nameOf(attrDueSK), valueOf(s(dueSK(until, certID)))),
		nameOf(attrDuePK).AttributeExists(), nameOf(attrCurrentJobID).AttributeNotExists()))
	return st.commitTxn(ctx, &t, audit)
}

// GetVersion reads the version a job issued.
func (st *Store) GetVersion(ctx context.Context, certID, jobID string) (*domain.CertificateVersion, error) {
	item, err := st.get(ctx, versionKey(certID, jobID), "version of job "+jobID)
	if err != nil {
		return nil, err
	}
	return decode(item, (*versionItem).toDomain)
}

// PendingStarts pages through jobs queued for a start before cutoff, oldest first.
func (st *Store) PendingStarts(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]workflow.PendingStart, string, error) {
	return queryAs(ctx, st, st.queuedBefore(startPartition, cutoff), page, decoder((*jobItem).pendingStart))
}

// ClearStart takes a job out of the start queue once its execution exists.
func (st *Store) ClearStart(ctx context.Context, jobID string) error {
	return st.dequeue(ctx, "clear start of "+jobID, jobKey(jobID), startPartition)
}

// DueBefore pages through certificates whose renewal time is before t and
// that have no job in flight, oldest first. It reads the sparse due index,
// so its cost follows the number of due certificates, not the total.
func (st *Store) DueBefore(ctx context.Context, t time.Time, page domain.PageRequest) ([]*domain.Certificate, string, error) {
	q := query{
		table: st.stateTable, index: IndexDue, forward: true,
		key:    keyOf(attrDuePK).Equal(valueOf(s(duePartition))).And(keyOf(attrDueSK).LessThan(valueOf(s(SortTime(t))))),
		filter: []expression.ConditionBuilder{nameOf(attrCurrentJobID).AttributeNotExists()},
	}
	return queryAs(ctx, st, q, page, decoder((*certItem).toDomain))
}
