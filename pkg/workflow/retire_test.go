package workflow_test

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Archiving retires a certificate: Archived, out of the due index, never
// renewed; refused while a job is in flight or when already archived.
func TestArchive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.prod.example.com")
	s := e.newCert(alice, "web", "prod", "web.prod.example.com")
	_, err := e.svc.ArchiveCertificate(t.Context(), olivia, "web")
	wantKind(t, "archive with its first issuance waiting", err, domain.ErrConflict)
	e.approve(bob, s.ApprovalID)
	e.issued("web", s.JobID)
	renewal, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.ArchiveCertificate(t.Context(), olivia, "web")
	wantKind(t, "archive with a renewal waiting", err, domain.ErrConflict)
	if _, err := e.svc.Reject(t.Context(), bob, renewal.ApprovalID, "archive it instead"); err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.ArchiveCertificate(t.Context(), olivia, "web")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != domain.CertArchived || c.ArchivedAt == nil {
		t.Fatalf("archived: %+v", c)
	}
	if due, _, _ := e.st.DueBefore(t.Context(), e.clock.Now().Add(365*24*time.Hour), domain.PageRequest{Limit: 10}); len(due) != 0 {
		t.Fatalf("an archived certificate is still due: %+v", due[0])
	}
	_, err = e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	wantKind(t, "renew an archived certificate", err, domain.ErrConflict)
	_, err = e.svc.ArchiveCertificate(t.Context(), olivia, "web")
	wantKind(t, "archive twice", err, domain.ErrConflict)
	if rows := e.rowsBy("web", domain.AuditCertificateArchived); len(rows) != 1 || rows[0].Actor != "olivia" {
		t.Fatalf("audit: %+v", rows)
	}
	// An archived certificate's versions can still be revoked; it stays Archived.
	res, err := e.revoke("web", domain.RevokeInput{Reason: "cessationOfOperation"})
	if err != nil || res.Certificate.Status != domain.CertArchived || res.Certificate.RevokedAt == nil {
		t.Fatalf("revoke an archived certificate: %+v %v", res, err)
	}
}

