package workflow_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// publisher is a fake of SSM and Secrets Manager: it keeps what was
// written, and fails every write while failing is set.
type publisher struct {
	mu      sync.Mutex
	values  map[string]string
	writes  int
	failing error
}

func (p *publisher) put(name, value string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing != nil {
		return p.failing
	}
	if p.values == nil {
		p.values = map[string]string{}
	}
	p.values[name] = value
	p.writes++
	return nil
}

func (p *publisher) PutParameter(_ context.Context, name, value string) error {
	return p.put("ssm:"+name, value)
}

func (p *publisher) PutSecret(_ context.Context, name, value string) error {
	return p.put("secret:"+name, value)
}

func (p *publisher) value(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.values[name]
}

func (p *publisher) fail(err error) {
	p.mu.Lock()
	p.failing = err
	p.mu.Unlock()
}

// deliveryEnv is an env whose stage is "test", with a fake publisher and
// an ungated profile "pub" delivering to a parameter and a secret named
// after each certificate.
func deliveryEnv(t *testing.T) (*env, *publisher) {
	e := newEnv(t)
	pub := &publisher{}
	e.svc.Stage, e.svc.Publisher = "test", pub
	e.ungatedProfileFrom(domain.ProfileInput{ID: "pub", Name: domain.Ptr("published"), AllowedNames: names("*.example.com"),
		Delivery: &domain.DeliveryTargets{SSMParameter: "/certctl/test/certs/{certificate_id}", Secret: "certctl/test/{certificate_id}/chain"}})
	return e, pub
}

