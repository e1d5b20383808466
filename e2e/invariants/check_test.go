package invariants

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func item(kv ...any) Item {
	it := Item{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			it[kv[i].(string)] = &types.AttributeValueMemberS{Value: v}
		case bool:
			it[kv[i].(string)] = &types.AttributeValueMemberBOOL{Value: v}
		case int:
			b, _ := json.Marshal(v)
			it[kv[i].(string)] = &types.AttributeValueMemberN{Value: string(b)}
		}
	}
	return it
}

func audit(action, resource string) Item {
	return item("action", action, "resource_id", resource)
}

// issuedFixture is a CA, a leaf it issued for a.example.com and the
// subject that leaf matches, made once.
var issuedFixture = sync.OnceValues(func() (string, *domain.Subject) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Truncate(time.Second)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: now, NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "a.example.com"},
		DNSNames: []string{"a.example.com"}, NotBefore: now, NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, leafKey.Public(), caKey)
	leaf, _ := x509.ParseCertificate(leafDER)
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	chain := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	return chain, &domain.Subject{CommonName: "a.example.com", DNSNames: []string{"a.example.com"}, IPAddresses: []string{},
		KeyAlgorithm: "ECDSA_P256", PublicKeySHA256: hex.EncodeToString(sum[:]), ValiditySeconds: 3600, IssuerID: "default",
		KeyUsage: []string{"digitalSignature"}, ExtKeyUsage: []string{"serverAuth"}, ProfileID: "p", ProfileVersion: 1}
})

func withSubject(it Item, s *domain.Subject) Item {
	av, err := attributevalue.MarshalWithOptions(s, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
	if err != nil {
		panic(err)
	}
	it["subject"] = av
	return it
}

// linked is the chain the store would have written for rows: each linked
// into its resource's shard, and the shards' heads.
func linked(rows []Item) []domain.AuditChainRow {
	heads := map[string]auditchain.Head{}
	var out []domain.AuditChainRow
	for i, r := range rows {
		attrs := map[string]string{"pk": "AUDIT#" + r.S("resource_id"), "sk": fmt.Sprintf("2026-01-01T00:00:%02dZ#%d", i, i),
			"action": r.S("action"), "resource_id": r.S("resource_id")}
		shard := auditchain.ShardOf(r.S("resource_id"))
		h := heads[shard]
		if h.Hash == "" {
			h = auditchain.Head{Shard: shard, Hash: auditchain.ZeroHash}
		}
		hash, err := auditchain.Link(attrs, shard, h.Seq+1, h.Hash)
		if err != nil {
			panic(err)
		}
		h.Seq, h.Hash = h.Seq+1, hash
		heads[shard] = h
		out = append(out, domain.AuditChainRow{Attributes: attrs})
	}
	for _, h := range heads {
		out = append(out, domain.AuditChainRow{Attributes: map[string]string{"pk": auditchain.HeadPK, "sk": auditchain.HeadSK(h.Shard),
			"shard": h.Shard, "seq": auditchain.FormatSeq(h.Seq), "hash": h.Hash}})
	}
	return out
}

// av renders a Go value as an attribute value (maps as M, slices as L).
func av(v any) types.AttributeValue {
	out, err := attributevalue.Marshal(v)
	if err != nil {
		panic(err)
	}
	return out
}

const decidedAt = "2030-01-01T00:00:00Z"

// withQuorum gives approval a a policy of one factor of count and votes
// by voters, the last one at the decision.
func withQuorum(s *Snapshot, count int, voters ...string) {
	a := s.Approvals["a"]
	a["approval_policy"] = av([]map[string]any{{"name": "approvers", "count": count}})
	var votes []map[string]any
	s.Audit = slices.DeleteFunc(s.Audit, func(r Item) bool { return r.S("action") == "approval_vote" })
	for i, who := range voters {
		at := "2029-12-31T00:00:0" + fmt.Sprint(i) + "Z"
		if i == len(voters)-1 {
			at = decidedAt
		}
		votes = append(votes, map[string]any{"actor": who, "actor_type": "User", "at": at, "eligible": []string{"approvers"}})
		s.Audit = append(s.Audit, item("action", "approval_vote", "resource_id", "a", "actor", who))
	}
	a["votes"] = av(votes)
	s.Chain = linked(s.Audit) // the vote rows are chained like every other
}

// healthy is one gated certificate, approved (by two votes) and issued, at rest.
func healthy() *Snapshot {
	s := healthyOneVote()
	withQuorum(s, 2, "carol", "bob")
	return s
}

func healthyOneVote() *Snapshot {
	chain, subject := issuedFixture()
	rows := []Item{audit("certificate.created", "c"), audit("renewal_triggered", "j"), audit("approval_requested", "a"),
		audit("approval_approved", "a"), audit("renewal_job_completed", "j")}
	return &Snapshot{
		Profiles: map[string]Item{"p": item("id", "p", "certificate_count", 1)},
		Certs:    map[string]Item{"c": item("id", "c", "profile_id", "p", "status", "Active", "renew_at", "2030", "due_pk", "DUE")},
		Jobs: map[string]Item{"j": withSubject(item("id", "j", "certificate_id", "c", "status", "Completed",
			"requires_approval", true, "approval_id", "a"), subject)},
		Approvals: map[string]Item{"a": withSubject(item("id", "a", "kind", "cert_issuance", "state", "approved", "job_id", "j",
			"certificate_id", "c", "profile_id", "p", "requested_by", "alice", "decided_by", "bob", "decided_at", decidedAt), subject)},
		Versions:   []Item{item("certificate_id", "c", "job_id", "j", "pem_chain", chain, "serial_number", "02")},
		Metrics:    map[string]Item{"cert_issuance#approved#p": item("outcome", "approved", "profile_id", "p", "count", 1, "b_60", 1)},
		Audit:      rows,
		Chain:      linked(rows),
		Executions: map[string]string{"j": "SUCCEEDED"},
	}
}

func rules(vs []Violation) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return strings.Join(out, ",")
}