// Deleting removes an archived certificate's records in bounded batches
// (versions, jobs, their requests), then the certificate and its count on
// its profile; the audit trail and the CRL keep what they hold.
func TestDeleteArchivedCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.DeleteBatch = 2
	e.gatedProfile("prod", "**.prod.example.com")
	s := e.newCert(alice, "web", "prod", "web.prod.example.com")
	e.approve(bob, s.ApprovalID)
	v := e.issued("web", s.JobID)
	for range 2 {
		r, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
		if err != nil {
			t.Fatal(err)
		}
		e.approve(bob, r.ApprovalID)
		e.issued("web", r.JobID)
	}
	if _, err := e.revoke("web", domain.RevokeInput{Reason: "keyCompromise", Serial: v.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	err := deleteAll(e, "web")
	wantKind(t, "delete an active certificate", err, domain.ErrConflict)
	if e.profile("prod").CertificateCount != 1 {
		t.Fatal("count")
	}
	if _, err := e.svc.ArchiveCertificate(t.Context(), olivia, "web"); err != nil {
		t.Fatal(err)
	}
	// Two versions are still valid and unrevoked: deleting them would
	// leave no way to revoke them.
	_, err = e.svc.DeleteCertificate(t.Context(), olivia, "web")
	wantKind(t, "delete with versions still valid", err, domain.ErrConflict)
	if _, err := e.revoke("web", domain.RevokeInput{Reason: "cessationOfOperation"}); err != nil {
		t.Fatal(err)
	}
	// 3 versions, 3 jobs, 3 requests: 9 records, 2 per transaction, 10
	// transactions per call at most: one call deletes them all.
	d, err := e.svc.DeleteCertificate(t.Context(), olivia, "web")
	if err != nil || d != nil {
		t.Fatalf("delete: %+v %v", d, err)
	}
	if _, err := e.st.Store.GetCertificate(t.Context(), "web"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the certificate survived: %v", err)
	}
	if vs := e.versions("web"); len(vs) != 0 {
		t.Fatalf("%d versions survived", len(vs))
	}
	if _, err := e.st.Store.GetJob(t.Context(), s.JobID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a job survived: %v", err)
	}
	if _, err := e.st.Store.GetApproval(t.Context(), s.ApprovalID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a request survived: %v", err)
	}
	if p := e.profile("prod"); p.CertificateCount != 0 {
		t.Fatalf("profile count %d after the delete", p.CertificateCount)
	}
	if rows := e.rowsBy("web", domain.AuditCertificatePurged); len(rows) != 5 {
		t.Fatalf("%d records_deleted rows, want 5 (9 records, 2 at a time)", len(rows))
	}
	if rows := e.rowsBy("web", domain.AuditCertificateDeleted); len(rows) != 1 {
		t.Fatalf("%d certificate.deleted rows", len(rows))
	}
	if rows := e.rowsBy("web", domain.AuditCertificateCreated); len(rows) != 1 {
		t.Fatal("the audit trail lost the certificate's history")
	}
	if entries, _, _ := e.st.ListRevocationEntries(t.Context(), "default", domain.PageRequest{Limit: 10}); len(entries) != 3 {
		t.Fatalf("the CRL lost revoked versions: %d entries, want 3", len(entries))
	}
	// The profile in use no more can go.
	if _, err := e.svc.DeleteProfile(t.Context(), alice, "prod"); err != nil {
		t.Fatalf("delete the now unused profile: %v", err)
	}
	_, err = e.svc.DeleteCertificate(t.Context(), olivia, "web")
	wantKind(t, "delete twice", err, domain.ErrNotFound)
}

// A certificate with more records than one call deletes answers what is
// left; the next call goes on.
func TestDeleteGoesOnOverCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.DeleteBatch = 1
	e.ungatedProfile("dev", "**.dev.example.com")
	s := e.newCert(alice, "web", "dev", "web.dev.example.com")
	e.issued("web", s.JobID)
	for range 5 {
		r, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
		if err != nil {
			t.Fatal(err)
		}
		e.issued("web", r.JobID)
	}
	if _, err := e.svc.ArchiveCertificate(t.Context(), olivia, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.revoke("web", domain.RevokeInput{Reason: "cessationOfOperation"}); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.DeleteCertificate(t.Context(), olivia, "web") // 12 records, 10 per call
	if err != nil || d == nil || !d.Remaining || d.Deleted != 10 {
		t.Fatalf("first call: %+v %v", d, err)
	}
	if _, err := e.st.Store.GetCertificate(t.Context(), "web"); err != nil {
		t.Fatalf("the certificate went before its records: %v", err)
	}
	if err := deleteAll(e, "web"); err != nil {
		t.Fatal(err)
	}
	if p := e.profile("dev"); p.CertificateCount != 0 {
		t.Fatalf("profile count %d", p.CertificateCount)
	}
}

// deleteAll calls DELETE until the certificate is gone.
func deleteAll(e *env, id string) error {
	for range 10 {
		d, err := e.svc.DeleteCertificate(e.t.Context(), olivia, id)
		if err != nil || d == nil {
			return err
		}
	}
	return errors.New("still deleting after 10 calls")
}

// archivedAfterARejectedMove issues certificate id (x.app.example.com)
// under an ungated profile, has a move of it into a gated one rejected,
// then revokes and archives it: ready to delete, with one decided move
// request. It returns the request.
func (e *env) archivedAfterARejectedMove(id string) *domain.PendingEdit {
	t := e.t
	t.Helper()
	e.ungatedProfile("open", "**.app.example.com")
	e.issuedVersion(id, "open", "x.app.example.com")
	e.gatedProfile("gated", "**.app.example.com")
	_, pending, err := e.move(olivia, id, "gated")
	if err != nil || pending == nil {
		t.Fatalf("move: %+v %v", pending, err)
	}
	if _, err := e.svc.Reject(t.Context(), bob, pending.ApprovalID, "stay"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.revoke(id, domain.RevokeInput{Reason: "cessationOfOperation"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ArchiveCertificate(t.Context(), olivia, id); err != nil {
		t.Fatal(err)
	}
	return pending
}

// A move request is found through an index that may lag behind its
// decision: a deletion that does not see it yet must not delete the
// certificate and leave the request behind. It answers a conflict; once
// the request is listed, the deletion removes both.
func TestDeleteWaitsForMoveRequestsTheIndexMisses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pending := e.archivedAfterARejectedMove("app")
	// The index does not list the decided request yet.
	e.st.certRecords = func(ctx context.Context, certID string, max int) ([]workflow.RecordKey, error) {
		keys, err := e.st.Store.CertificateRecords(ctx, certID, max)
		out := keys[:0]
		for _, k := range keys {
			if k.ID != pending.ApprovalID {
				out = append(out, k)
			}
		}
		return out, err
	}
	for range 3 {
		if d, err := e.svc.DeleteCertificate(t.Context(), admin, "app"); err == nil && d == nil {
			t.Fatal("the certificate was deleted while its move request was not found")
		} else if err != nil {
			wantKind(t, "delete with a move request unlisted", err, domain.ErrConflict)
		}
	}
	if _, err := e.st.Store.GetApproval(t.Context(), pending.ApprovalID); err != nil {
		t.Fatalf("the move request: %v", err)
	}
	e.st.certRecords = nil
	for range 3 {
		d, err := e.svc.DeleteCertificate(t.Context(), admin, "app")
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			break
		}
	}
	if _, err := e.st.Store.GetCertificate(t.Context(), "app"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("certificate after deletion: %v", err)
	}
	if _, err := e.st.Store.GetApproval(t.Context(), pending.ApprovalID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("move request after deletion: %v", err)
	}
}

// staleMovesDB answers by_parent queries as an index that lags would:
// it still lists item (a move request deleted a moment ago).
type staleMovesDB struct {
	*dynamodb.Client
	partition string
	item      map[string]types.AttributeValue
}

func (d *staleMovesDB) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := d.Client.Query(ctx, in, optFns...)
	if err != nil || aws.ToString(in.IndexName) != store.IndexParent || d.item == nil {
		return out, err
	}
	ours := false
	for _, v := range in.ExpressionAttributeValues {
		if sv, ok := v.(*types.AttributeValueMemberS); ok && sv.Value == d.partition {
			ours = true
		}
	}
	if !ours {
		return out, err
	}
	for _, it := range out.Items {
		if it["pk"].(*types.AttributeValueMemberS).Value == d.item["pk"].(*types.AttributeValueMemberS).Value {
			return out, err
		}
	}
	out.Items = append(out.Items, d.item)
	out.Count++
	return out, err
}

// The index may still list a move request a previous call deleted: the
// next call skips it (a consistent read says it is gone) instead of
// failing its whole batch.
func TestDeleteSkipsAMoveRequestTheIndexStillLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pending := e.archivedAfterARejectedMove("app")
	got, err := e.db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(e.state), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "APPROVAL#" + pending.ApprovalID}, "sk": &types.AttributeValueMemberS{Value: "APPROVAL"}}})
	if err != nil || got.Item == nil {
		t.Fatalf("the move request's item: %v", err)
	}
	// Delete the request's records first (as an earlier call would), then
	// let the index keep listing it.
	keys, err := e.st.Store.CertificateRecords(t.Context(), "app", 100)
	if err != nil {
		t.Fatal(err)
	}
	var move []workflow.RecordKey
	for _, k := range keys {
		if k.ID == pending.ApprovalID {
			move = append(move, k)
		}
	}
	if len(move) != 1 {
		t.Fatalf("records %+v: the move request is not among them", keys)
	}
	audit := &domain.AuditEvent{Actor: "root-admin", ActorType: domain.ActorUser, Action: domain.AuditCertificatePurged,
		ResourceType: "certificate", ResourceID: "app", Timestamp: e.clock.Now(), Details: map[string]any{}}
	if err := e.st.Store.DeleteCertificateRecords(t.Context(), "app", move, audit); err != nil {
		t.Fatal(err)
	}
	e.st.Store = store.New(&staleMovesDB{Client: e.db, partition: "CERT#app#MOVE", item: got.Item}, e.state, e.trail)
	for range 5 {
		d, err := e.svc.DeleteCertificate(t.Context(), admin, "app")
		if err != nil {
			t.Fatalf("delete with a stale index entry: %v", err)
		}
		if d == nil {
			break
		}
	}
	if _, err := e.st.Store.GetCertificate(t.Context(), "app"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("certificate after deletion: %v", err)
	}
}
