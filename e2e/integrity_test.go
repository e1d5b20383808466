package e2e

// What is approved is exactly what is issued, and no single person has a
// way around the gate: each test here failed before its fix.

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// gatedProfile creates an approval-tier profile with the given fields.
func gatedProfile(t *testing.T, fields map[string]any) string {
	t.Helper()
	id := uniq("prof")
	body := map[string]any{"id": id, "name": "Profile " + id, "requires_approval": true, "allowed_names": []string{"**." + zone(id)}}
	for k, v := range fields {
		body[k] = v
	}
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", body)
	return id
}

// editApproved proposes a gated profile edit as alice and has bob approve it.
func editApproved(t *testing.T, profile string, fields map[string]any) {
	t.Helper()
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, fields)
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", map[string]string{"note": "edit"})
}

// leafOf returns the newest issued leaf certificate of a certificate.
func leafOf(t *testing.T, certID string) *x509.Certificate {
	t.Helper()
	v := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID+"/versions", nil)
	data := v.Body["data"].([]any)
	if len(data) == 0 {
		t.Fatalf("certificate %s has no version", certID)
	}
	block, _ := pem.Decode([]byte(data[0].(map[string]any)["pem_chain"].(string)))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// The approver approves a subject; the certificate is that subject, even
// when the profile's maximum grew since; when the maximum shrank, the
// stricter lifetime wins.
func TestIssuedIsWhatWasApproved(t *testing.T) {
	profile := gatedProfile(t, map[string]any{"max_validity_seconds": 86400, "renew_before_seconds": 3600})
	created := newCert(t, "alice", profile)
	approval := must(t, http.StatusOK, "bob", "GET", "/api/v1/approvals/"+created.str("approval_id"), nil)
	subject := approval.Body["subject"].(map[string]any)
	cn := created.Body["certificate"].(map[string]any)["common_name"].(string)
	names := []string{}
	for _, n := range subject["dns_names"].([]any) {
		names = append(names, n.(string))
	}
	if subject["validity_seconds"] != float64(86400) || !slices.Contains(names, cn) || subject["public_key_sha256"] == "" {
		t.Fatalf("the approver must see the validity, every name (the common name included) and the key: %v", subject)
	}
	// An unrelated edit raises the maximum to 398 days before the decision.
	editApproved(t, profile, map[string]any{"max_validity_seconds": 398 * 86400})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	waitJob(t, created.str("job_id"), "Completed")
	leaf := leafOf(t, certID(created))
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != 86400*time.Second {
		t.Fatalf("issued for %s, approved for 24h0m0s", got)
	}
	slices.Sort(leaf.DNSNames)
	if !slices.Equal(leaf.DNSNames, names) {
		t.Fatalf("issued names %v, approved %v", leaf.DNSNames, names)
	}

	// Policy tightens between approval and issuance: the stricter lifetime.
	second := newCert(t, "alice", profile)
	editApproved(t, profile, map[string]any{"max_validity_seconds": 7200, "renew_before_seconds": 3600})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+second.str("approval_id")+"/approve", nil)
	waitJob(t, second.str("job_id"), "Completed")
	if l := leafOf(t, certID(second)); l.NotAfter.Sub(l.NotBefore) != 2*time.Hour {
		t.Fatalf("issued for %s after the maximum fell to 2h", l.NotAfter.Sub(l.NotBefore))
	}

	// A key algorithm withdrawn after approval: refused, not issued.
	third := newCert(t, "alice", profile)
	editApproved(t, profile, map[string]any{"allowed_key_algorithms": []string{"RSA_2048"}})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+third.str("approval_id")+"/approve", nil)
	j := waitJob(t, third.str("job_id"), "Failed")
	if !strings.Contains(j.str("error"), "issuance refused") || !strings.Contains(j.str("error"), "ECDSA_P256 is not allowed") {
		t.Fatalf("job: %s", j.Raw)
	}
	if n := versionCount(t, certID(third)); n != 0 {
		t.Fatalf("%d versions issued under a withdrawn key algorithm", n)
	}
	// A refusal is an outcome of policy, not a failure of the workflow: the
	// execution ends normally, so the failed-executions alarm stays quiet.
	waitExecution(t, third.str("job_id"), sfntypes.ExecutionStatusSucceeded)
}