func TestHealthySnapshotPasses(t *testing.T) {
	if vs := Check(healthy(), Scope{}, Options{Quiescent: true}); len(vs) != 0 {
		t.Fatalf("violations in a healthy snapshot: %v", vs)
	}
}

// Each breakage is found, under the rule that names it.
func TestEachRuleFires(t *testing.T) {
	cases := map[string]func(s *Snapshot){
		"two-person":                func(s *Snapshot) { s.Approvals["a"]["decided_by"] = item("x", "alice")["x"] },
		"decision-fields":           func(s *Snapshot) { delete(s.Approvals["a"], "decided_at") },
		"approval-job":              func(s *Snapshot) { s.Jobs["j"]["status"] = item("x", "Cancelled")["x"] },
		"never-issued-after-denial": func(s *Snapshot) { s.Approvals["a"]["state"] = item("x", "rejected")["x"] },
		"issued-only-approved": func(s *Snapshot) {
			s.Approvals["a"]["state"] = item("x", "pending")["x"]
			delete(s.Approvals["a"], "decided_by")
			delete(s.Approvals["a"], "decided_at")
		},
		"one-version-per-job":  func(s *Snapshot) { s.Versions = append(s.Versions, item("certificate_id", "c", "job_id", "j")) },
		"current-job-released": func(s *Snapshot) { s.Certs["c"]["current_job_id"] = item("x", "j")["x"] },
		"due-index":            func(s *Snapshot) { delete(s.Certs["c"], "due_pk") },
		"audit-one-to-one":     func(s *Snapshot) { s.Audit = append(s.Audit, audit("approval_approved", "a")) },
		"metrics":              func(s *Snapshot) { s.Metrics["cert_issuance#approved#p"]["count"] = item("x", 2)["x"] },
		"in-flight-has-execution": func(s *Snapshot) {
			s.Jobs["j"]["status"] = item("x", "Pending")["x"]
			s.Certs["c"]["current_job_id"] = item("x", "j")["x"]
			s.Versions = nil
			s.Audit = s.Audit[:4]
		},
		"execution-ends": func(s *Snapshot) { s.Executions["j"] = "RUNNING" },
		// A row edited in the table, and one written around the chain.
		"audit-chain": func(s *Snapshot) { s.Chain[1].Attributes["action"] = "approval_approved" },
		"audit-chain/inserted": func(s *Snapshot) {
			s.Chain = append(s.Chain, domain.AuditChainRow{Attributes: map[string]string{"pk": "AUDIT#a", "sk": "x", "action": "approval_approved"}})
		},
		// Votes: the requester's, one actor's twice, one after the
		// decision, one for a factor the policy lacks or whose pool does
		// not name the voter.
		"vote-requester": func(s *Snapshot) { withQuorum(s, 3, "carol", "alice", "bob") },
		"vote-twice":     func(s *Snapshot) { withQuorum(s, 3, "carol", "carol", "bob") },
		"vote-after-decision": func(s *Snapshot) {
			withQuorum(s, 2, "carol", "bob")
			s.Approvals["a"]["decided_at"] = item("x", "2029-01-01T00:00:00Z")["x"]
		},
		"vote-eligibility": func(s *Snapshot) {
			s.Approvals["a"]["approval_policy"] = av([]map[string]any{{"name": "approvers", "count": 2, "approvers": map[string]any{"principals": []string{"bob", "dana"}}}})
		},
		// Approved with fewer votes than the policy needs; a vote that
		// counts toward nothing; pending with a satisfied policy; approved
		// by someone other than the last vote.
		"quorum": func(s *Snapshot) { withQuorum(s, 3, "carol", "bob") },
		// A move between gates: a vote the source's policy does not admit;
		// votes that satisfy the target's policy but not the source's.
		"vote-eligibility/source": func(s *Snapshot) {
			s.Approvals["a"]["move"] = av(map[string]any{"from_policy": []map[string]any{{"name": "approvers", "count": 1}}})
		},
		"quorum/source": func(s *Snapshot) {
			a := s.Approvals["a"]
			a["move"] = av(map[string]any{"from_policy": []map[string]any{{"name": "approvers", "count": 3}}})
			var votes []map[string]any
			for _, v := range a.Items("votes") {
				votes = append(votes, map[string]any{"actor": v.S("actor"), "actor_type": "User", "at": v.S("at"), "eligible": []string{"approvers", "from:approvers"}})
			}
			a["votes"] = av(votes)
		},
		"one-in-flight": func(s *Snapshot) {
			s.Jobs["k"] = item("id", "k", "certificate_id", "c", "status", "Pending", "pending_pk", "START")
			s.Jobs["l"] = item("id", "l", "certificate_id", "c", "status", "Pending", "pending_pk", "START")
			s.Audit = append(s.Audit, audit("renewal_triggered", "k"), audit("renewal_triggered", "l"))
		},
		"start-queue": func(s *Snapshot) { s.Jobs["j"]["pending_pk"] = item("x", "START")["x"] },
		// The approver saw a shorter validity than the job issued.
		"issued-equals-approved": func(s *Snapshot) {
			_, subject := issuedFixture()
			shorter := *subject
			shorter.ValiditySeconds = 600
			withSubject(s.Jobs["j"], &shorter)
			withSubject(s.Approvals["a"], &shorter)
		},
		// Issued without approval while an approval-tier profile governed the name.
		"governed-names-need-approval": func(s *Snapshot) {
			s.Jobs["j"]["requires_approval"] = item("x", false)["x"]
			delete(s.Jobs["j"], "approval_id")
			delete(s.Approvals, "a")
			s.Audit = s.Audit[:2]
			s.Audit = append(s.Audit, audit("renewal_job_completed", "j"), item("action", "profile.created", "resource_id", "g",
				"details", `{"governance":{"version":1,"added":["**.example.com"]}}`))
			s.Versions[0]["governance_version"] = item("x", 1)["x"]
			delete(s.Metrics, "cert_issuance#approved#p")
		},
	}
	// Revocation: a revoked certificate, its CRL entry and a CRL listing it.
	revoked := func(s *Snapshot) {
		s.Certs["c"]["status"] = item("x", "Revoked")["x"]
		s.Certs["c"]["revoked_at"] = item("x", "2026-01-01T00:00:00Z")["x"]
		delete(s.Certs["c"], "due_pk")
		s.Versions[0]["issued_at"] = item("x", "2025-12-31T00:00:00Z")["x"]
		s.Versions[0]["revoked_at"] = item("x", "2026-01-01T00:00:00Z")["x"]
		s.Versions[0]["not_after"] = item("x", "2099-01-01T00:00:00Z")["x"]
		s.Entries = []Item{item("issuer_id", "default", "serial_number", "02", "certificate_id", "c", "not_after", "2099-01-01T00:00:00Z")}
		s.Audit = append(s.Audit, item("action", "certificate.revoked", "resource_id", "c", "details", `{"serials":["02"]}`))
	}
	cases["revoked-no-new-version"] = func(s *Snapshot) {
		revoked(s)
		s.Versions[0]["issued_at"] = item("x", "2026-01-02T00:00:00Z")["x"]
	}
	cases["due-index/retired"] = func(s *Snapshot) { revoked(s); s.Certs["c"]["due_pk"] = item("x", "DUE")["x"] }
	cases["revocation-recorded"] = func(s *Snapshot) { revoked(s); s.Entries = nil }
	cases["crl-numbers-increase"] = func(s *Snapshot) {
		s.CRLs = map[string]Item{"default": item("number", 2)}
		s.Audit = append(s.Audit, item("action", "crl.published", "resource_id", "default", "sk", "2026-01-01T00:00:00.000000000Z#A", "details", `{"number":2}`),
			item("action", "crl.published", "resource_id", "default", "sk", "2026-01-02T00:00:00.000000000Z#B", "details", `{"number":1}`))
	}
	cases["crl-covers-revoked"] = func(s *Snapshot) {
		revoked(s)
		s.CRLs = map[string]Item{"default": item("number", 1, "revision", 1, "built_revision", 1)}
		s.CRLs["default"]["der"] = &types.AttributeValueMemberB{Value: emptyCRL(1)}
		s.Audit = append(s.Audit, item("action", "crl.published", "resource_id", "default", "sk", "2026-01-01T00:00:00.000000000Z#A", "details", `{"number":1}`))
	}
	cases["lint"] = func(*Snapshot) {} // the fixture's leaf has a two-byte serial and no key identifiers
	cases["profile-count"] = func(s *Snapshot) { s.Profiles["p"]["certificate_count"] = item("x", 2)["x"] }
	cases["move-respects-gate"] = func(s *Snapshot) {
		s.Audit = append(s.Audit, item("action", "certificate.moved", "resource_id", "c", "actor", "alice",
			"details", `{"from":"p","to":"q","from_gated":true,"to_gated":false,"approval_id":""}`))
	}
	cases["move-respects-gate/self"] = func(s *Snapshot) {
		s.Audit = append(s.Audit, item("action", "approval_certificate_move_requested", "resource_id", "m", "actor", "alice"),
			item("action", "approval_approved", "resource_id", "m", "actor", "alice"),
			item("action", "certificate.moved", "resource_id", "c", "actor", "alice", "details", `{"from_gated":true,"approval_id":"m"}`))
	}
	cases["one-pending-move"] = func(s *Snapshot) { s.Certs["c"]["pending_move_approval_id"] = item("x", "a")["x"] }
	cases["move-requests-counted"] = func(s *Snapshot) { s.Certs["c"]["move_requests"] = item("x", 1)["x"] }
	delivery := func(status string) *types.AttributeValueMemberM {
		return &types.AttributeValueMemberM{Value: item("status", status, "attempts", 1)}
	}
	cases["delivery-queued"] = func(s *Snapshot) { s.Jobs["j"]["delivery"] = delivery("retrying") }
	cases["delivery-queued/attempts"] = func(s *Snapshot) {
		s.Jobs["j"]["delivery"] = delivery("pending")
		s.Deliveries = []Item{item("certificate_id", "c", "job_id", "j", "serial_number", "02", "pending_pk", "DELIVERY", "attempts", 0)}
	}
	cases["delivery-audited"] = func(s *Snapshot) { s.Jobs["j"]["delivery"] = delivery("delivered") }
	for rule, breakIt := range cases {
		s := healthy()
		if vs := Check(s, Scope{}, Options{Quiescent: true}); len(vs) != 0 {
			t.Fatalf("violations in a healthy snapshot: %v", vs)
		}
		breakIt(s)
		got := rules(Check(s, Scope{}, Options{Quiescent: true, Lint: rule == "lint"}))
		if rule, _, _ := strings.Cut(rule, "/"); !strings.Contains(","+got+",", ","+rule+",") {
			t.Errorf("%s: not found; found %q", rule, got)
		}
	}
}

