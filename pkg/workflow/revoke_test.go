package workflow_test

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// crlTrigger records the refreshes a revocation asks for.
type crlTrigger struct {
	mu       sync.Mutex
	issuers  []string
	failNext bool
}

func (c *crlTrigger) RefreshCRL(_ context.Context, issuerID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failNext {
		c.failNext = false
		return errors.New("lambda is down")
	}
	c.issuers = append(c.issuers, issuerID)
	return nil
}

func (c *crlTrigger) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.issuers)
}

// issuedVersion creates an ungated certificate and issues it.
func (e *env) issuedVersion(id, profile, cn string) *domain.CertificateVersion {
	e.t.Helper()
	s := e.newCert(alice, id, profile, cn)
	return e.issued(id, s.JobID)
}

func (e *env) revoke(certID string, in domain.RevokeInput) (*domain.Revocation, error) {
	return e.svc.Revoke(e.t.Context(), olivia, certID, in)
}

func (e *env) refreshCRL(force bool) *workflow.CRLResult {
	e.t.Helper()
	res, err := e.svc.RefreshCRL(e.t.Context(), e.ca, workflow.CRLRequest{IssuerID: "default", Force: force})
	if err != nil {
		e.t.Fatalf("refresh CRL: %v", err)
	}
	return res
}

// crl reads and checks the published CRL: signed by the CA, numbered as
// stored.
func (e *env) crl() (*domain.CRL, *x509.RevocationList) {
	e.t.Helper()
	c, err := e.st.Store.GetCRL(e.t.Context(), "default")
	if err != nil {
		e.t.Fatalf("CRL: %v", err)
	}
	list, err := x509.ParseRevocationList(c.DER)
	if err != nil {
		e.t.Fatalf("parse CRL: %v", err)
	}
	if err := list.CheckSignatureFrom(e.ca.auth.Cert); err != nil {
		e.t.Fatalf("CRL signature: %v", err)
	}
	if list.Number.Int64() != c.Number {
		e.t.Fatalf("CRL number %v, stored %d", list.Number, c.Number)
	}
	return c, list
}

func listed(list *x509.RevocationList, serial string) *x509.RevocationListEntry {
	want, _ := new(big.Int).SetString(serial, 16)
	for i, e := range list.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(want) == 0 {
			return &list.RevokedCertificateEntries[i]
		}
	}
	return nil
}

