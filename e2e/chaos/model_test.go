package chaos

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/e2e/invariants"
	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// TestModel drives random sequences of what people do, by random actors,
// over a few shared DNS zones so that profiles overlap: profile creates,
// edits and deletes (gated or not, widening or narrowing), certificate
// creates and renewals with new keys, decisions by anyone, sweeps and
// reaper runs. Afterwards, at rest, every invariant must hold; in
// particular every issued certificate is exactly its approved subject, and
// no certificate was issued without approval for a name an approval-tier
// profile governed.
//
//	MODEL_STEPS    operations per run (default 200)
//	MODEL_SECONDS  run sequences for this long instead
//	MODEL_SEED     the seed (default 7)
func TestModel(t *testing.T) {
	steps := envInt("MODEL_STEPS", 200)
	seconds := envInt("MODEL_SECONDS", 0)
	seed := uint64(7)
	if v, err := strconv.ParseUint(os.Getenv("MODEL_SEED"), 10, 64); err == nil {
		seed = v
	} else if seconds > 0 {
		seed = uint64(time.Now().UnixNano())
	}
	ctx := context.Background()
	sys, err := startSystem(ctx, seed, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.stack.Close()
	for _, who := range []struct{ name, role string }{{"dana", "approver"}, {"erin", "operator"}} {
		r := sys.call(ctx, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": who.name, "roles": []string{who.role}})
		if r.Status != http.StatusCreated {
			t.Fatalf("key for %s: %d %s", who.name, r.Status, r.Raw)
		}
		sys.keys[who.name] = r.str("secret")
	}
	m := &model{sys: sys, rng: rand.New(rand.NewPCG(seed, seed^1)), run: randomID("m")}
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	done := 0
	for (seconds == 0 && done < steps) || (seconds > 0 && time.Now().Before(deadline)) {
		m.step(ctx)
		done++
	}
	t.Logf("model: seed %d, %d operations, %d profiles, %d certificates; outcomes: %v", seed, done, len(m.profiles), len(m.certs), m.outcomes)
	for _, p := range m.problems {
		t.Errorf("api: %s", p)
	}
	found, _ := drain(ctx, t, sys)
	for _, v := range found {
		t.Errorf("violation: %s", v)
	}
	snap, err := invariants.Take(ctx, sys.source())
	if err != nil {
		t.Fatal(err)
	}
	issued := len(snap.Versions)
	t.Logf("model: %d certificates issued, %d invariant violations", issued, len(found))
	if issued == 0 {
		t.Error("the model issued nothing: its operations do not reach issuance")
	}
}

// model holds what the run created and a seeded generator.
type model struct {
	sys      *system
	rng      *rand.Rand
	run      string
	profiles []string
	certs    []string
	outcomes map[string]int
	problems []string
}

var operators = []string{"alice", "bob", "erin", "admin"}
var deciders = []string{"alice", "bob", "dana", "admin", "carol", "quinn"}

func (m *model) pick(list []string) string { return list[m.rng.IntN(len(list))] }

// zones are few and shared, so profiles overlap and govern each other's names.
func (m *model) zone() string { return fmt.Sprintf("z%d.%s.example.com", m.rng.IntN(3), m.run) }

func (m *model) pattern() string {
	z := m.zone()
	switch m.rng.IntN(3) {
	case 0:
		return fmt.Sprintf("h%d.%s", m.rng.IntN(3), z)
	case 1:
		return "*." + z
	}
	return "**." + z
}

func (m *model) name() string {
	z := m.zone()
	switch m.rng.IntN(4) {
	case 0:
		return "*." + z
	case 1:
		return fmt.Sprintf("a.h%d.%s", m.rng.IntN(3), z)
	}
	return fmt.Sprintf("h%d.%s", m.rng.IntN(3), z)
}

func (m *model) note(status int) {
	if m.outcomes == nil {
		m.outcomes = map[string]int{}
	}
	m.outcomes[strconv.Itoa(status)]++
}

// expect records the answer and flags any the API must never give without
// faults: a 5xx, or a 400 for a request built to be well-formed.
func (m *model) expect(what string, r reply) reply {
	m.note(r.Status)
	if r.Status >= 500 || r.Status == 0 {
		m.problems = append(m.problems, fmt.Sprintf("%s: %d %s", what, r.Status, trim(r.Raw)))
	}
	return r
}

func (m *model) step(ctx context.Context) {
	switch op := m.rng.IntN(12); {
	case op < 2 || len(m.profiles) == 0:
		m.createProfile(ctx)
	case op == 2:
		m.editProfile(ctx)
	case op == 3:
		p := m.pick(m.profiles)
		m.expect("delete profile", m.sys.call(ctx, m.pick(operators), "DELETE", "/api/v1/profiles/"+p, nil))
	case op < 6 || len(m.certs) == 0:
		m.createCert(ctx)
	case op == 6:
		m.renew(ctx)
	case op < 10:
		m.decide(ctx)
	case op == 10:
		_, _ = m.sys.stack.Invoke(ctx, app.FnSweep, map[string]string{"source": "model"})
	default:
		_, _ = m.sys.stack.Invoke(ctx, app.FnReaper, map[string]string{"source": "model"})
	}
}

func (m *model) profileBody() map[string]any {
	names := []string{m.pattern()}
	for m.rng.IntN(2) == 0 && len(names) < 4 {
		names = append(names, m.pattern())
	}
	body := map[string]any{"name": "model", "allowed_names": names, "requires_approval": m.rng.IntN(2) == 0}
	if m.rng.IntN(2) == 0 {
		body["max_validity_seconds"] = []int{3600 * 2, 86400, 90 * 86400}[m.rng.IntN(3)]
		body["renew_before_seconds"] = 3600
	}
	if m.rng.IntN(3) == 0 {
		body["allowed_key_algorithms"] = [][]string{{"ECDSA_P256"}, {"RSA_2048"}, {"ECDSA_P256", "RSA_2048", "ECDSA_P384"}}[m.rng.IntN(3)]
	}
	if m.rng.IntN(4) == 0 {
		body["required_approvals"] = 2 // a quorum: two votes by any approvers
	}
	return body
}

func (m *model) createProfile(ctx context.Context) {
	id := randomID("mp")
	body := m.profileBody()
	body["id"] = id
	r := m.expect("create profile", m.sys.call(ctx, m.pick(operators), "POST", "/api/v1/profiles", body))
	if r.Status == http.StatusCreated || r.Status == http.StatusAccepted {
		m.profiles = append(m.profiles, id)
	}
}

func (m *model) editProfile(ctx context.Context) {
	p := m.pick(m.profiles)
	body := m.profileBody()
	for _, k := range []string{"name", "allowed_names", "requires_approval", "max_validity_seconds", "renew_before_seconds", "allowed_key_algorithms", "required_approvals"} {
		if m.rng.IntN(2) == 0 {
			delete(body, k)
		}
	}
	if len(body) == 0 {
		body["name"] = "renamed"
	}
	m.expect("edit profile", m.sys.call(ctx, m.pick(operators), "PUT", "/api/v1/profiles/"+p, body))
}

// csrFor makes a CSR for names with a key of a random algorithm.
func (m *model) csrFor(cn string, names []string) string {
	var key crypto.Signer
	switch m.rng.IntN(3) {
	case 0:
		key, _ = ecdsa.GenerateKey(elliptic.P384(), crand.Reader)
	case 1:
		key, _ = rsa.GenerateKey(crand.Reader, 2048)
	default:
		key, _ = ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	}
	der, err := x509.CreateCertificateRequest(crand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: names}, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func (m *model) createCert(ctx context.Context) {
	id := randomID("mc")
	cn := m.name()
	names := []string{cn}
	if m.rng.IntN(2) == 0 {
		names = append(names, m.name())
	}
	body := map[string]any{"id": id, "common_name": cn, "sans": names[1:], "profile_id": m.pick(m.profiles), "csr": m.csrFor(cn, names)}
	r := m.expect("create certificate", m.sys.call(ctx, m.pick(operators), "POST", "/api/v1/certificates", body))
	if r.Status == http.StatusCreated {
		m.certs = append(m.certs, id)
	}
}

func (m *model) renew(ctx context.Context) {
	id := m.pick(m.certs)
	var body any
	if m.rng.IntN(2) == 0 {
		c, err := m.sys.store.GetCertificate(ctx, id)
		if err == nil {
			body = map[string]string{"csr": m.csrFor(c.CommonName, append([]string{c.CommonName}, c.SANs...))} // a new key
		}
	}
	m.expect("renew", m.sys.call(ctx, m.pick(operators), "POST", "/api/v1/certificates/"+id+"/renew", body))
}

func (m *model) decide(ctx context.Context) {
	pending, _, err := m.sys.store.ListApprovals(ctx, domain.ApprovalFilter{State: string(domain.ApprovalPending)}, domain.PageRequest{Limit: 20})
	if err != nil || len(pending) == 0 {
		return
	}
	a := pending[m.rng.IntN(len(pending))]
	who, action := m.pick(deciders), "approve"
	body := map[string]string{}
	if m.rng.IntN(3) == 0 {
		action, body["note"] = "reject", "model says no"
	}
	r := m.expect("decide", m.sys.call(ctx, who, "POST", "/api/v1/approvals/"+a.ID+"/"+action, body))
	if r.Status == http.StatusOK && who == a.RequestedBy {
		m.problems = append(m.problems, fmt.Sprintf("%s decided their own request %s", who, a.ID))
	}
}