// The quorum rule from every side: surplus votes, a satisfied policy on
// a request that is not approved, an approval not made by the last vote,
// a two-factor policy one actor cannot satisfy alone.
func TestQuorumRule(t *testing.T) {
	for name, breakIt := range map[string]func(s *Snapshot){
		"a surplus vote": func(s *Snapshot) { withQuorum(s, 2, "carol", "dana", "bob") },
		"pending although satisfied": func(s *Snapshot) {
			s.Approvals["a"]["state"] = item("x", "pending")["x"]
		},
		"expired although satisfied": func(s *Snapshot) { s.Approvals["a"]["state"] = item("x", "expired")["x"] },
		"decided by someone else":    func(s *Snapshot) { s.Approvals["a"]["decided_by"] = item("x", "dana")["x"] },
		"one actor for two factors": func(s *Snapshot) {
			withQuorum(s, 1, "bob")
			s.Approvals["a"]["approval_policy"] = av([]map[string]any{{"name": "approvers", "count": 1}, {"name": "security", "count": 1}})
			s.Approvals["a"]["votes"] = av([]map[string]any{{"actor": "bob", "actor_type": "User", "at": decidedAt, "eligible": []string{"approvers", "security"}}})
		},
	} {
		s := healthy()
		breakIt(s)
		if got := rules(Check(s, Scope{}, Options{})); !strings.Contains(","+got+",", ",quorum,") {
			t.Errorf("%s: not found; found %q", name, got)
		}
	}
	// A two-factor policy that only a maximum matching sees satisfied:
	// dana may count for either factor, bob for the first only.
	s := healthy()
	s.Approvals["a"]["approval_policy"] = av([]map[string]any{
		{"name": "owners", "count": 1, "approvers": map[string]any{"principals": []string{"dana", "bob"}}},
		{"name": "security", "count": 1, "approvers": map[string]any{"principals": []string{"dana"}}}})
	s.Approvals["a"]["votes"] = av([]map[string]any{
		{"actor": "dana", "actor_type": "User", "at": "2029-12-31T00:00:00Z", "eligible": []string{"owners", "security"}},
		{"actor": "bob", "actor_type": "User", "at": decidedAt, "eligible": []string{"owners"}}})
	s.Audit = slices.DeleteFunc(s.Audit, func(r Item) bool { return r.S("action") == "approval_vote" })
	s.Audit = append(s.Audit, item("action", "approval_vote", "resource_id", "a", "actor", "dana"), item("action", "approval_vote", "resource_id", "a", "actor", "bob"))
	if vs := Check(s, Scope{}, Options{Quiescent: true}); len(vs) != 0 {
		t.Fatalf("a satisfied two-factor policy: %v", vs)
	}
}

