package store_test

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/kumocompat"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// TestTableLayoutGolden runs every kind of write the store makes (puts,
// conditional updates that SET, REMOVE and ADD, deletes) through a fixed
// history and compares both tables' items afterwards with
// testdata/tables.golden.json. It pins what the update expressions write,
// as TestStoredItemsGolden pins what the puts write. It always runs on the
// embedded emulator: it checks names and values, not AWS's validation
// (the other tests do that on the strict tier), and an emulator's own
// number formatting must not make the golden file tier-dependent.
func TestTableLayoutGolden(t *testing.T) {
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	db := dynamodb.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(srv.URL),
		APIOptions: []func(*middleware.Stack) error{kumocompat.DynamoDB},
	})
	ctx := t.Context()
	state, audit := "layout-state", "layout-audit"
	for name, def := range map[string]devstack.TableDef{state: devstack.StateTable, audit: devstack.AuditTable} {
		if _, err := db.CreateTable(ctx, def.CreateTableInput(name)); err != nil {
			t.Fatal(err)
		}
	}
	st := store.New(&checkedDB{Client: db, t: t, attrs: store.StoredAttrNames(t)}, state, audit)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 500000000, time.UTC)
	tick := 0
	next := func() time.Time { tick++; return t0.Add(time.Duration(tick) * time.Minute) }
	evs := 0
	ev := func(action, resource string) *domain.AuditEvent {
		evs++
		return &domain.AuditEvent{
			ID: fmt.Sprintf("AUD%04d", evs), Actor: "alice", ActorType: domain.ActorUser, Action: action,
			ResourceType: "test", ResourceID: resource, Details: map[string]any{"n": evs}, Timestamp: next(),
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	get := func(id string) *domain.Approval {
		t.Helper()
		a, err := st.GetApproval(ctx, id)
		must("get approval "+id, err)
		return a
	}
	subject := &domain.Subject{CommonName: "a.example.com", DNSNames: []string{"a.example.com"}, IPAddresses: []string{}, KeyAlgorithm: domain.KeyECDSAP256,
		PublicKeySHA256: "ff", ValiditySeconds: 86400, IssuerID: "default", KeyUsage: []string{"digitalSignature"}, ExtKeyUsage: []string{"serverAuth"},
		ProfileID: "pg", ProfileVersion: 1, ProfileName: "Gated"}

	// Profiles: a gated one (governing its names), an ungated one, and one to delete.
	pg := &domain.Profile{ID: "pg", Name: "Gated", RequiresApproval: true, AllowedNames: []domain.NamePattern{"**.example.com"},
		AllowedKeyAlgorithms: []string{domain.KeyECDSAP256}, MaxValiditySeconds: 86400 * 30, RenewBeforeSeconds: 86400, IssuerID: "default",
		Approvers: &domain.ApproverPool{Roles: []domain.Role{domain.RoleApprover}}, Version: 1, CreatedBy: "alice", CreatedAt: next(), UpdatedAt: next()}
	must("create pg", st.CreateProfile(ctx, pg, domain.NewGovernanceChange(0, nil, pg.Governs()), ev(domain.AuditProfileCreated, "pg")))
	pu := &domain.Profile{ID: "pu", Name: "Ungated", AllowedNames: []domain.NamePattern{"*.example.net"}, AllowedKeyAlgorithms: []string{domain.KeyECDSAP256},
		MaxValiditySeconds: 86400 * 30, RenewBeforeSeconds: 86400, IssuerID: "default", Approvers: &domain.ApproverPool{Principals: []string{"bob"}},
		Version: 1, CreatedBy: "alice", CreatedAt: next()}
	must("create pu", st.CreateProfile(ctx, pu, nil, ev(domain.AuditProfileCreated, "pu")))
	pd := &domain.Profile{ID: "pd", Name: "Doomed", AllowedNames: []domain.NamePattern{"d.example.org"}, Version: 1, CreatedAt: next()}
	must("create pd", st.CreateProfile(ctx, pd, nil, ev(domain.AuditProfileCreated, "pd")))

	// A gated certificate: token, approval (queued for hand-off), start
	// queue cleared, issuance, a status change.
	created := next()
	c1 := &domain.Certificate{ID: "c1", CommonName: "a.example.com", SANs: []string{"a.example.com"}, ProfileID: "pg", IssuerID: "default",
		Status: domain.CertPending, CSR: "csr1", CreatedBy: "alice", CreatedAt: created, UpdatedAt: created, CurrentJobID: "j1"}
	j1 := &domain.Job{ID: "j1", CertificateID: "c1", ProfileID: "pg", Type: domain.JobIssuance, Status: domain.JobAwaitingApproval, RequiresApproval: true,
		ApprovalID: "a1", RequestedBy: "alice", Subject: subject, CSR: "csr1", PrevCertStatus: domain.CertPending, CreatedAt: created, UpdatedAt: created}
	a1 := &domain.Approval{ID: "a1", Kind: domain.KindCertIssuance, State: domain.ApprovalPending, JobID: "j1", CertificateID: "c1", ProfileID: "pg",
		RequestedBy: "alice", RequestedType: domain.ActorUser, Subject: subject, ApproverPool: pg.Approvers, CreatedAt: created, ExpiresAt: created.Add(time.Hour),
		PrevCertStatus: domain.CertPending}
	must("create c1", st.CreateCertificate(ctx, workflow.NewJob{Cert: c1, Job: j1, Approval: a1, ProfileVersion: 1, StartInput: `{"job_id":"j1"}`,
		Audits: []*domain.AuditEvent{ev(domain.AuditCertificateCreated, "c1"), ev(domain.AuditApprovalRequested, "a1")}}))
	_, _, err := st.StoreTaskToken(ctx, "a1", "tok1")
	must("token a1", err)
	must("approve a1", st.Decide(ctx, workflow.Decision{Approval: get("a1"), State: domain.ApprovalApproved, DecidedBy: "bob", ActorType: domain.ActorUser,
		Note: "ok", At: next(), JobStatus: domain.JobPending, Audit: ev(domain.AuditApprovalApproved, "a1")}))
	must("clear hand-off a1", st.ClearHandoff(ctx, "a1"))
	must("clear start j1", st.ClearStart(ctx, "j1"))
	must("run j1", st.MarkJobRunning(ctx, "j1", next()))
	issued := next()
	gov := int64(1)
	must("complete j1", st.CompleteIssuance(ctx, workflow.Completion{Job: j1, Approval: "a1", ProfileVersion: 1, RenewAt: issued.Add(12 * time.Hour),
		CSR: "csr1", KeyAlg: domain.KeyECDSAP256, Audit: ev(domain.AuditRenewalJobCompleted, "j1"),
		Version: &domain.CertificateVersion{CertificateID: "c1", JobID: "j1", SerialNumber: "01", NotBefore: issued, NotAfter: issued.Add(24 * time.Hour),
			FingerprintSHA256: "aa", PEMChain: "pem", IssuedAt: issued},
		Delivery: &workflow.Delivery{JobID: "j1", CertificateID: "c1", SerialNumber: "01", CreatedAt: issued,
			Targets: domain.DeliveryTargets{SSMParameter: "/certctl/test/c1", Secret: "certctl/test/c1"}}}))
	// Its delivery fails twice (the queue item keeps the attempts and the
	// last error; the job shows them) and stays queued.
	d1, err := st.GetDelivery(ctx, "c1", "j1")
	must("delivery j1", err)
	must("delivery j1 failed", st.DeliveryFailed(ctx, d1, "put parameter: AccessDenied", next(), ev(domain.AuditDeliveryFailed, "c1")))
	if err := st.DeliveryFailed(ctx, d1, "raced", next(), nil); !workflow.IsChanged(err) {
		t.Errorf("a second attempt recording over the same attempts: %v, want a failed condition", err)
	}
	d1, err = st.GetDelivery(ctx, "c1", "j1")
	must("delivery j1", err)
	must("delivery j1 failed again", st.DeliveryFailed(ctx, d1, "put secret: AccessDenied", next(), nil))
	if q, _, err := st.PendingDeliveries(ctx, next(), domain.PageRequest{Limit: 10}); err != nil || len(q) != 1 || q[0].Attempts != 2 || q[0].LastError != "put secret: AccessDenied" {
		t.Errorf("delivery queue: %+v %v", q, err)
	}
	must("c1 expiring", st.SetCertStatus(ctx, "c1", domain.CertActive, domain.CertExpiring, next(), ev(domain.AuditCertificateStatus, "c1")))

	// A renewal rejected (its hand-off stays queued), a deferral, and a
	// renewal whose job fails and expires its request.
	renew := func(jobID, approvalID string) {
		t.Helper()
		c, err := st.GetCertificate(ctx, "c1")
		must("get c1", err)
		at := next()
		j := &domain.Job{ID: jobID, CertificateID: "c1", ProfileID: "pg", Type: domain.JobRenewal, Status: domain.JobAwaitingApproval, RequiresApproval: true,
			ApprovalID: approvalID, RequestedBy: domain.SystemScheduler, Subject: subject, CSR: "csr1", PrevCertStatus: c.Status, CreatedAt: at, UpdatedAt: at}
		a := &domain.Approval{ID: approvalID, Kind: domain.KindCertIssuance, State: domain.ApprovalPending, JobID: jobID, CertificateID: "c1", ProfileID: "pg",
			RequestedBy: domain.SystemScheduler, RequestedType: domain.ActorSystem, Subject: subject, CreatedAt: at, ExpiresAt: at.Add(time.Hour), PrevCertStatus: c.Status}
		must("renew "+jobID, st.StartRenewal(ctx, workflow.NewJob{Cert: c, Job: j, Approval: a, ProfileVersion: 1, StartInput: `{"job_id":"` + jobID + `"}`,
			ExpectRenewAt: c.RenewAt, Audits: []*domain.AuditEvent{ev(domain.AuditRenewalTriggered, "c1")}}))
	}
	renew("j2", "a2")
	_, _, err = st.StoreTaskToken(ctx, "a2", "tok2")
	must("token a2", err)
	at := next()
	must("reject a2", st.Decide(ctx, workflow.Decision{Approval: get("a2"), State: domain.ApprovalRejected, DecidedBy: "carol", ActorType: domain.ActorUser,
		Reason: "no", At: at, JobStatus: domain.JobCancelled, JobError: "approval rejected: no", RestoreCert: true, CertSeen: domain.CertRenewalInProgress, RetryAt: at.Add(time.Hour),
		Audit: ev(domain.AuditApprovalRejected, "a2")}))
	must("defer c1", st.DeferRenewal(ctx, "c1", next(), ev(domain.AuditRenewalRefused, "c1")))
	renew("j3", "a3")
	j3, err := st.GetJob(ctx, "j3")
	must("get j3", err)
	at = next()
	must("fail j3", st.FailJob(ctx, workflow.Failure{Job: j3, Status: domain.JobFailed, Error: "boom", CertStatus: domain.CertExpiring, CertSeen: domain.CertRenewalInProgress,
		ExpireApproval: get("a3"), At: at, RetryAt: at.Add(time.Hour),
		Audits: []*domain.AuditEvent{ev(domain.AuditRenewalJobFailed, "j3"), ev(domain.AuditApprovalExpired, "a3")}}))

	// An ungated certificate whose request was bypassed, under governance.
	created = next()
	must("create c2", st.CreateCertificate(ctx, workflow.NewJob{
		Cert: &domain.Certificate{ID: "c2", CommonName: "b.example.net", SANs: []string{}, ProfileID: "pu", IssuerID: "default", Status: domain.CertPending,
			CSR: "csr2", CreatedBy: "alice", CreatedAt: created, UpdatedAt: created, CurrentJobID: "j4"},
		Job: &domain.Job{ID: "j4", CertificateID: "c2", ProfileID: "pu", Type: domain.JobIssuance, Status: domain.JobPending, ApprovalID: "a4",
			RequestedBy: "alice", CSR: "csr2", PrevCertStatus: domain.CertPending, CreatedAt: created, UpdatedAt: created},
		Approval: &domain.Approval{ID: "a4", Kind: domain.KindCertIssuance, State: domain.ApprovalBypassed, JobID: "j4", CertificateID: "c2", ProfileID: "pu",
			RequestedBy: "alice", RequestedType: domain.ActorUser, DecidedBy: domain.SystemBypass, DecidedType: domain.ActorSystem, DecidedAt: &created,
			CreatedAt: created, ExpiresAt: created.Add(time.Hour), PrevCertStatus: domain.CertPending},
		ProfileVersion: 1, Bypassed: true, Governance: &gov, StartInput: `{"job_id":"j4"}`,
		Audits: []*domain.AuditEvent{ev(domain.AuditCertificateCreated, "c2"), ev(domain.AuditApprovalBypassed, "a4")},
	}))

	// c1 revoked whole (status, out of the due index, a CRL entry, the CRL
	// state's revision and count), its CRL published twice, the entry
	// pruned once the certificate expired.
	c1now, err := st.GetCertificate(ctx, "c1")
	must("get c1", err)
	revokedAt := next()
	must("revoke c1", st.Revoke(ctx, workflow.Revocation{Cert: c1now, Status: domain.CertRevoked, SetCert: true, MaxEntries: 10, At: revokedAt,
		Entries: []domain.RevocationEntry{{IssuerID: "default", SerialNumber: "01", CertificateID: "c1", JobID: "j1", Reason: "keyCompromise",
			RevokedAt: revokedAt, RevokedBy: "bob", NotAfter: issued.Add(24 * time.Hour)}},
		Audit: ev(domain.AuditCertificateRevoked, "c1")}))
	published := next()
	must("publish CRL 1", st.PublishCRL(ctx, workflow.CRLPublication{IssuerID: "default", PrevNumber: 0, Number: 1, DER: []byte{0x30, 0x01},
		ThisUpdate: published, NextUpdate: published.Add(7 * 24 * time.Hour), Entries: 1, BuiltRevision: 1, Audit: ev(domain.AuditCRLPublished, "default")}))
	must("prune", st.PruneRevocationEntries(ctx, "default", []string{"01"}, ev(domain.AuditCRLPruned, "default")))
	published = next()
	must("publish CRL 2", st.PublishCRL(ctx, workflow.CRLPublication{IssuerID: "default", PrevNumber: 1, Number: 2, DER: []byte{0x30, 0x00},
		ThisUpdate: published, NextUpdate: published.Add(7 * 24 * time.Hour), Entries: 0, BuiltRevision: 1, Audit: ev(domain.AuditCRLPublished, "default")}))
	if err := st.PublishCRL(ctx, workflow.CRLPublication{IssuerID: "default", PrevNumber: 1, Number: 2, DER: []byte{0x30, 0x00},
		ThisUpdate: published, NextUpdate: published, Audit: &domain.AuditEvent{ID: "NEVER", Action: domain.AuditCRLPublished, ResourceID: "default", Timestamp: published}}); !workflow.IsChanged(err) {
		t.Errorf("a CRL following number 1 again: %v, want a failed condition", err)
	}
	if crl, err := st.GetCRL(ctx, "default"); err != nil || crl.Number != 2 || crl.Stale() || crl.EntryCount != 0 || crl.Revision != 1 {
		t.Errorf("CRL state: %+v %v", crl, err)
	}

	// c3: created, its job failed, archived, its records and itself deleted.
	created = next()
	must("create c3", st.CreateCertificate(ctx, workflow.NewJob{
		Cert: &domain.Certificate{ID: "c3", CommonName: "c.example.net", SANs: []string{}, ProfileID: "pu", IssuerID: "default", Status: domain.CertPending,
			CSR: "csr3", CreatedBy: "alice", CreatedAt: created, UpdatedAt: created, CurrentJobID: "j5"},
		Job: &domain.Job{ID: "j5", CertificateID: "c3", ProfileID: "pu", Type: domain.JobIssuance, Status: domain.JobPending,
			RequestedBy: "alice", CSR: "csr3", PrevCertStatus: domain.CertPending, CreatedAt: created, UpdatedAt: created},
		ProfileVersion: 1, Governance: &gov, StartInput: `{"job_id":"j5"}`,
		Audits: []*domain.AuditEvent{ev(domain.AuditCertificateCreated, "c3")},
	}))
	j5, err := st.GetJob(ctx, "j5")
	must("get j5", err)
	at = next()
	must("fail j5", st.FailJob(ctx, workflow.Failure{Job: j5, Status: domain.JobFailed, Error: "boom", CertStatus: domain.CertFailed,
		CertSeen: domain.CertPending, At: at, RetryAt: at.Add(time.Hour), Audits: []*domain.AuditEvent{ev(domain.AuditRenewalJobFailed, "j5")}}))
	c3, err := st.GetCertificate(ctx, "c3")
	must("get c3", err)
	must("archive c3", st.ArchiveCertificate(ctx, c3, next(), ev(domain.AuditCertificateArchived, "c3")))
	keys, err := st.CertificateRecords(ctx, "c3", 10)
	must("records of c3", err)
	if len(keys) != 1 || keys[0] != (workflow.RecordKey{Kind: "job", ID: "j5"}) {
		t.Errorf("records of c3: %+v", keys)
	}
	must("delete records of c3", st.DeleteCertificateRecords(ctx, "c3", keys, ev(domain.AuditCertificatePurged, "c3")))
	c3, err = st.GetCertificate(ctx, "c3")
	must("get c3", err)
	must("delete c3", st.DeleteCertificate(ctx, c3, ev(domain.AuditCertificateDeleted, "c3")))

	// c4 under pu moves to pd2 at once, then asks to move into pg (a
	// request) twice: one rejected (released), one approved (applied).
	created = next()
	must("create c4", st.CreateCertificate(ctx, workflow.NewJob{
		Cert: &domain.Certificate{ID: "c4", CommonName: "d.example.net", SANs: []string{}, ProfileID: "pu", IssuerID: "default", Status: domain.CertPending,
			CSR: "csr4", CreatedBy: "alice", CreatedAt: created, UpdatedAt: created, CurrentJobID: "j6"},
		Job: &domain.Job{ID: "j6", CertificateID: "c4", ProfileID: "pu", Type: domain.JobIssuance, Status: domain.JobRunning,
			RequestedBy: "alice", RequestReason: "first issuance", CSR: "csr4", PrevCertStatus: domain.CertPending, CreatedAt: created, UpdatedAt: created},
		ProfileVersion: 1, Governance: &gov, Audits: []*domain.AuditEvent{ev(domain.AuditCertificateCreated, "c4")},
	}))
	issued = next()
	must("complete j6", st.CompleteIssuance(ctx, workflow.Completion{Job: &domain.Job{ID: "j6", ProfileID: "pu"}, ProfileVersion: 1, Governance: &gov,
		RenewAt: issued.Add(12 * time.Hour), CSR: "csr4", KeyAlg: domain.KeyECDSAP256, Audit: ev(domain.AuditRenewalJobCompleted, "j6"),
		Version: &domain.CertificateVersion{CertificateID: "c4", JobID: "j6", SerialNumber: "04", NotBefore: issued, NotAfter: issued.Add(24 * time.Hour),
			FingerprintSHA256: "dd", PEMChain: "pem", IssuedAt: issued},
		Delivery: &workflow.Delivery{JobID: "j6", CertificateID: "c4", SerialNumber: "04", CreatedAt: issued,
			Targets: domain.DeliveryTargets{SSMParameter: "/certctl/test/c4"}}}))
	// Its delivery succeeds: out of the queue, delivered on the job.
	d6, err := st.GetDelivery(ctx, "c4", "j6")
	must("delivery j6", err)
	must("delivered j6", st.EndDelivery(ctx, d6, domain.DeliveryDelivered, next(), ev(domain.AuditDelivered, "c4")))
	if err := st.EndDelivery(ctx, d6, domain.DeliveryDelivered, next(),
		&domain.AuditEvent{ID: "NEVER2", Action: domain.AuditDelivered, ResourceID: "c4", Timestamp: next()}); !workflow.IsChanged(err) {
		t.Errorf("ending a delivery twice: %v, want a failed condition", err)
	}
	pd2 := &domain.Profile{ID: "pd2", Name: "Second", AllowedNames: []domain.NamePattern{"*.example.net"}, Version: 1, CreatedAt: next()}
	must("create pd2", st.CreateProfile(ctx, pd2, nil, ev(domain.AuditProfileCreated, "pd2")))
	puNow, err := st.GetProfile(ctx, "pu")
	must("get pu", err)
	c4, err := st.GetCertificate(ctx, "c4")
	must("get c4", err)
	renewAt := issued.Add(20 * time.Hour)
	at = next()
	must("move c4", st.MoveCertificate(ctx, workflow.Move{Cert: c4, From: puNow, To: pd2, Governance: &gov, RenewAt: &renewAt, At: at},
		ev(domain.AuditCertificateMoved, "c4")))
	moveReq := func(id string) *domain.Approval {
		t.Helper()
		c, err := st.GetCertificate(ctx, "c4")
		must("get c4", err)
		at := next()
		a := &domain.Approval{ID: id, Kind: domain.KindCertificateMove, State: domain.ApprovalPending, CertificateID: "c4", ProfileID: "pg",
			RequestedBy: "alice", RequestedType: domain.ActorUser, RequestReason: "CHG-9", ApproverPool: pg.Approvers, ApprovalPolicy: pg.Policy(),
			Move:      &domain.CertificateMove{From: domain.RefOf(pd2), To: domain.RefOf(pg), CommonName: "d.example.net", DNSNames: []string{"d.example.net"}, IPAddresses: []string{}},
			CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		must("request move "+id, st.RequestMove(ctx, c, a, ev(domain.AuditMoveRequested, id)))
		return get(id)
	}
	a8 := moveReq("a8")
	must("reject move", st.Decide(ctx, workflow.Decision{Approval: a8, State: domain.ApprovalRejected, DecidedBy: "bob", ActorType: domain.ActorUser, At: next(),
		Move: &workflow.MoveChange{CertID: "c4", ApprovalID: "a8"}, Audit: ev(domain.AuditApprovalRejected, "a8")}))
	a9 := moveReq("a9")
	c4, err = st.GetCertificate(ctx, "c4")
	must("get c4", err)
	pgNow, err := st.GetProfile(ctx, "pg")
	must("get pg", err)
	at = next()
	must("approve move", st.Decide(ctx, workflow.Decision{Approval: a9, State: domain.ApprovalApproved, DecidedBy: "bob", ActorType: domain.ActorUser, At: at,
		Move:  &workflow.MoveChange{CertID: "c4", ApprovalID: "a9", Apply: &workflow.Move{Cert: c4, From: pd2, To: pgNow, ApprovalID: "a9", RenewAt: &renewAt, At: at}},
		Audit: ev(domain.AuditApprovalApproved, "a9"), MoreAudits: []*domain.AuditEvent{ev(domain.AuditCertificateMoved, "c4")}}))

	// c5: a request that needs two votes, one from each factor: a vote, then
	// the vote that completes the policy and approves.
	created = next()
	policy := domain.ApprovalPolicy{{Name: "security", Approvers: &domain.ApproverPool{Principals: []string{"bob"}}, Count: 1}, {Name: "owners", Count: 1}}
	must("create c5", st.CreateCertificate(ctx, workflow.NewJob{
		Cert: &domain.Certificate{ID: "c5", CommonName: "e.example.com", SANs: []string{}, ProfileID: "pg", IssuerID: "default", Status: domain.CertPending,
			CSR: "csr5", CreatedBy: "alice", CreatedAt: created, UpdatedAt: created, CurrentJobID: "j7"},
		Job: &domain.Job{ID: "j7", CertificateID: "c5", ProfileID: "pg", Type: domain.JobIssuance, Status: domain.JobAwaitingApproval, RequiresApproval: true,
			ApprovalID: "a10", RequestedBy: "alice", Subject: subject, CSR: "csr5", PrevCertStatus: domain.CertPending, CreatedAt: created, UpdatedAt: created},
		Approval: &domain.Approval{ID: "a10", Kind: domain.KindCertIssuance, State: domain.ApprovalPending, JobID: "j7", CertificateID: "c5", ProfileID: "pg",
			RequestedBy: "alice", RequestedType: domain.ActorUser, Subject: subject, ApprovalPolicy: policy, CreatedAt: created,
			ExpiresAt: created.Add(time.Hour), PrevCertStatus: domain.CertPending},
		ProfileVersion: 1, StartInput: `{"job_id":"j7"}`,
		Audits: []*domain.AuditEvent{ev(domain.AuditCertificateCreated, "c5"), ev(domain.AuditApprovalRequested, "a10")},
	}))
	must("vote a10", st.Vote(ctx, workflow.Ballot{Approval: get("a10"), Audit: ev(domain.AuditApprovalVote, "a10"),
		Vote: domain.Vote{Actor: "carol", ActorType: domain.ActorUser, At: next(), Note: "owner", Eligible: []string{"owners"}}}))
	a10 := get("a10")
	at = next()
	must("approve a10", st.Decide(ctx, workflow.Decision{Approval: a10, State: domain.ApprovalApproved, DecidedBy: "bob", ActorType: domain.ActorUser,
		Note: "security", At: at, JobStatus: domain.JobPending, PinVotes: true,
		Votes:     append(a10.Votes, domain.Vote{Actor: "bob", ActorType: domain.ActorUser, At: at, Note: "security", Eligible: []string{"security", "owners"}}),
		VoteAudit: ev(domain.AuditApprovalVote, "a10"), Audit: ev(domain.AuditApprovalApproved, "a10")}))

	// A direct profile update that drops the approver pool.
	pu2 := *pu
	pu2.Name, pu2.Approvers, pu2.Version, pu2.UpdatedAt = "Ungated v2", nil, 2, next()
	must("update pu", st.UpdateProfile(ctx, &pu2, 1, ev(domain.AuditProfileUpdated, "pu")))

	// Gated profile edits: one applied (a governance step), a creation
	// rejected, a deletion approved.
	editReq := func(id, profileID string, edit *domain.ProfileEdit) *domain.Approval {
		t.Helper()
		at := next()
		a := &domain.Approval{ID: id, Kind: domain.KindProfileEdit, State: domain.ApprovalPending, ProfileID: profileID, RequestedBy: "alice",
			RequestedType: domain.ActorUser, ProfileEdit: edit, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		must("request "+id, st.RequestProfileEdit(ctx, a, ev(domain.AuditProfileEditRequested, id)))
		return get(id)
	}
	decide := func(a *domain.Approval, state domain.ApprovalState, change *workflow.ProfileChange) {
		t.Helper()
		must("decide "+a.ID, st.Decide(ctx, workflow.Decision{Approval: a, State: state, DecidedBy: "bob", ActorType: domain.ActorUser, At: next(),
			Profile: change, Audit: ev("approval_"+string(state), a.ID), MoreAudits: []*domain.AuditEvent{ev(domain.AuditProfileEditApplied, a.ProfileID)}}))
	}
	pg2 := *pg
	pg2.AllowedNames, pg2.Version, pg2.UpdatedAt = []domain.NamePattern{"**.example.com", "x.example.org"}, 2, next()
	a5 := editReq("a5", "pg", &domain.ProfileEdit{BaseVersion: 1, Base: pg, Proposed: &pg2, Diff: domain.ProfileDiff(pg, &pg2)})
	decide(a5, domain.ApprovalApproved, &workflow.ProfileChange{ID: "pg", ApprovalID: "a5", BaseVersion: 1, Base: pg, Apply: &pg2,
		Governance: domain.NewGovernanceChange(1, pg.Governs(), pg2.Governs())})
	pn := &domain.Profile{ID: "pn", Name: "New", AllowedNames: []domain.NamePattern{"n.example.org"}}
	a6 := editReq("a6", "pn", &domain.ProfileEdit{Create: true, Proposed: pn, Diff: domain.ProfileDiff(nil, pn)})
	decide(a6, domain.ApprovalRejected, &workflow.ProfileChange{ID: "pn", ApprovalID: "a6", Create: true})
	a7 := editReq("a7", "pd", &domain.ProfileEdit{BaseVersion: 1, Delete: true, Base: pd, Diff: domain.ProfileDiff(pd, nil)})
	decide(a7, domain.ApprovalApproved, &workflow.ProfileChange{ID: "pd", ApprovalID: "a7", BaseVersion: 1, Base: pd, Delete: true})

	// The CA certificate, API keys and principals, the admin count.
	_, _, err = st.PutIssuerIfAbsent(ctx, &domain.Issuer{ID: "default", CAPEM: "ca", KeyID: "key", CreatedAt: next()}, ev(domain.AuditIssuerInitialized, "default"))
	must("issuer", err)
	ops := &domain.Principal{ID: "apikey:ops", Roles: []domain.Role{domain.RoleAdmin}, UpdatedAt: next()}
	key := &apikey.Key{ID: "k1", Hash: "h1", Prefix: "cck_abc", Principal: ops.ID, CreatedBy: domain.BootstrapActor, CreatedAt: next(), ExpiresAt: &t0}
	must("key", st.PutAPIKey(ctx, key, &apikey.PrincipalChange{Next: ops}, ev(domain.AuditAPIKeyCreated, "k1"), ev(domain.AuditRolesGranted, ops.ID)))
	dev := &domain.Principal{ID: "apikey:dev", Roles: []domain.Role{domain.RoleAdmin, domain.RoleViewer}, Controllers: []string{"apikey:ops"}, UpdatedAt: next()}
	must("grant dev", st.PutPrincipal(ctx, &apikey.PrincipalChange{Next: dev}, ev(domain.AuditRolesGranted, dev.ID)))
	demoted := &domain.Principal{ID: ops.ID, Roles: []domain.Role{domain.RoleViewer}, UpdatedAt: next()}
	must("demote ops", st.PutPrincipal(ctx, &apikey.PrincipalChange{Prev: ops, Next: demoted}, ev(domain.AuditRolesGranted, ops.ID)))
	must("revoke k1", st.RevokeAPIKey(ctx, key, next(), ev(domain.AuditAPIKeyRevoked, "k1")))

	// Every read path, over what was written (reads change nothing).
	page := domain.PageRequest{Limit: 100}
	count := func(what string, want, got int, err error) {
		t.Helper()
		if err != nil || got != want {
			t.Errorf("%s: %d items, %v; want %d", what, got, err, want)
		}
	}
	as, _, err := st.ListApprovals(ctx, domain.ApprovalFilter{Kind: string(domain.KindCertIssuance), ProfileID: "pg", CertificateID: "c1", RequestedBy: domain.SystemScheduler}, page)
	count("approvals by kind, profile, certificate and requester", 2, len(as), err)
	as, _, err = st.ListApprovals(ctx, domain.ApprovalFilter{State: string(domain.ApprovalPending)}, page)
	count("pending approvals", 0, len(as), err)
	as, _, err = st.PendingHandoffs(ctx, next(), page)
	count("hand-offs", 1, len(as), err)
	as, _, err = st.PendingOlderThan(ctx, next(), page)
	count("pending older than", 0, len(as), err)
	js, _, err := st.ListJobs(ctx, domain.JobFilter{CertificateID: "c1", Status: string(domain.JobCancelled)}, page)
	count("jobs of c1, cancelled", 1, len(js), err)
	cs, _, err := st.ListCertificates(ctx, domain.CertificateFilter{Status: string(domain.CertRevoked), ProfileID: "pg"}, page)
	count("certificates by status and profile", 1, len(cs), err)
	vs, _, err := st.ListVersions(ctx, "c1", page)
	count("versions", 1, len(vs), err)
	cs, _, err = st.DueBefore(ctx, next().Add(24*time.Hour), page)
	count("due (c4; c1 was revoked)", 1, len(cs), err)
	es, _, err := st.ListRevocationEntries(ctx, "default", page)
	count("revocation entries (pruned)", 0, len(es), err)
	ss, _, err := st.PendingStarts(ctx, next(), page)
	count("start queue", 2, len(ss), err) // j4 and j7: j1 was cleared, ended jobs leave it
	ks, _, err := st.ListAPIKeys(ctx, ops.ID, page)
	count("keys of ops", 1, len(ks), err)
	ps, _, err := st.ListProfiles(ctx, page)
	count("profiles", 3, len(ps), err)
	rows, _, err := st.ListAudit(ctx, domain.AuditFilter{ResourceID: "c1", Action: domain.AuditRenewalTriggered}, page)
	count("audit of c1, renewals", 2, len(rows), err)
	rows, _, err = st.ListAudit(ctx, domain.AuditFilter{Actor: "alice", Action: domain.AuditApprovalApproved, Until: next()}, page)
	count("audit by actor and action", 5, len(rows), err)
	rows, _, err = st.ListAudit(ctx, domain.AuditFilter{Action: domain.AuditProfileCreated, Until: next()}, page)
	count("audit by action", 4, len(rows), err)
	rows, _, err = st.ListAudit(ctx, domain.AuditFilter{Since: t0, Until: next()}, page)
	count("audit by day", evs, len(rows), err)
	ms, err := st.ListDecisionMetrics(ctx, domain.KindProfileEdit)
	count("profile edit metrics", 3, len(ms), err)
	g, err := st.ReadGovernance(ctx, []domain.NamePattern{"**.example.com", "x.example.org", "other.example.org"}, []string{"example.org", "example.net"})
	if err != nil || g.Version != 2 || len(g.Governed) != 2 || len(g.Children) != 1 || g.Children["example.org"] != "x.example.org" {
		t.Errorf("governance: %+v %v", g, err)
	}
	if k, err := st.GetAPIKeyByID(ctx, "k1"); err != nil || k.RevokedAt == nil {
		t.Errorf("key by id: %+v %v", k, err)
	}

	store.CheckGolden(t, "tables.golden.json", map[string]any{"state": scanAll(t, db, state), "audit": scanAll(t, db, audit)})
}

// checkedDB holds every request's expressions to what DynamoDB accepts:
// every alias defined and used (and nothing else), and every name a stored
// attribute. (What the embedded emulator needs on top is the devstack's
// concern: kumocompat.DynamoDB.)
type checkedDB struct {
	*dynamodb.Client
	t     *testing.T
	attrs map[string]bool
}

var aliasRE = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

func (c *checkedDB) check(op string, names map[string]string, values map[string]types.AttributeValue, exprs ...*string) {
	c.t.Helper()
	usedNames, usedValues := map[string]bool{}, map[string]bool{}
	for _, e := range exprs {
		if e == nil {
			continue
		}
		for _, a := range aliasRE.FindAllString(*e, -1) {
			if a[0] == '#' {
				usedNames[a] = true
			} else {
				usedValues[a] = true
			}
		}
	}
	for a, name := range names {
		if !usedNames[a] {
			c.t.Errorf("%s: name %s (%s) is unused", op, a, name)
		}
		if !c.attrs[name] {
			c.t.Errorf("%s: %s is not a stored attribute name", op, name)
		}
	}
	for a := range usedNames {
		if _, ok := names[a]; !ok {
			c.t.Errorf("%s: name %s is undefined", op, a)
		}
	}
	for a := range values {
		if !usedValues[a] {
			c.t.Errorf("%s: value %s is unused", op, a)
		}
	}
	for a := range usedValues {
		if _, ok := values[a]; !ok {
			c.t.Errorf("%s: value %s is undefined", op, a)
		}
	}
}

func (c *checkedDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.check("UpdateItem", in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.UpdateExpression, in.ConditionExpression)
	return c.Client.UpdateItem(ctx, in, opts...)
}

func (c *checkedDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.check("Query", in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.KeyConditionExpression, in.FilterExpression, in.ProjectionExpression)
	return c.Client.Query(ctx, in, opts...)
}

func (c *checkedDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			c.check("Put", it.Put.ExpressionAttributeNames, it.Put.ExpressionAttributeValues, it.Put.ConditionExpression)
		case it.Update != nil:
			c.check("Update", it.Update.ExpressionAttributeNames, it.Update.ExpressionAttributeValues, it.Update.UpdateExpression, it.Update.ConditionExpression)
		case it.Delete != nil:
			c.check("Delete", it.Delete.ExpressionAttributeNames, it.Delete.ExpressionAttributeValues, it.Delete.ConditionExpression)
		case it.ConditionCheck != nil:
			c.check("ConditionCheck", it.ConditionCheck.ExpressionAttributeNames, it.ConditionCheck.ExpressionAttributeValues, it.ConditionCheck.ConditionExpression)
		}
	}
	return c.Client.TransactWriteItems(ctx, in, opts...)
}

// scanAll reads a table, ordered by key.
func scanAll(t *testing.T, db *dynamodb.Client, table string) []map[string]any {
	t.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, out.Items...)
	}
	keyOf := func(it map[string]types.AttributeValue) string {
		pk, _ := it["pk"].(*types.AttributeValueMemberS)
		sk, _ := it["sk"].(*types.AttributeValueMemberS)
		return pk.Value + "\x00" + sk.Value
	}
	slices.SortFunc(items, func(a, b map[string]types.AttributeValue) int { return cmp.Compare(keyOf(a), keyOf(b)) })
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = store.AVMapJSON(it)
	}
	return out
}
