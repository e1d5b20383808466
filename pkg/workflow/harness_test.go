package workflow_test

// The harness: the real DynamoDB adapter (pkg/store) on the embedded
// emulator, with the stack's own table definitions, wrapped by a store
// that can observe calls and inject faults; a fake of the Executions port
// that records what the workflow asks of Step Functions; a manual clock;
// and a real CA over an in-memory ECDSA key.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/kumocompat"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// epoch is where every test's clock starts: fixed, so runs are repeatable.
var epoch = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// The people of the tests. alice operates (and may approve others'
// requests), bob and carol approve, olivia only operates.
var (
	alice  = domain.Actor{ID: "alice", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleOperator, domain.RoleApprover}}
	bob    = domain.Actor{ID: "bob", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
	carol  = domain.Actor{ID: "carol", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
	olivia = domain.Actor{ID: "olivia", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleOperator}}
	admin  = domain.Actor{ID: "root-admin", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleAdmin}}
)

var (
	emulatorOnce sync.Once
	emulatorURL  string
)

// emulator starts the in-process DynamoDB emulator once per test binary.
func emulator() string {
	emulatorOnce.Do(func() { emulatorURL = kumo.NewServer().URL })
	return emulatorURL
}

// env is one test's world: fresh tables, a service over them, and its fakes.
type env struct {
	t     *testing.T
	db    *dynamodb.Client
	state string
	trail string // the audit table
	st    *hooked
	exec  *fakeExec
	clock *clock
	obs   *observer
	ca    *testCA
	svc   *workflow.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := dynamodb.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(emulator()),
		APIOptions:   []func(*middleware.Stack) error{kumocompat.DynamoDB},
	})
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	state, audit := fmt.Sprintf("wf-%x-state", b), fmt.Sprintf("wf-%x-audit", b)
	for name, def := range map[string]devstack.TableDef{state: devstack.StateTable, audit: devstack.AuditTable} {
		if _, err := db.CreateTable(t.Context(), def.CreateTableInput(name)); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{
		t: t, db: db, state: state, trail: audit,
		st:    &hooked{Store: store.New(db, state, audit), calls: map[string]int{}},
		exec:  &fakeExec{status: workflow.ExecutionRunning},
		clock: &clock{t: epoch},
		obs:   &observer{},
		ca:    newTestCA(t),
	}
	e.svc = workflow.New(e.st, e.exec)
	e.svc.Now = e.clock.Now
	e.svc.ApprovalTimeout = 168 * time.Hour
	e.svc.Observer = e.obs
	e.svc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	// Principals the approver pools name must exist and hold approver.
	for _, p := range []domain.Principal{
		{ID: "bob", Roles: []domain.Role{domain.RoleApprover}},
		{ID: "carol", Roles: []domain.Role{domain.RoleApprover}},
		{ID: "olivia", Roles: []domain.Role{domain.RoleOperator}},
	} {
		p.UpdatedAt = epoch
		if err := e.st.PutPrincipal(t.Context(), &apikey.PrincipalChange{Next: &p}, &domain.AuditEvent{
			Actor: "bootstrap", ActorType: domain.ActorSystem, Action: domain.AuditRolesGranted, ResourceType: "principal", ResourceID: p.ID, Timestamp: epoch,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// ---- the decorated store ----

var _ workflow.Store = (*hooked)(nil)

// ---- the Executions fake ----

type sent struct{ Token, Outcome string }

// fakeExec records starts and decisions; errors queued in startErrs and
// sendErrs answer the next calls, one each.
type fakeExec struct {
	mu        sync.Mutex
	starts    []workflow.ExecutionInput
	sends     []sent
	startErrs []error
	sendErrs  []error
	status    string
}

func (f *fakeExec) Start(_ context.Context, in workflow.ExecutionInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, in)
	if len(f.startErrs) > 0 {
		err := f.startErrs[0]
		f.startErrs = f.startErrs[1:]
		return err
	}
	return nil
}

func (f *fakeExec) SendDecision(_ context.Context, token, outcome string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, sent{token, outcome})
	if len(f.sendErrs) > 0 {
		err := f.sendErrs[0]
		f.sendErrs = f.sendErrs[1:]
		return err
	}
	return nil
}

func (f *fakeExec) ExecutionARN(jobID string) string {
	return "arn:aws:states:us-east-1:123456789012:execution:renewal:" + jobID
}

func (f *fakeExec) Status(context.Context, string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, nil
}

func (f *fakeExec) Sends() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sends)
}

