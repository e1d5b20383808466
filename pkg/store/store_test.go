package store_test

// These tests run the store against a real DynamoDB wire protocol: the
// embedded emulator by default, or moto when AWS_ENDPOINT_URL_DYNAMODB is
// set (the strict tier: go run ./cmd/with-moto -- go test ./pkg/store/).

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/sivchari/kumo"

	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/kumocompat"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

var (
	endpointOnce sync.Once
	endpoint     string
)

// testDB returns a DynamoDB client on the tier's endpoint and fresh tables.
func testDB(t *testing.T) (*dynamodb.Client, string, string) {
	t.Helper()
	endpointOnce.Do(func() {
		if endpoint = os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"); endpoint == "" {
			endpoint = kumo.NewServer().URL // process-wide, lives as long as the tests
		}
	})
	db := dynamodb.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
		APIOptions:   []func(*middleware.Stack) error{kumocompat.DynamoDB},
	})
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	state, audit := fmt.Sprintf("store-%x-state", b), fmt.Sprintf("store-%x-audit", b)
	for name, def := range map[string]devstack.TableDef{state: devstack.StateTable, audit: devstack.AuditTable} {
		if _, err := db.CreateTable(t.Context(), def.CreateTableInput(name)); err != nil {
			t.Fatal(err)
		}
	}
	return db, state, audit
}

func newStore(t *testing.T) (*store.Store, *dynamodb.Client, string, string) {
	db, state, audit := testDB(t)
	return store.New(db, state, audit), db, state, audit
}

var now = time.Now().UTC().Truncate(time.Second)

func ev(action, resource string) *domain.AuditEvent {
	return &domain.AuditEvent{Actor: "alice", ActorType: domain.ActorUser, Action: action, ResourceType: "test", ResourceID: resource, Timestamp: now}
}

// gatedJob stores a profile and a certificate whose first job awaits
// approval, queued for its execution start.
func gatedJob(t *testing.T, st *store.Store) (*domain.Certificate, *domain.Job, *domain.Approval) {
	t.Helper()
	ctx := t.Context()
	p := domain.ProfileInput{ID: "p1", Name: domain.Ptr("P"), RequiresApproval: domain.Ptr(true), AllowedNames: &[]domain.NamePattern{"**.example.com"}}.Profile()
	p.Version, p.CreatedAt = 1, now
	if err := st.CreateProfile(ctx, p, domain.NewGovernanceChange(0, nil, p.Governs()), ev("profile.created", p.ID)); err != nil {
		t.Fatal(err)
	}
	c := &domain.Certificate{ID: "c1", CommonName: "a.example.com", SANs: []string{}, ProfileID: p.ID, IssuerID: "default", Status: domain.CertPending, CSR: "csr", CreatedAt: now, CurrentJobID: "j1"}
	j := &domain.Job{ID: "j1", CertificateID: c.ID, ProfileID: p.ID, Type: domain.JobIssuance, Status: domain.JobAwaitingApproval, RequiresApproval: true, ApprovalID: "a1", RequestedBy: "alice", CSR: "csr", PrevCertStatus: domain.CertPending, CreatedAt: now}
	a := &domain.Approval{ID: "a1", Kind: domain.KindCertIssuance, State: domain.ApprovalPending, JobID: j.ID, CertificateID: c.ID, ProfileID: p.ID, RequestedBy: "alice", RequestedType: domain.ActorUser, CreatedAt: now, ExpiresAt: now.Add(time.Hour), PrevCertStatus: domain.CertPending}
	err := st.CreateCertificate(ctx, workflow.NewJob{Cert: c, Job: j, Approval: a, ProfileVersion: 1, StartInput: `{"job_id":"j1"}`,
		Audits: []*domain.AuditEvent{ev("certificate.created", c.ID)}})
	if err != nil {
		t.Fatal(err)
	}
	return c, j, a
}

func decision(a *domain.Approval, by string, state domain.ApprovalState) workflow.Decision {
	d := workflow.Decision{Approval: a, State: state, DecidedBy: by, ActorType: domain.ActorUser, At: now, RetryAt: now.Add(time.Hour), Audit: ev("approval_"+string(state), a.ID)}
	if state == domain.ApprovalApproved {
		d.JobStatus = domain.JobPending
	} else {
		d.JobStatus, d.JobError, d.RestoreCert, d.CertSeen = domain.JobCancelled, "approval rejected: no", true, domain.CertPending
	}
	return d
}