// Principals that can act as each other are one person: a puppet's vote
// after its minter's, or a vote by the requester's puppet, is caught.
func TestControllersAreOnePerson(t *testing.T) {
	puppet := func(s *Snapshot, id, minter string) {
		if s.Principals == nil {
			s.Principals = map[string]Item{}
		}
		s.Principals[id] = Item{"id": item("x", id)["x"], "controllers": &types.AttributeValueMemberSS{Value: []string{minter}}}
	}
	for rule, breakIt := range map[string]func(s *Snapshot){
		"vote-twice":     func(s *Snapshot) { puppet(s, "carol", "bob") },
		"vote-requester": func(s *Snapshot) { puppet(s, "carol", "alice") },
	} {
		s := healthy()
		breakIt(s)
		if got := rules(Check(s, Scope{}, Options{})); !strings.Contains(","+got+",", ","+rule+",") {
			t.Errorf("%s: not found; found %q", rule, got)
		}
	}
	s := healthy()
	puppet(s, "carol", "admin") // minted by someone who did not vote
	if vs := Check(s, Scope{}, Options{Quiescent: true}); len(vs) != 0 {
		t.Fatalf("independent voters: %v", vs)
	}
	// bob minted carol's key only after both had voted: not one person then.
	s = healthy()
	puppet(s, "carol", "bob")
	s.Audit = append(s.Audit, item("action", "apikey.created", "resource_id", "key-1", "actor", "bob", "ts", "2030-02-01T00:00:00Z",
		"details", `{"principal":"carol","controllers":["bob"]}`))
	if vs := Check(s, Scope{}, Options{Quiescent: true}); len(vs) != 0 {
		t.Fatalf("a key minted after the votes: %v", vs)
	}
	// ... and before: one person.
	s.Audit[len(s.Audit)-1]["ts"] = item("x", "2029-01-01T00:00:00Z")["x"]
	if got := rules(Check(s, Scope{}, Options{})); !strings.Contains(got, "vote-twice") {
		t.Fatalf("a key minted before the votes: %q", got)
	}
}