// ungatedProfile creates (through bob's approval) a profile that needs no
// approval and may issue under the given patterns.
func ungatedProfile(t *testing.T, names ...string) string {
	t.Helper()
	id := uniq("prof")
	r := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/profiles", map[string]any{"id": id, "name": "ungated", "allowed_names": names})
	must(t, http.StatusNotFound, "carol", "GET", "/api/v1/profiles/"+id, nil) // nothing exists before the decision
	must(t, http.StatusForbidden, "alice", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	return id
}

func certOn(t *testing.T, profile, cn string) response {
	t.Helper()
	return call(t, "alice", "POST", "/api/v1/certificates", map[string]any{"common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn)})
}

// No one alone reaches a certificate that policy says needs approval: not
// by creating a profile that needs none, not by widening one, and not by
// issuing a name an approval-tier profile governs under one that needs none.
func TestNoSinglePersonPathAroundTheGate(t *testing.T) {
	governing := gatedProfile(t, nil)
	other := uniq("free") + ".example.net"
	loose := ungatedProfile(t, "**."+zone(governing), "**."+other)
	for _, cn := range []string{"x." + zone(governing), "*." + zone(governing), "a.b." + zone(governing)} {
		r := certOn(t, loose, cn)
		if r.Status != http.StatusConflict || !strings.Contains(r.str("message"), "governed by an approval-tier profile") {
			t.Fatalf("%s under a profile that needs no approval: %d %s", cn, r.Status, r.Raw)
		}
	}
	if r := certOn(t, loose, "web."+other); r.Status != http.StatusCreated {
		t.Fatalf("an ungoverned name: %d %s", r.Status, r.Raw)
	}
	// A wildcard is valid for every name one label under it: *.z needs
	// approval once any exact name under z is governed.
	wild := uniq("wild") + ".example.net"
	wildOnly := ungatedProfile(t, "*."+wild)
	if r := certOn(t, wildOnly, "*."+wild); r.Status != http.StatusCreated {
		t.Fatalf("a wildcard with nothing governed under it: %d %s", r.Status, r.Raw)
	}
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": uniq("prof"), "name": "governs one name", "requires_approval": true, "allowed_names": []string{"www." + wild}})
	if r := certOn(t, wildOnly, "*."+wild); r.Status != http.StatusConflict || !strings.Contains(r.str("message"), "www."+wild) {
		t.Fatalf("a wildcard over a governed name under a profile that needs no approval: %d %s", r.Status, r.Raw)
	}
	// Widening needs a second person; narrowing does not.
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+loose, map[string]any{"allowed_names": []string{"**." + other, "**.example.org"}})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/reject", map[string]string{"note": "no"})
	must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+loose, map[string]any{"max_validity_seconds": 398 * 86400})
}

// A name that becomes governed after a certificate that needs no approval
// was issued for it cannot be renewed without approval.
func TestGovernanceAppliesToRenewals(t *testing.T) {
	host := uniq("later") + ".example.org"
	loose := ungatedProfile(t, "**."+host)
	created := certOn(t, loose, "www."+host)
	if created.Status != http.StatusCreated {
		t.Fatalf("create: %s", created.Raw)
	}
	waitJob(t, created.str("job_id"), "Completed")
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": uniq("prof"), "name": "now governed", "requires_approval": true, "allowed_names": []string{"**." + host}})
	r := must(t, http.StatusConflict, "alice", "POST", "/api/v1/certificates/"+certID(created)+"/renew", nil)
	if !strings.Contains(r.str("message"), "governed") {
		t.Fatalf("renewal of a now-governed name: %s", r.Raw)
	}
}

// governanceRace is a store on which an approval-tier profile governing the
// job's names is created right after the workflow found them ungoverned.
type governanceRace struct {
	workflow.RequestPort
	race func()
}

func (s governanceRace) ReadGovernance(ctx context.Context, patterns []domain.NamePattern, zones []string) (*workflow.Governance, error) {
	g, err := s.RequestPort.ReadGovernance(ctx, patterns, zones)
	if s.race != nil && len(patterns) > 0 {
		s.race()
	}
	return g, err
}

// The check is part of the write: governance that changes between the
// read and the write refuses the write.
func TestGovernanceIsCheckedInsideTheWrite(t *testing.T) {
	embeddedOnly(t)
	host := uniq("race") + ".example.org"
	loose := ungatedProfile(t, "**."+host)
	svc := serviceOf()
	var once bool
	svc.Requests = governanceRace{RequestPort: svc.Requests, race: func() {
		if !once {
			once = true
			must(t, http.StatusCreated, "admin", "POST", "/api/v1/profiles", map[string]any{
				"id": uniq("prof"), "name": "racing", "requires_approval": true, "allowed_names": []string{"**." + host}})
		}
	}}
	alice := domain.Actor{ID: "alice", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleOperator}}
	cn := "www." + host
	_, err := svc.CreateCertificate(context.Background(), alice, domain.CertificateInput{ID: uniq("mc"), CommonName: cn, ProfileID: loose, CSR: newCSR(t, cn, cn)})
	if err == nil || !strings.Contains(err.Error(), "governance changed") {
		t.Fatalf("create with governance changed under it: %v", err)
	}
}