// Two-person integrity and the token guard are part of the write itself.
func TestDecideConditions(t *testing.T) {
	st, _, _, _ := newStore(t)
	ctx := t.Context()
	_, _, a := gatedJob(t, st)
	if err := st.Decide(ctx, decision(a, "alice", domain.ApprovalApproved)); !workflow.IsChanged(err) {
		t.Fatalf("the requester deciding: %v, want a failed condition", err)
	}
	stored, ok, err := st.StoreTaskToken(ctx, a.ID, "token-1")
	if err != nil || !ok || stored.TaskToken != "token-1" {
		t.Fatalf("store token: %v %v %+v", ok, err, stored)
	}
	// Read before the token arrived: the decision must not pass.
	if err := st.Decide(ctx, decision(a, "bob", domain.ApprovalApproved)); !workflow.IsChanged(err) {
		t.Fatalf("decision without the stored token: %v", err)
	}
	if err := st.Decide(ctx, decision(stored, "bob", domain.ApprovalApproved)); err != nil {
		t.Fatalf("valid decision: %v", err)
	}
	if err := st.Decide(ctx, decision(stored, "carol", domain.ApprovalRejected)); !workflow.IsChanged(err) {
		t.Fatalf("second decision: %v", err)
	}
	j, err := st.GetJob(ctx, "j1")
	if err != nil || j.Status != domain.JobPending {
		t.Fatalf("job after approval: %+v %v", j, err)
	}
	// The decision waits in the hand-off queue until delivery is confirmed.
	queued, _, err := st.PendingHandoffs(ctx, now.Add(time.Minute), domain.PageRequest{Limit: 10})
	if err != nil || len(queued) != 1 || queued[0].ID != "a1" || queued[0].TaskToken != "token-1" {
		t.Fatalf("hand-off queue: %+v %v", queued, err)
	}
	if err := st.ClearHandoff(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if err := st.ClearHandoff(ctx, "a1"); err != nil {
		t.Fatalf("clearing twice must be harmless: %v", err)
	}
	if queued, _, _ := st.PendingHandoffs(ctx, now.Add(time.Minute), domain.PageRequest{Limit: 10}); len(queued) != 0 {
		t.Fatalf("queue after clearing: %+v", queued)
	}
	// Once decided, a late token is not stored and the decision comes back.
	got, ok, err := st.StoreTaskToken(ctx, a.ID, "token-2")
	if err != nil || ok || got.State != domain.ApprovalApproved {
		t.Fatalf("late token: %v %v %+v", ok, err, got)
	}
}

// A rejection (job error set) and a completion (no error) both pass a
// strict DynamoDB: no unused expression attribute names or values.
// A vote and a person's decision are written only against the votes they
// were classified with: a vote built from a stale read (fewer votes than
// stored) fails, so is the requester's, and one on a decided request;
// the completing vote writes every vote with the decision.
func TestVoteConditions(t *testing.T) {
	st, _, _, _ := newStore(t)
	ctx := t.Context()
	_, _, a := gatedJob(t, st)
	v := func(actor string) domain.Vote {
		return domain.Vote{Actor: actor, ActorType: domain.ActorUser, At: now, Eligible: []string{domain.DefaultFactorName}}
	}
	ballot := func(read *domain.Approval, actor string) workflow.Ballot {
		return workflow.Ballot{Approval: read, Vote: v(actor), Audit: ev(domain.AuditApprovalVote, read.ID)}
	}
	if err := st.Vote(ctx, ballot(a, "alice")); !workflow.IsChanged(err) {
		t.Fatalf("the requester's vote: %v, want a failed condition", err)
	}
	if err := st.Vote(ctx, ballot(a, "bob")); err != nil {
		t.Fatalf("first vote: %v", err)
	}
	// Read before bob's vote: neither a vote nor a decision may pass.
	if err := st.Vote(ctx, ballot(a, "bob")); !workflow.IsChanged(err) {
		t.Fatalf("a vote from a read without bob's: %v", err)
	}
	stale := decision(a, "carol", domain.ApprovalRejected)
	stale.PinVotes = true
	if err := st.Decide(ctx, stale); !workflow.IsChanged(err) {
		t.Fatalf("a rejection from a read without bob's vote: %v", err)
	}
	read, err := st.GetApproval(ctx, a.ID)
	if err != nil || len(read.Votes) != 1 || read.Votes[0].Actor != "bob" || read.State != domain.ApprovalPending {
		t.Fatalf("after one vote: %+v %v", read, err)
	}
	if err := st.Vote(ctx, ballot(read, "carol")); err != nil {
		t.Fatalf("second vote: %v", err)
	}
	read, err = st.GetApproval(ctx, a.ID)
	if err != nil || len(read.Votes) != 2 {
		t.Fatalf("after two votes: %+v %v", read, err)
	}
	done := decision(read, "dana", domain.ApprovalApproved)
	done.PinVotes, done.Votes, done.VoteAudit = true, append(read.Votes, v("dana")), ev(domain.AuditApprovalVote, a.ID)
	if err := st.Decide(ctx, done); err != nil {
		t.Fatalf("completing vote: %v", err)
	}
	if err := st.Vote(ctx, ballot(read, "erin")); !workflow.IsChanged(err) {
		t.Fatalf("a vote after the decision: %v", err)
	}
	got, err := st.GetApproval(ctx, a.ID)
	if err != nil || got.State != domain.ApprovalApproved || got.DecidedBy != "dana" || len(got.Votes) != 3 || got.Votes[2].Actor != "dana" {
		t.Fatalf("approved: %+v %v", got, err)
	}
	rows, _, err := st.ListAudit(ctx, domain.AuditFilter{ResourceID: a.ID, Until: now.Add(time.Hour)}, domain.PageRequest{Limit: 50})
	votes := 0
	for _, r := range rows {
		if r.Action == domain.AuditApprovalVote {
			votes++
		}
	}
	if err != nil || votes != 3 {
		t.Fatalf("approval_vote rows: %d %v", votes, err)
	}
}

func TestJobTransitionsPassStrictValidation(t *testing.T) {
	st, _, _, _ := newStore(t)
	ctx := t.Context()
	_, j, a := gatedJob(t, st)
	if err := st.Decide(ctx, decision(a, "bob", domain.ApprovalRejected)); err != nil {
		t.Fatalf("reject: %v", err)
	}
	got, err := st.GetJob(ctx, j.ID)
	if err != nil || got.Status != domain.JobCancelled || got.Error != "approval rejected: no" {
		t.Fatalf("job: %+v %v", got, err)
	}
	c, err := st.GetCertificate(ctx, "c1")
	if err != nil || c.CurrentJobID != "" || c.Status != domain.CertPending {
		t.Fatalf("certificate restored: %+v %v", c, err)
	}
	// The job left the start queue when it ended.
	if q, _, err := st.PendingStarts(ctx, now.Add(time.Minute), domain.PageRequest{Limit: 10}); err != nil || len(q) != 0 {
		t.Fatalf("start queue: %+v %v", q, err)
	}
}

func TestIssuanceAndTheStartQueue(t *testing.T) {
	st, db, state, _ := newStore(t)
	ctx := t.Context()
	_, j, a := gatedJob(t, st)
	q, _, err := st.PendingStarts(ctx, now.Add(time.Minute), domain.PageRequest{Limit: 10})
	if err != nil || len(q) != 1 || q[0].JobID != "j1" || q[0].Input != `{"job_id":"j1"}` {
		t.Fatalf("start queue: %+v %v", q, err)
	}
	if q, _, _ := st.PendingStarts(ctx, now.Add(-time.Minute), domain.PageRequest{Limit: 10}); len(q) != 0 {
		t.Fatalf("an entry younger than the cutoff was returned: %+v", q)
	}
	if err := st.ClearStart(ctx, "j1"); err != nil {
		t.Fatal(err)
	}
	complete := workflow.Completion{Job: j, Approval: a.ID, ProfileVersion: 1, RenewAt: now.Add(time.Hour), CSR: "csr", KeyAlg: domain.KeyECDSAP256, Audit: ev("renewal_job_completed", j.ID),
		Version: &domain.CertificateVersion{CertificateID: "c1", JobID: j.ID, SerialNumber: "01", NotBefore: now, NotAfter: now.Add(2 * time.Hour), IssuedAt: now}}
	if err := st.MarkJobRunning(ctx, j.ID, now); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a job awaiting approval cannot run: %v", err)
	}
	// The last guard of invariant 2: completion re-checks the request.
	forceJobStatus(t, db, state, j.ID, "Running")
	if err := st.CompleteIssuance(ctx, complete); !workflow.IsChanged(err) {
		t.Fatalf("completing with the request still pending: %v", err)
	}
	s, _ := st.GetApproval(ctx, a.ID)
	if err := st.Decide(ctx, decision(s, "bob", domain.ApprovalApproved)); !workflow.IsChanged(err) {
		t.Fatalf("deciding for a job that is no longer waiting: %v", err)
	}
	forceJobStatus(t, db, state, j.ID, "AwaitingApproval")
	if err := st.Decide(ctx, decision(s, "bob", domain.ApprovalApproved)); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkJobRunning(ctx, j.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkJobRunning(ctx, j.ID, now); err != nil {
		t.Fatalf("a retried attempt claims the running job again: %v", err)
	}
	if err := st.CompleteIssuance(ctx, complete); err != nil {
		t.Fatalf("complete: %v", err)
	}
	again := complete
	again.Audit = ev("renewal_job_completed", j.ID)
	if err := st.CompleteIssuance(ctx, again); !workflow.IsChanged(err) {
		t.Fatalf("a second completion must fail its conditions: %v", err)
	}
	v, err := st.GetVersion(ctx, "c1", j.ID)
	if err != nil || v.SerialNumber != "01" {
		t.Fatalf("version: %+v %v", v, err)
	}
	if _, err := st.GetVersion(ctx, "c1", "other"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("missing version: %v", err)
	}
}

// forceJobStatus moves a job behind the workflow's back, as only a bug or
// a hostile writer would.
func forceJobStatus(t *testing.T, db *dynamodb.Client, table, jobID, status string) {
	t.Helper()
	_, err := db.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "JOB#" + jobID}, "sk": &types.AttributeValueMemberS{Value: "JOB"}},
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: status}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// faultyDB wraps a client and fails TransactWriteItems as configured.
type faultyDB struct {
	*dynamodb.Client
	conflicts int  // answer this many calls with a TransactionConflict
	lost      bool // apply the next call, then lose its answer
	refused   bool // answer the next call with a 500 without applying it
	calls     int
}

