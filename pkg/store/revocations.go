package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Revoke writes one revocation atomically (workflow.Revocation): each
// version gets its revocation fields only if it has none (so a serial is
// revoked once), each serial a new CRL entry, the issuer's CRL state one
// more revision (the stale marker) and as many more entries as it may
// hold, the certificate its new status if its current version goes (only
// if its status is still the one read), and the audit row.
func (st *Store) Revoke(ctx context.Context, r workflow.Revocation) error {
	if len(r.Entries) == 0 {
		return errors.New("store: revoke: no versions")
	}
	at := valueOf(s(stamp(r.At)))
	var t txn
	for i := range r.Entries {
		e := &r.Entries[i]
		t.add(st.txUpdate(versionKey(e.CertificateID, e.JobID),
			expression.Set(nameOf(attrRevokedAt), at).
				Set(nameOf(attrRevocationReason), valueOf(s(e.Reason))).
				Set(nameOf(attrRevokedBy), valueOf(s(e.RevokedBy))),
			exists(), nameOf(attrRevokedAt).AttributeNotExists(), equals(attrSerialNumber, s(e.SerialNumber))))
		item, err := marshalItem(revocationEntryItemOf(e))
		if err != nil {
			return err
		}
		t.add(st.putNew(item))
	}
	issuerID := r.Entries[0].IssuerID
	room := r.MaxEntries - int64(len(r.Entries))
	t.add(st.txUpdate(crlKey(issuerID),
		expression.Add(nameOf(attrRevision), valueOf(n(1))).
			Add(nameOf(attrEntryCount), valueOf(n(int64(len(r.Entries))))).
			Set(nameOf(attrIssuerID), valueOf(s(issuerID))),
		or(nameOf(attrEntryCount).AttributeNotExists(), nameOf(attrEntryCount).LessThanEqual(valueOf(n(room))))))
	if r.SetCert {
		upd := expression.Set(nameOf(attrStatus), valueOf(s(string(r.Status)))).
			Set(nameOf(attrRevokedAt), at).
			Set(nameOf(attrRevocationReason), valueOf(s(r.Entries[0].Reason))).
			Set(nameOf(attrUpdatedAt), at)
		if r.Status.Retired() {
			// Out of the sweep's index and the expiry queue: it is never
			// renewed again, nor announced as expiring.
			upd = upd.Remove(nameOf(attrDuePK)).Remove(nameOf(attrDueSK)).
				Remove(nameOf(attrPendingPK)).Remove(nameOf(attrPendingSK))
		}
		// The serial too: a renewal that completed since the certificate
		// was read has a current version this revocation does not revoke,
		// so it must not mark the certificate revoked (re-read instead).
		serial := nameOf(attrSerialNumber).AttributeNotExists()
		if r.Cert.SerialNumber != "" {
			serial = equals(attrSerialNumber, s(r.Cert.SerialNumber))
		}
		t.add(st.txUpdate(certKey(r.Cert.ID), upd, exists(), equals(attrStatus, s(string(r.Cert.Status))), serial))
	} else {
		t.add(st.txCheck(certKey(r.Cert.ID), exists()))
	}
	return st.commitTxn(ctx, &t, r.Audit)
}

// GetCRL reads an issuer's CRL state; domain.ErrNotFound before its first
// revocation or publication.
func (st *Store) GetCRL(ctx context.Context, issuerID string) (*domain.CRL, error) {
	item, err := st.get(ctx, crlKey(issuerID), "CRL of issuer "+issuerID)
	if err != nil {
		return nil, err
	}
	return decode(item, (*crlItem).toDomain)
}

// ListRevocationEntries pages through an issuer's revocation entries with
// strongly consistent reads: after a revocation commits, every later
// listing has its entry.
func (st *Store) ListRevocationEntries(ctx context.Context, issuerID string, page domain.PageRequest) ([]*domain.RevocationEntry, string, error) {
	k := crlKey(issuerID)
	q := query{
		table: st.stateTable, forward: true, consistent: true,
		key: keyOf(attrPK).Equal(valueOf(s(k.PK))).And(keyOf(attrSK).BeginsWith(entryPrefix)),
	}
	return queryAs(ctx, st, q, page, decoder((*revocationEntryItem).toDomain))
}

// PruneRevocationEntries deletes entries of expired certificates and takes
// them off the CRL state's entry count, in one transaction with its audit
// row. Every entry must still exist (workflow.ErrChanged otherwise).
func (st *Store) PruneRevocationEntries(ctx context.Context, issuerID string, serials []string, audit *domain.AuditEvent) error {
	if len(serials) == 0 || len(serials) > 98 {
		return fmt.Errorf("store: prune: %d entries (1 to 98 per transaction)", len(serials))
	}
	var t txn
	for _, serial := range serials {
		t.add(st.txDelete(revocationEntryKey(issuerID, serial), exists()))
	}
	t.add(st.txUpdate(crlKey(issuerID), expression.Add(nameOf(attrEntryCount), valueOf(n(-int64(len(serials))))), exists()))
	return st.commitTxn(ctx, &t, audit)
}

// PublishCRL stores a new CRL for its issuer only if the stored number is
// still the one it follows (none yet for the first): CRL numbers only grow,
// and of two concurrent refreshes one publishes and the other re-reads.
func (st *Store) PublishCRL(ctx context.Context, p workflow.CRLPublication) error {
	follows := equals(attrNumber, n(p.PrevNumber))
	if p.PrevNumber == 0 {
		follows = nameOf(attrNumber).AttributeNotExists()
	}
	upd := expression.Set(nameOf(attrNumber), valueOf(n(p.Number))).
		Set(nameOf(attrDER), valueOf(&types.AttributeValueMemberB{Value: p.DER})).
		Set(nameOf(attrThisUpdate), valueOf(s(stamp(p.ThisUpdate)))).
		Set(nameOf(attrNextUpdate), valueOf(s(stamp(p.NextUpdate)))).
		Set(nameOf(attrEntries), valueOf(n(int64(p.Entries)))).
		Set(nameOf(attrBuiltRevision), valueOf(n(p.BuiltRevision))).
		Set(nameOf(attrIssuerID), valueOf(s(p.IssuerID))).
		Set(nameOf(attrUpdatedAt), valueOf(s(stamp(p.ThisUpdate))))
	var t txn
	t.add(st.txUpdate(crlKey(p.IssuerID), upd, follows))
	return st.commitTxn(ctx, &t, p.Audit)
}