func (e *env) deliveryQueue() []*workflow.Delivery {
	e.t.Helper()
	q, _, err := e.st.Store.PendingDeliveries(e.t.Context(), e.clock.Now().Add(time.Hour), domain.PageRequest{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

func (e *env) reap() workflow.ReapResult {
	e.t.Helper()
	res, err := e.svc.Reap(e.t.Context())
	if err != nil {
		e.t.Fatalf("reap: %v", err)
	}
	return res
}

// Each issued version's chain (no key) is published to both targets right
// after issuance, and the job says so.
func TestDeliveryPublishesEachNewVersion(t *testing.T) {
	e, pub := deliveryEnv(t)
	v1 := e.issuedVersion("web", "pub", "web.example.com")
	if got := pub.value("ssm:/certctl/test/certs/web"); got != v1.PEMChain {
		t.Fatalf("parameter holds %q, want the chain", got)
	}
	if got := pub.value("secret:certctl/test/web/chain"); got != v1.PEMChain || strings.Contains(got, "PRIVATE KEY") {
		t.Fatalf("secret holds %q, want the chain", got)
	}
	d := e.job(v1.JobID).Delivery
	if d == nil || d.Status != domain.DeliveryDelivered || d.Attempts != 1 || d.DeliveredAt == nil || d.LastError != "" ||
		d.SSMParameter != "/certctl/test/certs/web" || d.Secret != "certctl/test/web/chain" {
		t.Fatalf("job delivery %+v", d)
	}
	if q := e.deliveryQueue(); len(q) != 0 {
		t.Fatalf("delivery queue %+v, want empty", q)
	}
	if rows := e.rowsBy("web", domain.AuditDelivered); len(rows) != 1 || rows[0].Details["serial_number"] != v1.SerialNumber {
		t.Fatalf("delivered audit rows %+v", rows)
	}

	// A renewal publishes its version over the first.
	r, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	v2 := e.issued("web", r.JobID)
	if pub.value("ssm:/certctl/test/certs/web") != v2.PEMChain || pub.value("secret:certctl/test/web/chain") != v2.PEMChain {
		t.Fatal("the targets do not hold the renewed version")
	}

	// A profile without targets publishes nothing.
	e.ungatedProfile("plain", "*.example.com")
	writes := pub.writes
	v3 := e.issuedVersion("plain-web", "plain", "plain.example.com")
	if pub.writes != writes || e.job(v3.JobID).Delivery != nil {
		t.Fatalf("a profile without targets published (%d writes, job delivery %+v)", pub.writes-writes, e.job(v3.JobID).Delivery)
	}
}

// A failing target never fails the issuance: the version is issued, the
// job shows the delivery retrying with its error, the reaper retries it
// (after the issue function's own attempt had its grace) until it
// succeeds; the audit trail has the first failure and the delivery.
func TestDeliveryFailureIsVisibleAndRetried(t *testing.T) {
	e, pub := deliveryEnv(t)
	pub.fail(errors.New("AccessDeniedException: not authorized"))
	v := e.issuedVersion("web", "pub", "web.example.com")
	if c := e.cert("web"); c.Status != domain.CertActive || c.SerialNumber != v.SerialNumber {
		t.Fatalf("certificate %s %s after a failed delivery, want Active with the new version", c.Status, c.SerialNumber)
	}
	d := e.job(v.JobID).Delivery
	if d == nil || d.Status != domain.DeliveryRetrying || d.Attempts != 1 || !strings.Contains(d.LastError, "AccessDeniedException") {
		t.Fatalf("job delivery %+v", d)
	}
	if q := e.deliveryQueue(); len(q) != 1 || q[0].JobID != v.JobID || q[0].Attempts != 1 {
		t.Fatalf("delivery queue %+v", q)
	}

	// Within the grace period the reaper leaves it to the issue function.
	if res := e.reap(); res.DeliveriesFailed != 0 || res.Delivered != 0 || res.DeliveriesQueued != 0 {
		t.Fatalf("reaper within the grace period: %+v", res)
	}
	e.clock.Advance(2 * time.Minute)
	if res := e.reap(); res.DeliveriesFailed != 1 || res.DeliveriesQueued != 1 {
		t.Fatalf("reaper while the target fails: %+v", res)
	}
	if d := e.job(v.JobID).Delivery; d.Attempts != 2 || d.Status != domain.DeliveryRetrying {
		t.Fatalf("job delivery after a retry %+v", d)
	}
	if n := len(e.rowsBy("web", domain.AuditDeliveryFailed)); n != 1 {
		t.Fatalf("%d delivery_failed rows, want one (the first failure)", n)
	}

	pub.fail(nil)
	e.clock.Advance(time.Minute)
	if res := e.reap(); res.Delivered != 1 || res.DeliveriesQueued != 0 || res.DeliveriesFailed != 0 {
		t.Fatalf("reaper once the target works: %+v", res)
	}
	d = e.job(v.JobID).Delivery
	if d.Status != domain.DeliveryDelivered || d.Attempts != 3 || d.DeliveredAt == nil || d.LastError != "" {
		t.Fatalf("job delivery once delivered %+v", d)
	}
	if pub.value("ssm:/certctl/test/certs/web") != v.PEMChain {
		t.Fatal("not published")
	}
	if q := e.deliveryQueue(); len(q) != 0 {
		t.Fatalf("queue %+v after delivery", q)
	}
}

// An older version still queued when a newer one exists is superseded, not
// published over it; a version revoked before it was published is dropped.
func TestDeliverySupersededAndDropped(t *testing.T) {
	e, pub := deliveryEnv(t)
	pub.fail(errors.New("ThrottlingException"))
	v1 := e.issuedVersion("web", "pub", "web.example.com")
	r, err := e.svc.Renew(t.Context(), alice, "web", domain.RenewInput{})
	if err != nil {
		t.Fatal(err)
	}
	v2 := e.issued("web", r.JobID)
	pub.fail(nil)
	e.clock.Advance(2 * time.Minute)
	if res := e.reap(); res.Delivered != 1 || res.DeliveriesQueued != 0 {
		t.Fatalf("reap: %+v", res)
	}
	if d := e.job(v1.JobID).Delivery; d.Status != domain.DeliverySuperseded || d.DeliveredAt != nil {
		t.Fatalf("older version's delivery %+v, want superseded", d)
	}
	if d := e.job(v2.JobID).Delivery; d.Status != domain.DeliveryDelivered {
		t.Fatalf("newer version's delivery %+v, want delivered", d)
	}
	if pub.value("ssm:/certctl/test/certs/web") != v2.PEMChain || pub.value("secret:certctl/test/web/chain") != v2.PEMChain {
		t.Fatal("the targets do not hold the newest version")
	}

	pub.fail(errors.New("ThrottlingException"))
	v3 := e.issuedVersion("api", "pub", "api.example.com")
	if _, err := e.revoke("api", domain.RevokeInput{Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	pub.fail(nil)
	e.clock.Advance(2 * time.Minute)
	e.reap()
	if d := e.job(v3.JobID).Delivery; d.Status != domain.DeliveryDropped {
		t.Fatalf("revoked version's delivery %+v, want dropped", d)
	}
	if got := pub.value("ssm:/certctl/test/certs/api"); got != "" {
		t.Fatal("a revoked version was published")
	}
	if n := len(e.rowsBy("api", domain.AuditDeliveryDropped)); n != 1 {
		t.Fatalf("%d delivery_dropped rows", n)
	}
}

// Targets are names under the stage's prefixes (the only names its
// functions may write), and changing them is a profile edit, gated as the
// profile's other edits are.
func TestDeliveryTargetsAreValidatedAndGated(t *testing.T) {
	e, _ := deliveryEnv(t)
	for _, bad := range []domain.DeliveryTargets{
		{SSMParameter: "/other/test/x"},
		{SSMParameter: "/certctl/prod/x"},
		{SSMParameter: "/certctl/test/"},
		{SSMParameter: "/certctl/test//x"},
		{SSMParameter: "/certctl/test/a b"},
		{Secret: "certctl/prod/x"},
		{Secret: "/certctl/test/x"},
		{Secret: "certctl/test/x y"},
		{Secret: "certctl/test/" + strings.Repeat("x", 500)},
	} {
		_, _, err := e.svc.CreateProfile(t.Context(), alice, domain.ProfileInput{ID: "bad", Name: domain.Ptr("bad"), RequiresApproval: domain.Ptr(true),
			AllowedNames: names("*.example.com"), Delivery: &bad})
		wantKind(t, "targets "+bad.SSMParameter+bad.Secret, err, domain.ErrInvalid)
	}
	e.svc.Stage = ""
	_, _, err := e.svc.CreateProfile(t.Context(), alice, domain.ProfileInput{ID: "bad", Name: domain.Ptr("bad"), RequiresApproval: domain.Ptr(true),
		AllowedNames: names("*.example.com"), Delivery: &domain.DeliveryTargets{Secret: "certctl//x"}})
	wantKind(t, "targets without a stage", err, domain.ErrInvalid)
	e.svc.Stage = "test"

	e.gatedProfile("gated", "*.example.com")
	_, pending, err := e.svc.UpdateProfile(t.Context(), alice, "gated", domain.ProfileInput{Delivery: &domain.DeliveryTargets{Secret: "certctl/test/gated"}})
	if err != nil || pending == nil {
		t.Fatalf("a delivery change on a gated profile: %+v %v, want a pending edit", pending, err)
	}
	if e.profile("gated").Delivery != nil {
		t.Fatal("the change applied before its approval")
	}
	e.approve(bob, pending.ApprovalID)
	if p := e.profile("gated"); p.Delivery == nil || p.Delivery.Secret != "certctl/test/gated" {
		t.Fatalf("approved delivery change: %+v", p.Delivery)
	}
	// {} clears the targets.
	p := e.editProfile("gated", domain.ProfileInput{Delivery: &domain.DeliveryTargets{}})
	if p.Delivery != nil {
		t.Fatalf("cleared targets: %+v", p.Delivery)
	}
}