func (f *fakeExec) Starts() []workflow.ExecutionInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.starts)
}

func (f *fakeExec) failNextSend(err error) {
	f.mu.Lock()
	f.sendErrs = append(f.sendErrs, err)
	f.mu.Unlock()
}

func (f *fakeExec) failNextStart(err error) {
	f.mu.Lock()
	f.startErrs = append(f.startErrs, err)
	f.mu.Unlock()
}

// ---- clock and observer ----

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type observed struct {
	Kind               domain.ApprovalKind
	Outcome, ProfileID string
	Age                time.Duration
}

type observer struct {
	mu        sync.Mutex
	decisions []observed
}

func (o *observer) Decision(kind domain.ApprovalKind, outcome, profileID string, age time.Duration) {
	o.mu.Lock()
	o.decisions = append(o.decisions, observed{kind, outcome, profileID, age})
	o.mu.Unlock()
}

func (o *observer) Queues(time.Duration, int, int) {}

func (o *observer) Pending([]domain.PendingGauge, time.Time) {}

// Count is how many certificate decisions with this outcome were observed.
func (o *observer) Count(outcome string) int { return o.CountKind(domain.KindCertIssuance, outcome) }

// CountKind is how many decisions of this kind and outcome were observed.
func (o *observer) CountKind(kind domain.ApprovalKind, outcome string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, d := range o.decisions {
		if d.Outcome == outcome && d.Kind == kind {
			n++
		}
	}
	return n
}

// ---- the CA ----

var (
	caOnce sync.Once
	caKey  *ecdsa.PrivateKey
	caDER  []byte
)

// testCA is the default issuer over an in-memory key; it counts signatures,
// so a test can tell whether anything was signed at all.
type testCA struct {
	auth  *ca.Authority
	signs *atomic.Int32
}

type countingSigner struct {
	crypto.Signer
	n *atomic.Int32
}

func (c countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Signer.Sign(r, digest, opts)
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	caOnce.Do(func() {
		var err error
		if caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if caDER, err = ca.NewCACertificate(caKey, domain.DefaultIssuerID, epoch.Add(-time.Hour)); err != nil {
			panic(err)
		}
	})
	n := &atomic.Int32{}
	auth, err := ca.NewAuthority(caDER, countingSigner{Signer: caKey, n: n})
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{auth: auth, signs: n}
}

func (c *testCA) Authority(_ context.Context, issuerID string) (*ca.Authority, error) {
	if issuerID != domain.DefaultIssuerID {
		return nil, domain.NotFoundf("issuer %s", issuerID)
	}
	return c.auth, nil
}

// Signed is how many certificates the CA has signed.
func (c *testCA) Signed() int { return int(c.signs.Load()) }

// ---- requests ----

func newKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// csrFor is a PEM CSR for cn and sans signed by key.
func csrFor(t *testing.T, key crypto.Signer, cn string, sans ...string) string {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}
	for _, n := range append([]string{cn}, sans...) {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func names(ns ...string) *[]domain.NamePattern {
	out := make([]domain.NamePattern, len(ns))
	for i, n := range ns {
		out[i] = domain.NamePattern(n)
	}
	return &out
}

// gatedProfile creates an approval-tier profile; that applies at once.
func (e *env) gatedProfile(id string, allowed ...string) *domain.Profile {
	e.t.Helper()
	return e.gatedProfileFrom(domain.ProfileInput{ID: id, Name: domain.Ptr("gated " + id), RequiresApproval: domain.Ptr(true), AllowedNames: names(allowed...)})
}

func (e *env) gatedProfileFrom(in domain.ProfileInput) *domain.Profile {
	e.t.Helper()
	p, pending, err := e.svc.CreateProfile(e.t.Context(), alice, in)
	if err != nil || pending != nil || p == nil {
		e.t.Fatalf("create gated profile %s: %+v %+v %v", in.ID, p, pending, err)
	}
	return p
}

// ungatedProfile creates a profile that needs no approval: alice asks, bob approves.
func (e *env) ungatedProfile(id string, allowed ...string) *domain.Profile {
	e.t.Helper()
	return e.ungatedProfileFrom(domain.ProfileInput{ID: id, Name: domain.Ptr("open " + id), AllowedNames: names(allowed...)})
}

func (e *env) ungatedProfileFrom(in domain.ProfileInput) *domain.Profile {
	e.t.Helper()
	_, pending, err := e.svc.CreateProfile(e.t.Context(), alice, in)
	if err != nil || pending == nil {
		e.t.Fatalf("request profile %s: %+v %v", in.ID, pending, err)
	}
	e.approve(bob, pending.ApprovalID)
	return e.profile(in.ID)
}

// editProfile asks for a gated edit as alice and has bob approve it.
func (e *env) editProfile(id string, in domain.ProfileInput) *domain.Profile {
	e.t.Helper()
	p, pending, err := e.svc.UpdateProfile(e.t.Context(), alice, id, in)
	switch {
	case err != nil:
		e.t.Fatalf("edit profile %s: %v", id, err)
	case pending != nil:
		e.approve(bob, pending.ApprovalID)
	case p == nil:
		e.t.Fatalf("edit profile %s: no profile and no pending edit", id)
	}
	return e.profile(id)
}

// domainCert is a certificate request for cn and sans with a fresh P-256 key.
func domainCert(t *testing.T, id, profile, cn string, sans ...string) domain.CertificateInput {
	t.Helper()
	return domain.CertificateInput{ID: id, CommonName: cn, SANs: sans, ProfileID: profile, CSR: csrFor(t, newKey(t, elliptic.P256()), cn, sans...)}
}

// newCert creates certificate id under profile for cn and sans as actor,
// with a fresh P-256 key, and returns what was started.
func (e *env) newCert(actor domain.Actor, id, profile, cn string, sans ...string) *domain.Started {
	e.t.Helper()
	started, err := e.svc.CreateCertificate(e.t.Context(), actor, domainCert(e.t, id, profile, cn, sans...))
	if err != nil {
		e.t.Fatalf("create certificate %s: %v", id, err)
	}
	return started
}

func (e *env) approve(actor domain.Actor, approvalID string) {
	e.t.Helper()
	if _, err := e.svc.Approve(e.t.Context(), actor, approvalID, "ok"); err != nil {
		e.t.Fatalf("%s approves %s: %v", actor.ID, approvalID, err)
	}
}

// waitToken stores a task token on the request, as approval-wait does.
func (e *env) waitToken(approvalID, token string) {
	e.t.Helper()
	if err := e.svc.AwaitApproval(e.t.Context(), workflow.AwaitInput{TaskToken: token, ApprovalID: approvalID}); err != nil {
		e.t.Fatalf("await %s: %v", approvalID, err)
	}
}

func (e *env) issue(jobID string) (*workflow.IssueOutput, error) {
	return e.svc.Issue(e.t.Context(), e.ca, workflow.IssueInput{JobID: jobID})
}

// issued issues a job that must issue, and returns its version.
func (e *env) issued(certID, jobID string) *domain.CertificateVersion {
	e.t.Helper()
	out, err := e.issue(jobID)
	if err != nil {
		e.t.Fatalf("issue %s: %v", jobID, err)
	}
	v := e.version(certID, jobID)
	if v.SerialNumber != out.SerialNumber {
		e.t.Fatalf("issue answered serial %s, stored %s", out.SerialNumber, v.SerialNumber)
	}
	return v
}

// ---- reads ----

func (e *env) profile(id string) *domain.Profile {
	e.t.Helper()
	p, err := e.st.Store.GetProfile(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("profile %s: %v", id, err)
	}
	return p
}

func (e *env) job(id string) *domain.Job {
	e.t.Helper()
	j, err := e.st.Store.GetJob(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("job %s: %v", id, err)
	}
	return j
}

func (e *env) approval(id string) *domain.Approval {
	e.t.Helper()
	a, err := e.st.Store.GetApproval(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("approval %s: %v", id, err)
	}
	return a
}

func (e *env) cert(id string) *domain.Certificate {
	e.t.Helper()
	c, err := e.st.Store.GetCertificate(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("certificate %s: %v", id, err)
	}
	return c
}

func (e *env) version(certID, jobID string) *domain.CertificateVersion {
	e.t.Helper()
	v, err := e.st.Store.GetVersion(e.t.Context(), certID, jobID)
	if err != nil {
		e.t.Fatalf("version of %s/%s: %v", certID, jobID, err)
	}
	return v
}

func (e *env) versions(certID string) []*domain.CertificateVersion {
	e.t.Helper()
	vs, _, err := e.st.Store.ListVersions(e.t.Context(), certID, domain.PageRequest{Limit: 50})
	if err != nil {
		e.t.Fatal(err)
	}
	return vs
}

// audit lists a resource's audit rows, oldest first.
func (e *env) audit(resourceID string) []*domain.AuditEvent {
	e.t.Helper()
	rows, _, err := e.st.ListAudit(e.t.Context(), domain.AuditFilter{ResourceID: resourceID, Until: epoch.AddDate(5, 0, 0)}, domain.PageRequest{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Reverse(rows)
	return rows
}

// actions lists the actions of a resource's audit rows, oldest first.
func (e *env) actions(resourceID string) []string {
	var out []string
	for _, ev := range e.audit(resourceID) {
		out = append(out, ev.Action)
	}
	return out
}

// rowsBy lists a resource's audit rows with this action.
func (e *env) rowsBy(resourceID, action string) []*domain.AuditEvent {
	var out []*domain.AuditEvent
	for _, ev := range e.audit(resourceID) {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) handoffs() []*domain.Approval {
	e.t.Helper()
	q, _, err := e.st.Store.PendingHandoffs(e.t.Context(), e.clock.Now().Add(time.Hour), domain.PageRequest{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

func (e *env) startQueue() []workflow.PendingStart {
	e.t.Helper()
	q, _, err := e.st.Store.PendingStarts(e.t.Context(), e.clock.Now().Add(time.Hour), domain.PageRequest{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

// leaf parses the leaf of a stored version.
func leaf(t *testing.T, v *domain.CertificateVersion) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(v.PEMChain))
	if block == nil {
		t.Fatal("version has no PEM chain")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setJobStatus moves a job behind the workflow's back, as only a bug or a
// hostile writer with table access would.
func (e *env) setJobStatus(jobID string, status domain.JobStatus) {
	e.t.Helper()
	_, err := e.db.UpdateItem(e.t.Context(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(e.state),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "JOB#" + jobID}, "sk": &types.AttributeValueMemberS{Value: "JOB"}},
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: string(status)}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// wantKind fails unless err is a domain error of the kind of sentinel.
func wantKind(t *testing.T, what string, err error, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got %v (kind %d), want kind %d", what, err, domain.KindOf(err), domain.KindOf(sentinel))
	}
}

// barrier lets n callers through only once all n have arrived; after that
// it lets everyone through.
type barrier struct {
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{waiting: n, open: make(chan struct{})} }

func (b *barrier) Wait() {
	b.mu.Lock()
	if b.waiting > 0 {
		b.waiting--
		if b.waiting == 0 {
			close(b.open)
		}
	}
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-time.After(10 * time.Second): // a safety net against a hang, not an ordering device
		panic("barrier: not every caller arrived")
	}
}