func (f *faultyDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.calls++
	switch {
	case f.conflicts > 0:
		f.conflicts--
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[0].Code = aws.String("TransactionConflict")
		return nil, &types.TransactionCanceledException{Message: aws.String("conflict"), CancellationReasons: reasons}
	case f.lost:
		f.lost = false
		if _, err := f.Client.TransactWriteItems(ctx, in, opts...); err != nil {
			return nil, err
		}
		return nil, context.DeadlineExceeded
	case f.refused:
		f.refused = false
		return nil, &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}}, Err: errors.New("internal error")}}
	}
	return f.Client.TransactWriteItems(ctx, in, opts...)
}

func TestTransactionConflictsAreRetriedThenReportedAsRaces(t *testing.T) {
	db, state, audit := testDB(t)
	f := &faultyDB{Client: db, conflicts: 2}
	st := store.New(f, state, audit)
	p := domain.ProfileInput{ID: "p", Name: domain.Ptr("P"), AllowedNames: &[]domain.NamePattern{"**.example.com"}}.Profile()
	if err := st.CreateProfile(t.Context(), p, nil, ev("profile.created", "p")); err != nil {
		t.Fatalf("two conflicts, then success: %v", err)
	}
	if f.calls != 3 {
		t.Fatalf("%d calls, want 3", f.calls)
	}
	f.conflicts = 100
	q := domain.ProfileInput{ID: "q", Name: domain.Ptr("Q"), AllowedNames: &[]domain.NamePattern{"**.example.com"}}.Profile()
	err := st.CreateProfile(t.Context(), q, nil, ev("profile.created", "q"))
	if !workflow.IsChanged(err) {
		t.Fatalf("lasting contention must be reported as a race the caller reclassifies (a 409), not a 500: %v", err)
	}
}