// A gated delete approved after a certificate started using the profile
// is refused: the certificate is never orphaned.
func TestApprovedDeleteNeverOrphansACertificate(t *testing.T) {
	profile := newProfile(t, true)
	r := must(t, http.StatusAccepted, "alice", "DELETE", "/api/v1/profiles/"+profile, nil)
	created := newCert(t, "alice", profile)
	res := must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	if !strings.Contains(res.str("message"), "used by 1 certificates") {
		t.Fatalf("approving the stale delete: %s", res.Raw)
	}
	p := profileOf(t, profile)
	if p.Body["certificate_count"] != float64(1) {
		t.Fatalf("profile: %s", p.Raw)
	}
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	waitJob(t, created.str("job_id"), "Completed")
}

// Keys and roles: roles only for a principal named explicitly, a role set
// only when given, never a system name, and the last admin stays admin.
func TestKeysAndRolesCannotBeTurnedAgainstTheGate(t *testing.T) {
	r := must(t, http.StatusBadRequest, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": "", "roles": []string{"viewer"}})
	if !strings.Contains(r.str("message"), "principal is required") {
		t.Fatalf("roles for an unnamed principal: %s", r.Raw)
	}
	r = must(t, http.StatusBadRequest, "admin", "PUT", "/api/v1/principals/"+uniq("p"), map[string]any{})
	if !strings.Contains(r.str("message"), "roles is required") {
		t.Fatalf("an empty role change: %s", r.Raw)
	}
	for _, name := range []string{domain.SystemBypass, domain.SystemReaper, domain.SystemScheduler, "system-anything", "bootstrap"} {
		must(t, http.StatusBadRequest, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": name, "roles": []string{"viewer"}})
		must(t, http.StatusBadRequest, "admin", "PUT", "/api/v1/principals/"+name, map[string]any{"roles": []string{"viewer"}})
	}
	// On a stack of its own, so no other test's admins count.
	tg := startTarget(t, func(*config.Config) {})
	r = tg.must(t, http.StatusConflict, "admin", "PUT", "/api/v1/principals/admin", map[string]any{"roles": []string{"viewer"}})
	if !strings.Contains(r.str("message"), "last admin") {
		t.Fatalf("demoting the last admin: %s", r.Raw)
	}
	tg.must(t, http.StatusConflict, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": "admin", "roles": []string{"approver"}})
	tg.must(t, http.StatusOK, "admin", "PUT", "/api/v1/principals/root2", map[string]any{"roles": []string{"admin"}})
	tg.must(t, http.StatusOK, "admin", "PUT", "/api/v1/principals/admin", map[string]any{"roles": []string{"viewer"}})
}

// Input the API used to take leniently: each is a clear 400 (415 for the
// media type) now, and nothing is stored.
func TestLenientInputIsRefused(t *testing.T) {
	profile := newProfile(t, true)
	cases := []struct {
		method, path string
		body         any
		want         int
		says         string
	}{
		{"POST", "/api/v1/profiles", map[string]any{"name": "x", "allowed_names": []string{"a.example.com"}, "issuer_id": "nope"}, 400, "issuer \"nope\" does not exist"},
		{"POST", "/api/v1/profiles", map[string]any{"name": "x", "allowed_names": []string{"a.example.com"}, "requires_approval": true, "max_validity_seconds": 0}, 400, "max_validity_seconds"},
		{"POST", "/api/v1/profiles", map[string]any{"name": "x", "allowed_names": []string{"a.example.com"}, "requires_approval": true, "approvers": map[string]any{"roles": []string{"viewer"}}}, 400, "cannot decide"},
		{"POST", "/api/v1/profiles", map[string]any{"name": "x", "allowed_names": []string{"a.example.com"}, "requires_approval": true, "approvers": map[string]any{"principals": []string{"nobody-" + uniq("x")}}}, 400, "does not exist"},
		{"POST", "/api/v1/profiles", `{"name":"x","name":"y","allowed_names":["a.example.com"]}`, 400, "more than once"},
		{"POST", "/api/v1/profiles", `{"Name":"x","allowed_names":["a.example.com"]}`, 400, "unknown field \"Name\""},
		{"POST", "/api/v1/profiles", map[string]any{"name": "x\u001b[2J", "allowed_names": []string{"a.example.com"}}, 400, "control character"},
		{"POST", "/api/v1/profiles", map[string]any{"name": "x", "allowed_names": []string{"**"}}, 400, "allowed_names[0]"},
		{"GET", "/api/v1/certificates?status=bogus", nil, 400, "status must be one of"},
		{"GET", "/api/v1/certificates?stat=Active", nil, 400, "unknown query parameter"},
		{"GET", "/api/v1/audit?action=bogus", nil, 400, "action must be one of"},
		{"GET", "/api/v1/jobs?status=bogus", nil, 400, "status must be one of"},
	}
	for _, tc := range cases {
		who := "alice"
		if strings.Contains(tc.path, "audit") {
			who = "admin"
		}
		r := call(t, who, tc.method, tc.path, tc.body)
		if r.Status != tc.want || !strings.Contains(r.str("message"), tc.says) {
			t.Errorf("%s %s %v: %d %s, want %d saying %q", tc.method, tc.path, tc.body, r.Status, r.Raw, tc.want, tc.says)
		}
	}
	// A body sent as a form is refused whole.
	req, _ := http.NewRequest("POST", baseURL+"/api/v1/approvals/ar-x/approve", strings.NewReader(`{"note":"x"}`))
	req.Header.Set("X-Api-Key", keys["bob"])
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form body: %d, want 415", resp.StatusCode)
	}
	// PUT keeps what it does not name: the approver pool survives a rename.
	must(t, http.StatusOK, "admin", "PUT", "/api/v1/principals/dana", map[string]any{"roles": []string{"approver"}})
	editApproved(t, profile, map[string]any{"approvers": map[string]any{"principals": []string{"dana"}}})
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "renamed"})
	edit := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+r.str("approval_id"), nil)
	diff := edit.Body["profile_edit"].(map[string]any)["diff"].(map[string]any)
	if _, resets := diff["approvers"]; resets || len(diff) != 1 {
		t.Fatalf("a rename must change only the name: %v", diff)
	}
}