// Every vote has its one approval_vote row, under its voter.
func TestVoteRowsAreOneToOne(t *testing.T) {
	for name, breakIt := range map[string]func(s *Snapshot){
		"a missing row": func(s *Snapshot) {
			s.Audit = slices.DeleteFunc(s.Audit, func(r Item) bool { return r.S("action") == "approval_vote" && r.S("actor") == "carol" })
		},
		"a row under someone else": func(s *Snapshot) {
			for _, r := range s.Audit {
				if r.S("action") == "approval_vote" && r.S("actor") == "carol" {
					r["actor"] = item("x", "dana")["x"]
				}
			}
		},
	} {
		s := healthy()
		breakIt(s)
		if got := rules(Check(s, Scope{}, Options{})); !strings.Contains(","+got+",", ",audit-one-to-one,") {
			t.Errorf("%s: not found; found %q", name, got)
		}
	}
}

// A scope leaves other scenarios' objects alone.
func TestScope(t *testing.T) {
	s := healthy()
	s.Approvals["a"]["decided_by"] = item("x", "alice")["x"]
	if vs := Check(s, Scope{Certs: map[string]bool{"other": true}, Profiles: map[string]bool{"q": true}}, Options{}); len(vs) != 0 {
		t.Fatalf("out-of-scope violations reported: %v", vs)
	}
}