// When the answer to a commit is lost, the transaction's own audit row says
// whether it was applied.
func TestUnknownOutcomeIsResolvedByTheAuditRow(t *testing.T) {
	db, state, audit := testDB(t)
	f := &faultyDB{Client: db, lost: true}
	st := store.New(f, state, audit)
	if err := st.CreateProfile(t.Context(), domain.ProfileInput{ID: "p", Name: domain.Ptr("P"), AllowedNames: &[]domain.NamePattern{"**.example.com"}}.Profile(), nil, ev("profile.created", "p")); err != nil {
		t.Fatalf("applied but answer lost: %v", err)
	}
	if _, err := st.GetProfile(t.Context(), "p"); err != nil {
		t.Fatal(err)
	}
	f.refused = true
	err := st.CreateProfile(t.Context(), domain.ProfileInput{ID: "q", Name: domain.Ptr("Q"), AllowedNames: &[]domain.NamePattern{"**.example.com"}}.Profile(), nil, ev("profile.created", "q"))
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("not applied: %v, want a 503-class error", err)
	}
}

// A page token that is not one this list returned is the caller's mistake:
// 400 (domain.Invalid) with a message saying so, never a request DynamoDB
// refuses (500). Checked on the emulator and, in the strict tier, on moto,
// which validates ExclusiveStartKey as DynamoDB does.
func TestForgedPageTokensAreInvalid(t *testing.T) {
	st, _, _, _ := newStore(t)
	ctx := t.Context()
	gatedJob(t, st)
	tok := func(m map[string]string) string {
		b, _ := json.Marshal(m)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	certs := func(token string) error {
		_, _, err := st.ListCertificates(ctx, domain.CertificateFilter{}, domain.PageRequest{Limit: 1, Token: token})
		return err
	}
	jobsOf := func(token string) error {
		_, _, err := st.ListJobs(ctx, domain.JobFilter{CertificateID: "c1"}, domain.PageRequest{Limit: 1, Token: token})
		return err
	}
	audit := func(token string) error {
		_, _, err := st.ListAudit(ctx, domain.AuditFilter{}, domain.PageRequest{Limit: 1, Token: token})
		return err
	}
	listKeys := map[string]string{"pk": "CERT#c1", "sk": "CERT", "list_pk": "CERT", "list_sk": "2026#c1"}
	for name, tc := range map[string]struct {
		list  func(string) error
		token string
	}{
		"not base64":                    {certs, "!!"},
		"not JSON":                      {certs, base64.RawURLEncoding.EncodeToString([]byte("nope"))},
		"unknown key names":             {certs, tok(map[string]string{"x": "y"})},
		"an extra key":                  {certs, tok(map[string]string{"pk": "CERT#c1", "sk": "CERT", "list_pk": "CERT", "list_sk": "x", "due_pk": "DUE"})},
		"an empty value":                {certs, tok(map[string]string{"pk": "CERT#c1", "sk": "CERT", "list_pk": "CERT", "list_sk": ""})},
		"another list's partition":      {certs, tok(map[string]string{"pk": "JOB#j1", "sk": "JOB", "list_pk": "JOB", "list_sk": "2026#j1"})},
		"a certificates token for jobs": {jobsOf, tok(listKeys)},
		"another certificate's jobs":    {jobsOf, tok(map[string]string{"pk": "JOB#j1", "sk": "JOB", "parent_pk": "CERT#other#JOB", "parent_sk": "x"})},
		"an audit day that is no day":   {audit, tok(map[string]string{"d": "yesterday"})},
	} {
		err := tc.list(tc.token)
		if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(domain.PublicMessage(err), "page_token") {
			t.Errorf("%s: %v, want a 400 naming page_token", name, err)
		}
	}
	// A real token still works.
	_, next, err := st.ListCertificates(ctx, domain.CertificateFilter{}, domain.PageRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if next != "" {
		if err := certs(next); err != nil {
			t.Fatalf("the list's own token: %v", err)
		}
	}
}