// A path with dot segments is refused, never redirected onto another request.
func TestNonCanonicalPathsAreRefused(t *testing.T) {
	a := newCert(t, "alice", newProfile(t, true)).str("approval_id")
	b := newCert(t, "alice", newProfile(t, true)).str("approval_id")
	for _, path := range []string{"/api/v1/approvals/" + a + "/../" + b + "/approve", "/api/v1/approvals/" + a + "%2F..%2F" + b + "/approve", "/api/v1//approvals/" + b + "/approve"} {
		req, _ := http.NewRequest("POST", baseURL+path, strings.NewReader(`{}`))
		req.URL.Opaque = "" // send the path exactly as written
		req.Header.Set("X-Api-Key", keys["bob"])
		req.Header.Set("Content-Type", "application/json")
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", path, resp.StatusCode)
		}
	}
	if s := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+b, nil).str("state"); s != "pending" {
		t.Fatalf("the other request was decided: %s", s)
	}
}

// An admin mints keys, so an admin could act as anyone it minted a key
// for. Whoever minted a principal's key (or controls whoever did) and that
// principal are one person to two-person integrity: neither decides the
// other's requests, checked inside the decision's write.
func TestMintedKeysCannotSplitOnePerson(t *testing.T) {
	tg := target{baseURL, maps.Clone(keys)}
	mint := func(as, principal string, roles ...string) string {
		t.Helper()
		body := map[string]any{"principal": principal}
		if roles != nil {
			body["roles"] = roles
		}
		r := tg.must(t, http.StatusCreated, as, "POST", "/api/v1/apikeys", body)
		tg.keys[principal+" via "+as] = r.str("secret")
		return principal + " via " + as
	}
	u := uniq("u")
	boss := mint("admin", "boss-"+u, "admin")
	peer := mint("admin", "peer-"+u, "approver")
	indep := mint("admin", "indep-"+u, "approver")
	profile := gatedProfile(t, nil)
	request := func(as string) string {
		cn := uniq("mc") + "." + zone(profile)
		return tg.must(t, http.StatusCreated, as, "POST", "/api/v1/certificates", map[string]any{
			"common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn)}).str("approval_id")
	}
	refused := func(what, as, approval string) {
		t.Helper()
		r := tg.must(t, http.StatusForbidden, as, "POST", "/api/v1/approvals/"+approval+"/approve", map[string]string{"note": what})
		if !strings.Contains(r.str("message"), "two-person integrity") {
			t.Fatalf("%s: %s", what, r.Raw)
		}
	}
	ar := request(boss)

	// A key minted for an existing principal makes the minter its controller:
	// that key, and the principal's own key, can no longer decide for the minter.
	asPeer := mint(boss, "peer-"+u)
	refused("the minter's request, with the key it minted for an existing approver", asPeer, ar)
	refused("the minter's request, with the approver's own key", peer, ar)
	// A sock puppet, and one made through a second admin the first one made.
	refused("a principal the requester created", mint(boss, "sock-"+u, "operator", "approver"), ar)
	refused("a principal made by an admin the requester made", mint(mint(boss, "sub-"+u, "admin"), "sock2-"+u, "approver"), ar)
	// The other way round: the puppet requests, its controller approves.
	refused("the controller deciding its puppet's request", boss, request("sock-"+u+" via "+boss))
	// Someone the requester does not control (both minted by admin) decides.
	tg.must(t, http.StatusOK, indep, "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "independent"})
}

// An IP address is named only exactly: a DNS pattern ending in an
// all-digit label (which would stand for addresses governance looks up as
// themselves) is refused.
func TestIPAddressesAreNamedOnlyExactly(t *testing.T) {
	for _, pat := range []string{"**.0.1", "*.0.0.1", "0.0.1"} {
		r := must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/profiles", map[string]any{
			"name": "ip", "requires_approval": true, "allowed_names": []string{pat},
		})
		if !strings.Contains(r.str("message"), "all-digit") {
			t.Errorf("%s: %s", pat, r.Raw)
		}
	}
}

// A page token this list did not return is a 400 that says so, on every
// list, never a 5xx from DynamoDB refusing the start key.
func TestForgedPageTokenIs400(t *testing.T) {
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"pk":"x","sk":"y","list_pk":"NOPE","list_sk":"z"}`))
	junk := base64.RawURLEncoding.EncodeToString([]byte(`{"nope":"x"}`))
	for _, path := range []string{"/api/v1/certificates", "/api/v1/profiles", "/api/v1/jobs", "/api/v1/approvals", "/api/v1/audit", "/api/v1/audit?actor=alice"} {
		for _, tok := range []string{forged, junk} {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			r := must(t, http.StatusBadRequest, "admin", "GET", path+sep+"page_token="+tok, nil)
			if !strings.Contains(r.str("message"), "page_token") {
				t.Errorf("%s: %s", path, r.Raw)
			}
		}
	}
}