// A wildcard issued without approval while a name one label under it was
// governed breaks the rule too: the certificate is valid for that name.
func TestWildcardOverAGovernedName(t *testing.T) {
	s := healthy()
	_, subject := issuedFixture()
	wild := *subject
	wild.CommonName, wild.DNSNames = "*.example.com", []string{"*.example.com"}
	withSubject(s.Jobs["j"], &wild)
	s.Jobs["j"]["requires_approval"] = item("x", false)["x"]
	delete(s.Jobs["j"], "approval_id")
	delete(s.Approvals, "a")
	s.Audit = append(s.Audit[:2], audit("renewal_job_completed", "j"), item("action", "profile.created", "resource_id", "g",
		"details", `{"governance":{"version":1,"added":["www.example.com"]}}`))
	s.Versions[0]["governance_version"] = item("x", 1)["x"]
	delete(s.Metrics, "cert_issuance#approved#p")
	found := false
	for _, v := range Check(s, Scope{}, Options{Quiescent: true}) {
		found = found || (v.Rule == "governed-names-need-approval" && strings.Contains(v.Detail, "www.example.com"))
	}
	if !found {
		t.Fatalf("not found: %v", Check(s, Scope{}, Options{Quiescent: true}))
	}
}

// emptyCRL is a CRL listing nothing, signed by a throwaway key.
func emptyCRL(number int64) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: now, NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign, SubjectKeyId: []byte{1, 2, 3}}
	caDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	ca, _ := x509.ParseCertificate(caDER)
	der, _ := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: now, NextUpdate: now.Add(time.Hour)}, ca, key)
	return der
}