// Revoking a certificate's current version retires it at once: Revoked,
// out of the sweep's index, never renewed; the CRL is stale until made
// again, then lists the serial with its reason; revoking again is 409.
func TestRevokeRetiresTheCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	trigger := &crlTrigger{}
	e.svc.CRLTrigger = trigger
	e.ungatedProfile("dev", "**.dev.example.com")
	v := e.issuedVersion("web", "dev", "web.dev.example.com")
	first := e.refreshCRL(false)
	if !first.Published || first.Number != 1 || first.Entries != 0 {
		t.Fatalf("first CRL: %+v", first)
	}

	e.clock.Advance(time.Minute)
	res, err := e.revoke("web", domain.RevokeInput{Reason: "keyCompromise"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Certificate.Status != domain.CertRevoked || len(res.Revoked) != 1 || res.Revoked[0].SerialNumber != v.SerialNumber || res.Reason != "keyCompromise" {
		t.Fatalf("revocation: %+v", res)
	}
	c := e.cert("web")
	if c.Status != domain.CertRevoked || c.RevokedAt == nil || !c.RevokedAt.Equal(e.clock.Now()) || c.RevocationReason != "keyCompromise" {
		t.Fatalf("certificate after revoke: %+v", c)
	}
	if got := e.version("web", v.JobID); got.RevokedAt == nil || got.RevocationReason != "keyCompromise" || got.RevokedBy != "olivia" {
		t.Fatalf("version after revoke: %+v", got)
	}
	if due, _, _ := e.st.DueBefore(t.Context(), e.clock.Now().Add(365*24*time.Hour), domain.PageRequest{Limit: 10}); len(due) != 0 {
		t.Fatalf("a revoked certificate is still in the due index: %+v", due[0])
	}
	if rows := e.rowsBy("web", domain.AuditCertificateRevoked); len(rows) != 1 || rows[0].Actor != "olivia" || rows[0].Details["reason"] != "keyCompromise" {
		t.Fatalf("audit: %+v", rows)
	}
	if trigger.count() != 1 {
		t.Fatalf("the CRL refresh was asked for %d times", trigger.count())
	}
	if state, _ := e.crl(); !state.Stale() {
		t.Fatalf("the CRL is not stale after a revocation: %+v", state)
	}

	_, err = e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	wantKind(t, "renew a revoked certificate", err, domain.ErrConflict)
	_, err = e.revoke("web", domain.RevokeInput{Reason: "superseded"})
	wantKind(t, "revoke twice", err, domain.ErrConflict)
	_, err = e.revoke("web", domain.RevokeInput{Reason: "superseded", Serial: strings.ToUpper(v.SerialNumber)})
	wantKind(t, "revoke the serial twice", err, domain.ErrConflict)

	second := e.refreshCRL(false)
	state, list := e.crl()
	if !second.Published || second.Number != 2 || state.Stale() {
		t.Fatalf("after the revocation: %+v, state %+v", second, state)
	}
	entry := listed(list, v.SerialNumber)
	if entry == nil || entry.ReasonCode != 1 || !entry.RevocationTime.Equal(c.RevokedAt.Truncate(time.Second)) {
		t.Fatalf("CRL entry for %s: %+v", v.SerialNumber, entry)
	}
	if again := e.refreshCRL(false); again.Published || again.Number != 2 {
		t.Fatalf("a fresh CRL was made again: %+v", again)
	}
	if forced := e.refreshCRL(true); !forced.Published || forced.Number != 3 {
		t.Fatalf("forced: %+v", forced)
	}
	if rows := e.rowsBy("default", domain.AuditCRLPublished); len(rows) != 3 {
		t.Fatalf("%d crl.published rows, want 3", len(rows))
	}
}

// Revoking an older version leaves the certificate as it is; revoking
// without a serial revokes every version neither expired nor revoked.
func TestRevokeOneVersionOrEvery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("dev", "**.dev.example.com")
	old := e.issuedVersion("web", "dev", "web.dev.example.com")
	e.clock.Advance(time.Hour)
	s, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	current := e.issued("web", s.JobID)

	res, err := e.revoke("web", domain.RevokeInput{Reason: "superseded", Serial: "0" + old.SerialNumber})
	if err != nil {
		t.Fatal(err)
	}
	if res.Certificate.Status != domain.CertActive || len(res.Revoked) != 1 || res.Revoked[0].SerialNumber != old.SerialNumber {
		t.Fatalf("revoking the older serial: %+v", res)
	}
	if c := e.cert("web"); c.Status != domain.CertActive || c.RevokedAt != nil {
		t.Fatalf("certificate after revoking an older version: %+v", c)
	}
	res, err = e.revoke("web", domain.RevokeInput{Reason: "cessationOfOperation"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Certificate.Status != domain.CertRevoked || len(res.Revoked) != 1 || res.Revoked[0].SerialNumber != current.SerialNumber {
		t.Fatalf("revoking the rest: %+v", res)
	}
	e.refreshCRL(false)
	_, list := e.crl()
	if listed(list, old.SerialNumber) == nil || listed(list, current.SerialNumber) == nil || len(list.RevokedCertificateEntries) != 2 {
		t.Fatalf("CRL entries %d, want both serials", len(list.RevokedCertificateEntries))
	}
}

// A refused revocation says why: an unknown reason lists the known ones,
// a serial of another certificate is 404, a certificate never issued has
// nothing to revoke. Nothing is written.
func TestRevokeRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("dev", "**.dev.example.com")
	e.issuedVersion("a", "dev", "a.dev.example.com")
	other := e.issuedVersion("b", "dev", "b.dev.example.com")
	_, err := e.revoke("a", domain.RevokeInput{Reason: "certificateHold"})
	wantKind(t, "certificateHold", err, domain.ErrInvalid)
	if msg := domain.PublicMessage(err); !strings.Contains(msg, "keyCompromise") || !strings.Contains(msg, "privilegeWithdrawn") {
		t.Errorf("the refusal does not list the reasons: %q", msg)
	}
	_, err = e.revoke("a", domain.RevokeInput{Reason: "keyCompromise", Serial: other.SerialNumber})
	wantKind(t, "another certificate's serial", err, domain.ErrNotFound)
	_, err = e.revoke("a", domain.RevokeInput{Reason: "keyCompromise", Serial: "not-hex"})
	wantKind(t, "a malformed serial", err, domain.ErrInvalid)
	_, err = e.revoke("nope", domain.RevokeInput{Reason: "keyCompromise"})
	wantKind(t, "an unknown certificate", err, domain.ErrNotFound)
	e.gatedProfile("prod", "**.prod.example.com")
	e.newCert(alice, "waiting", "prod", "w.prod.example.com")
	_, err = e.revoke("waiting", domain.RevokeInput{Reason: "keyCompromise"})
	wantKind(t, "a certificate never issued", err, domain.ErrConflict)
	if c := e.cert("a"); c.Status != domain.CertActive {
		t.Fatalf("a refused revocation changed the certificate: %+v", c)
	}
	if _, err := e.st.Store.GetCRL(t.Context(), "default"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("refused revocations touched the CRL state: %v", err)
	}
}

// A job in flight when its certificate is revoked never issues: approved
// afterwards, the issue step refuses and fails the job with the reason;
// the certificate stays Revoked and the job is released. A rejection
// after a revocation keeps it Revoked too.
func TestRevokeWhileAJobIsInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.prod.example.com")
	s := e.newCert(alice, "web", "prod", "web.prod.example.com")
	e.approve(bob, s.ApprovalID)
	first := e.issued("web", s.JobID)

	renewal, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.revoke("web", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	if c := e.cert("web"); c.Status != domain.CertRevoked || c.CurrentJobID != renewal.JobID {
		t.Fatalf("revoked with a job in flight: %+v", c)
	}
	e.approve(bob, renewal.ApprovalID) // decided after the revocation
	signed := e.ca.Signed()
	_, err = e.issue(renewal.JobID)
	wantKind(t, "issue after the revocation", err, domain.ErrConflict)
	if e.ca.Signed() != signed {
		t.Fatal("the CA signed for a revoked certificate")
	}
	j := e.job(renewal.JobID)
	if j.Status != domain.JobFailed || !strings.Contains(j.Error, "was revoked") || !strings.Contains(j.Error, "nothing was issued") {
		t.Fatalf("job after the refusal: %s %q", j.Status, j.Error)
	}
	c := e.cert("web")
	if c.Status != domain.CertRevoked || c.CurrentJobID != "" {
		t.Fatalf("certificate after the refused issuance: %+v", c)
	}
	if vs := e.versions("web"); len(vs) != 1 || vs[0].SerialNumber != first.SerialNumber {
		t.Fatalf("versions: %d", len(vs))
	}

	// A rejection after a revocation.
	e.gatedProfile("prod2", "**.prod2.example.com")
	s = e.newCert(alice, "api", "prod2", "api.prod2.example.com")
	e.approve(bob, s.ApprovalID)
	e.issued("api", s.JobID)
	renewal, err = e.svc.Renew(t.Context(), alice, "api", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.revoke("api", domain.RevokeInput{Reason: "affiliationChanged"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Reject(t.Context(), bob, renewal.ApprovalID, "revoked anyway"); err != nil {
		t.Fatal(err)
	}
	if c := e.cert("api"); c.Status != domain.CertRevoked || c.CurrentJobID != "" {
		t.Fatalf("certificate after a rejection that followed its revocation: %+v", c)
	}
}

// The issuance transaction itself refuses a certificate revoked between
// the issue step's checks and its write.
func TestRevokeRacingTheIssuanceWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("dev", "**.dev.example.com")
	e.issuedVersion("web", "dev", "web.dev.example.com")
	renewal, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	once := sync.Once{}
	e.st.completeIssuance = func(ctx context.Context, c workflow.Completion) error {
		once.Do(func() {
			if _, err := e.revoke("web", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
				t.Errorf("revoke: %v", err)
			}
		})
		return e.st.Store.CompleteIssuance(ctx, c)
	}
	_, err = e.issue(renewal.JobID)
	wantKind(t, "issuance racing a revocation", err, domain.ErrConflict)
	if j := e.job(renewal.JobID); j.Status != domain.JobFailed || !strings.Contains(j.Error, "revoked") {
		t.Fatalf("job: %s %q", j.Status, j.Error)
	}
	if vs := e.versions("web"); len(vs) != 1 {
		t.Fatalf("%d versions after a refused issuance", len(vs))
	}
}

// The CRL is kept in one item: past its cap a revocation is refused with a
// message that says why, and the CRL state is unchanged.
func TestRevokePastTheCRLCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.CRLMaxEntries = 1
	e.ungatedProfile("dev", "**.dev.example.com")
	e.issuedVersion("a", "dev", "a.dev.example.com")
	e.issuedVersion("b", "dev", "b.dev.example.com")
	if _, err := e.revoke("a", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.revoke("b", domain.RevokeInput{Reason: "keyCompromise"})
	wantKind(t, "past the cap", err, domain.ErrConflict)
	if msg := domain.PublicMessage(err); !strings.Contains(msg, "400 KB") || !strings.Contains(msg, "1 of its 1") {
		t.Errorf("message %q", msg)
	}
	if c := e.cert("b"); c.Status != domain.CertActive {
		t.Fatalf("refused, yet the certificate changed: %+v", c)
	}
	state, err := e.st.Store.GetCRL(t.Context(), "default")
	if err != nil || state.EntryCount != 1 || state.Revision != 1 {
		t.Fatalf("CRL state: %+v %v", state, err)
	}
}

// The cap is enforced by the revocation's own write, not only by the read
// before it: a revocation that read a count from before a concurrent one
// committed is refused all the same.
func TestTheCRLCapHoldsAgainstAStaleRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.CRLMaxEntries = 1
	e.ungatedProfile("dev", "**.dev.example.com")
	e.issuedVersion("a", "dev", "a.dev.example.com")
	e.issuedVersion("b", "dev", "b.dev.example.com")
	if _, err := e.revoke("a", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	e.st.getCRL = func(ctx context.Context, issuerID string) (*domain.CRL, error) {
		c, err := e.st.Store.GetCRL(ctx, issuerID)
		if err == nil {
			c.EntryCount = 0 // as read before a's revocation committed
		}
		return c, err
	}
	if _, err := e.revoke("b", domain.RevokeInput{Reason: "keyCompromise"}); err == nil {
		t.Fatal("a revocation past the cap was accepted")
	}
	if c := e.cert("b"); c.Status != domain.CertActive {
		t.Fatalf("refused, yet the certificate changed: %+v", c)
	}
	if state, err := e.st.Store.GetCRL(t.Context(), "default"); err != nil || state.EntryCount != 1 {
		t.Fatalf("CRL state: %+v %v", state, err)
	}
}

// Entries of expired certificates leave the CRL (and the table), which
// makes room for new ones.
func TestExpiredEntriesLeaveTheCRL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfileFrom(domain.ProfileInput{ID: "dev", Name: domain.Ptr("dev"), AllowedNames: names("**.dev.example.com"),
		MaxValiditySeconds: domain.Ptr(int64(7200)), RenewBeforeSeconds: domain.Ptr(int64(3600))})
	v := e.issuedVersion("a", "dev", "a.dev.example.com")
	if _, err := e.revoke("a", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	e.refreshCRL(false)
	if _, list := e.crl(); listed(list, v.SerialNumber) == nil {
		t.Fatal("not listed before expiry")
	}
	e.clock.Advance(3 * time.Hour) // past not_after
	res := e.refreshCRL(true)
	state, list := e.crl()
	if res.Pruned != 1 || len(list.RevokedCertificateEntries) != 0 || state.EntryCount != 0 {
		t.Fatalf("after expiry: %+v, %d entries, state %+v", res, len(list.RevokedCertificateEntries), state)
	}
	if rows := e.rowsBy("default", domain.AuditCRLPruned); len(rows) != 1 {
		t.Fatalf("%d crl.entries_pruned rows", len(rows))
	}
}

// Refreshes racing each other publish strictly growing numbers: each
// publication is conditioned on the number it follows.
func TestConcurrentCRLRefreshesNeverReuseANumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var wg sync.WaitGroup
	results := make([]*workflow.CRLResult, 6)
	for i := range results {
		wg.Go(func() {
			r, err := e.svc.RefreshCRL(t.Context(), e.ca, workflow.CRLRequest{IssuerID: "default", Force: true})
			if err != nil && !strings.Contains(err.Error(), "still changing") {
				t.Errorf("refresh %d: %v", i, err)
			}
			results[i] = r
		})
	}
	wg.Wait()
	var numbers []int64
	for _, r := range results {
		if r != nil && r.Published {
			numbers = append(numbers, r.Number)
		}
	}
	slices.Sort(numbers)
	if len(numbers) == 0 || len(slices.Compact(slices.Clone(numbers))) != len(numbers) {
		t.Fatalf("published numbers %v: none, or one used twice", numbers)
	}
	state, _ := e.crl()
	if state.Number != numbers[len(numbers)-1] {
		t.Fatalf("stored number %d, highest published %d", state.Number, numbers[len(numbers)-1])
	}
	if rows := e.rowsBy("default", domain.AuditCRLPublished); len(rows) != len(numbers) {
		t.Fatalf("%d crl.published rows for %d publications", len(rows), len(numbers))
	}
}

// A lost trigger loses nothing: the revocation stands and the CRL stays
// stale until the scheduled refresh.
func TestALostCRLTriggerIsOnlyLate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	trigger := &crlTrigger{failNext: true}
	e.svc.CRLTrigger = trigger
	e.ungatedProfile("dev", "**.dev.example.com")
	v := e.issuedVersion("a", "dev", "a.dev.example.com")
	if _, err := e.revoke("a", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatalf("a failed trigger failed the revocation: %v", err)
	}
	state, err := e.st.Store.GetCRL(t.Context(), "default")
	if err != nil || !state.Stale() {
		t.Fatalf("CRL state: %+v %v", state, err)
	}
	if res := e.refreshCRL(false); !res.Published {
		t.Fatal("the scheduled refresh did not publish a stale CRL")
	}
	if _, list := e.crl(); listed(list, v.SerialNumber) == nil {
		t.Fatal("not listed after the scheduled refresh")
	}
}

func TestNormalizeSerial(t *testing.T) {
	for in, want := range map[string]string{"0A:1B": "a1b", "00ff": "ff", " 7f ": "7f", "0x10": "10"} {
		if got, err := workflow.NormalizeSerial(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "00", "xyz", "-1", strings.Repeat("f", 65)} {
		if _, err := workflow.NormalizeSerial(bad); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%q: %v, want invalid", bad, err)
		}
	}
}

// A renewal that completes between the revocation's reads and its write
// leaves the certificate with a newer serial than the one the revocation
// read: the revocation must not mark the certificate Revoked while its new
// current version stays valid and off the CRL. It is re-read, and the new
// version is revoked too.
func TestRevokeRacingARenewalThatCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("dev", "**.dev.example.com")
	first := e.issuedVersion("web", "dev", "web.dev.example.com")
	once := sync.Once{}
	var second *domain.CertificateVersion
	e.st.getCRL = func(ctx context.Context, issuerID string) (*domain.CRL, error) {
		once.Do(func() {
			r, err := e.svc.Renew(ctx, alice, "web", domain.RenewInput{})
			if err != nil {
				t.Errorf("renew: %v", err)
				return
			}
			second = e.issued("web", r.JobID)
		})
		return e.st.Store.GetCRL(ctx, issuerID)
	}
	if _, err := e.revoke("web", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if second == nil || second.SerialNumber == first.SerialNumber {
		t.Fatal("the renewal did not complete in between")
	}
	if c := e.cert("web"); c.Status != domain.CertRevoked {
		t.Fatalf("certificate %s", c.Status)
	}
	for _, v := range e.versions("web") {
		if v.RevokedAt == nil {
			t.Errorf("version %s (serial %s) is still valid on a Revoked certificate", v.JobID, v.SerialNumber)
		}
	}
}

// A version list that does not show the certificate's current version yet
// (as an eventually consistent read would not, a moment after an issuance)
// must not lead to revoking the certificate while that version stays valid:
// the revocation reads both again.
func TestRevokeWaitsForTheCurrentVersionToBeListed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("dev", "**.dev.example.com")
	e.issuedVersion("web", "dev", "web.dev.example.com")
	r, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	second := e.issued("web", r.JobID)
	hidden := 0
	e.st.listVersions = func(ctx context.Context, certID string, page domain.PageRequest) ([]*domain.CertificateVersion, string, error) {
		vs, next, err := e.st.Store.ListVersions(ctx, certID, page)
		if hidden == 0 {
			hidden++
			vs = slices.DeleteFunc(vs, func(v *domain.CertificateVersion) bool { return v.SerialNumber == second.SerialNumber })
		}
		return vs, next, err
	}
	if _, err := e.revoke("web", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	for _, v := range e.versions("web") {
		if v.RevokedAt == nil {
			t.Errorf("version %s (serial %s) is still valid on a %s certificate", v.JobID, v.SerialNumber, e.cert("web").Status)
		}
	}
	// The current serial, asked for by name while the list lags: found.
	e.issuedVersion("api", "dev", "api.dev.example.com")
	r, err = e.svc.Renew(t.Context(), alice, "api", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	cur := e.issued("api", r.JobID)
	hidden = 0
	second = cur
	if _, err := e.revoke("api", domain.RevokeInput{Reason: "superseded", Serial: cur.SerialNumber}); err != nil {
		t.Fatalf("revoke the current serial while the list lags: %v", err)
	}
}