// An IP address issued without approval while a pattern that stands for it
// was governed (as **.0.1 once could) is a violation: the checker matches
// names itself rather than asking the domain which patterns to look up.
func TestIPUnderAGovernedWildcard(t *testing.T) {
	s := healthy()
	_, subject := issuedFixture()
	ip := *subject
	ip.IPAddresses = []string{"10.0.0.1"}
	withSubject(s.Jobs["j"], &ip)
	s.Jobs["j"]["requires_approval"] = item("x", false)["x"]
	delete(s.Jobs["j"], "approval_id")
	delete(s.Approvals, "a")
	s.Audit = append(s.Audit[:2], audit("renewal_job_completed", "j"), item("action", "profile.created", "resource_id", "g",
		"details", `{"governance":{"version":1,"added":["**.0.1"]}}`))
	s.Versions[0]["governance_version"] = item("x", 1)["x"]
	delete(s.Metrics, "cert_issuance#approved#p")
	found := false
	for _, v := range Check(s, Scope{}, Options{Quiescent: true}) {
		found = found || (v.Rule == "governed-names-need-approval" && strings.Contains(v.Detail, "10.0.0.1"))
	}
	if !found {
		t.Fatalf("not found: %v", Check(s, Scope{}, Options{Quiescent: true}))
	}
}

// A move between gates approved by votes both policies admit, which
// satisfy both, breaks no rule of votes.
func TestAMoveSatisfyingBothPoliciesIsHealthy(t *testing.T) {
	s := healthy()
	a := s.Approvals["a"]
	a["move"] = av(map[string]any{"from_policy": []map[string]any{{"name": "approvers", "count": 1, "approvers": map[string]any{"principals": []string{"bob"}}}}})
	var votes []map[string]any
	for _, v := range a.Items("votes") {
		eligible := []string{"approvers"}
		if v.S("actor") == "bob" {
			eligible = append(eligible, "from:approvers")
		}
		votes = append(votes, map[string]any{"actor": v.S("actor"), "actor_type": "User", "at": v.S("at"), "eligible": eligible})
	}
	a["votes"] = av(votes)
	if vs := Check(s, Scope{}, Options{Quiescent: true}); len(vs) != 1 || vs[0].Rule != "vote-eligibility" || !strings.Contains(vs[0].Detail, "carol") {
		t.Fatalf("carol's vote is not admitted by the source's pool; got %v", vs)
	}
	votes[0]["eligible"] = []string{"approvers", "from:approvers"}
	a["move"] = av(map[string]any{"from_policy": []map[string]any{{"name": "approvers", "count": 2}}})
	a["votes"] = av(votes)
	if vs := Check(s, Scope{}, Options{Quiescent: true}); len(vs) != 0 {
		t.Fatalf("violations: %v", vs)
	}
}

// An admin may vote on a profile edit outside its pools (break glass):
// such a vote is eligible for every factor and breaks no rule; the same
// vote by a principal that holds no admin role does.
func TestBreakGlassVotesOnProfileEdits(t *testing.T) {
	s := healthy()
	a := s.Approvals["a"]
	a["kind"] = item("x", "profile_edit")["x"]
	a["approval_policy"] = av([]map[string]any{{"name": "approvers", "count": 2, "approvers": map[string]any{"principals": []string{"bob", "dana"}}}})
	s.Principals = map[string]Item{"carol": {"id": item("x", "carol")["x"], "roles": &types.AttributeValueMemberSS{Value: []string{"admin"}}}}
	if vs := Check(s, Scope{}, Options{Quiescent: true}); slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == "vote-eligibility" }) {
		t.Fatalf("an admin's break-glass vote: %v", vs)
	}
	s.Principals["carol"]["roles"] = &types.AttributeValueMemberSS{Value: []string{"approver"}}
	if vs := Check(s, Scope{}, Options{Quiescent: true}); !slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == "vote-eligibility" }) {
		t.Fatalf("a non-admin outside the pool: %v", vs)
	}
}

// A snapshot reads the state table, the audit table, then each CRL
// again: a CRL published in between is one more publication than the
// first number and no more than the second, which is no violation while
// the stack runs; any shortfall the second read does not explain, or any
// at rest, is one, and a stored number above the publications always is.
func TestCRLPublishedBetweenTheSnapshotsReads(t *testing.T) {
	pubs := func(s *Snapshot, n int) {
		for i := 1; i <= n; i++ {
			s.Audit = append(s.Audit, item("action", "crl.published", "resource_id", "default",
				"sk", fmt.Sprintf("2026-01-0%dT00:00:00.000000000Z#A", i), "details", fmt.Sprintf(`{"number":%d}`, i)))
		}
	}
	has := func(vs []Violation) bool {
		return slices.ContainsFunc(vs, func(v Violation) bool { return v.Rule == "crl-numbers-increase" })
	}
	snap := func(before, after int, published int) *Snapshot {
		s := healthy()
		s.CRLs = map[string]Item{"default": item("number", before)}
		s.CRLsAfter = map[string]Item{"default": item("number", after)}
		pubs(s, published)
		return s
	}
	if has(Check(snap(1, 2, 2), Scope{}, Options{})) {
		t.Error("a publication between the snapshot's reads is flagged while the stack runs")
	}
	if !has(Check(snap(1, 2, 2), Scope{}, Options{Quiescent: true})) {
		t.Error("a stored CRL behind its publications is not flagged at rest")
	}
	if !has(Check(snap(1, 1, 2), Scope{}, Options{})) {
		t.Error("a publication the second read does not show (a CRL lost after its audit row) is not flagged")
	}
	if !has(Check(snap(3, 3, 2), Scope{}, Options{})) {
		t.Error("a stored CRL ahead of its publications is not flagged")
	}
}

// A vote that leaves its request pending has its own event; the vote
// that completes the policy has none (the decision's event says it).
func TestVoteEvents(t *testing.T) {
	build := func() (*Snapshot, []Delivered) {
		s := healthy()
		var delivered []Delivered
		for i, r := range s.Audit {
			id := fmt.Sprintf("row-%d", i)
			r["id"] = item("x", id)["x"]
			switch r.S("action") {
			case "approval_vote":
				completes := r.S("actor") == "bob" // the last vote
				r["details"] = item("x", fmt.Sprintf(`{"completes":%v}`, completes))["x"]
				if !completes {
					delivered = append(delivered, Delivered{ID: id, DetailType: "Approval Vote Recorded"})
				}
			case "approval_requested":
				delivered = append(delivered, Delivered{ID: id, DetailType: "Approval Requested"})
			case "approval_approved":
				delivered = append(delivered, Delivered{ID: id, DetailType: "Approval Decided"})
			case "renewal_job_completed":
				delivered = append(delivered, Delivered{ID: id, DetailType: "Certificate Issued"})
			}
		}
		return s, delivered
	}
	s, delivered := build()
	if vs := Check(s, Scope{}, Options{Quiescent: true, Delivered: delivered}); len(vs) != 0 {
		t.Fatalf("violations with every event delivered: %v", vs)
	}
	for name, breakIt := range map[string]func(s *Snapshot, d []Delivered) []Delivered{
		"a pending vote without its event": func(s *Snapshot, d []Delivered) []Delivered {
			return slices.DeleteFunc(d, func(e Delivered) bool { return e.DetailType == "Approval Vote Recorded" })
		},
		"the completing vote with an event of its own": func(s *Snapshot, d []Delivered) []Delivered {
			for _, r := range s.Audit {
				if r.S("action") == "approval_vote" && r.S("actor") == "bob" {
					d = append(d, Delivered{ID: r.S("id"), DetailType: "Approval Vote Recorded"})
				}
			}
			return d
		},
		"a vote's event of another type": func(s *Snapshot, d []Delivered) []Delivered {
			for i := range d {
				if d[i].DetailType == "Approval Vote Recorded" {
					d[i].DetailType = "Approval Decided"
				}
			}
			return d
		},
	} {
		s, d := build()
		if got := rules(Check(s, Scope{}, Options{Quiescent: true, Delivered: breakIt(s, d)})); !strings.Contains(","+got+",", ",outbox,") {
			t.Errorf("%s: not found; found %q", name, got)
		}
	}
}
