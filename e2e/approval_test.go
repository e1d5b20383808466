package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
)

func TestApprovePathIssuesVerifiableCertificate(t *testing.T) {
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	jobID, approvalID, id := created.str("job_id"), created.str("approval_id"), certID(created)
	if approvalID == "" || created.str("status") != "AwaitingApproval" {
		t.Fatalf("gated create: want approval_id and AwaitingApproval, got %s", created.Raw)
	}

	detail := must(t, http.StatusOK, "bob", "GET", "/api/v1/approvals/"+approvalID, nil)
	if strings.Contains(string(detail.Raw), "task_token") {
		t.Fatalf("approval detail leaks the task token: %s", detail.Raw)
	}
	subject, _ := detail.Body["subject"].(map[string]any)
	if subject["common_name"] != id+"."+zone(profile) || subject["key_algorithm"] != "ECDSA_P256" || subject["issuer_id"] != "default" {
		t.Fatalf("approval detail does not show what is approved: %s", detail.Raw)
	}
	if detail.str("requested_by") != "alice" || detail.str("state") != "pending" {
		t.Fatalf("detail: %s", detail.Raw)
	}

	// Same actor: 403 with the contract phrase, for approve and reject alike.
	for _, action := range []string{"approve", "reject"} {
		r := must(t, http.StatusForbidden, "alice", "POST", "/api/v1/approvals/"+approvalID+"/"+action, map[string]string{"note": "self"})
		if !strings.Contains(r.str("message"), "two-person integrity") {
			t.Fatalf("self-%s message: %s", action, r.Raw)
		}
	}

	res := must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", map[string]string{"note": "ticket SEC-1"})
	if res.str("decided_by") != "bob" || res.str("action") != "approved" || res.str("id") != approvalID {
		t.Fatalf("approve response: %s", res.Raw)
	}
	must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+approvalID+"/reject", map[string]string{"note": "late"})

	job := waitJob(t, jobID, "Completed", "Failed")
	if job.str("status") != "Completed" {
		t.Fatalf("job: %s", job.Raw)
	}
	cert := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil)
	if cert.str("status") != "Active" || cert.str("serial_number") == "" {
		t.Fatalf("certificate after issuance: %s", cert.Raw)
	}
	versions := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id+"/versions", nil)
	data, _ := versions.Body["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("versions: %s", versions.Raw)
	}
	chain := data[0].(map[string]any)["pem_chain"].(string)
	issuer := must(t, http.StatusOK, "carol", "GET", "/api/v1/issuers/default", nil)
	verifyChain(t, chain, issuer.str("ca_certificate_pem"), id+"."+zone(profile))
}

func verifyChain(t *testing.T, chain, caPEM, dnsName string) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("issuer CA is not PEM: %q", caPEM)
	}
	block, _ := pem.Decode([]byte(chain))
	if block == nil {
		t.Fatalf("chain is not PEM: %q", chain)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: dnsName}); err != nil {
		t.Fatalf("leaf does not verify against the issuer CA: %v", err)
	}
}

func TestRejectCancelsJobAndRestoresCertificate(t *testing.T) {
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	jobID, approvalID, id := created.str("job_id"), created.str("approval_id"), certID(created)

	r := must(t, http.StatusBadRequest, "bob", "POST", "/api/v1/approvals/"+approvalID+"/reject", map[string]string{})
	if !strings.Contains(r.str("message"), "note") {
		t.Fatalf("reject without note: %s", r.Raw)
	}
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+approvalID+"/reject", map[string]string{"note": "wrong SANs"})
	job := waitJob(t, jobID, "Cancelled")
	if job.str("error") != "approval rejected: wrong SANs" {
		t.Fatalf("job error: %s", job.Raw)
	}
	cert := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil)
	if cert.str("status") != "Pending" || cert.str("current_job_id") != "" {
		t.Fatalf("certificate after rejection must return to Pending with no job in flight: %s", cert.Raw)
	}
	must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	versions := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id+"/versions", nil)
	if data, _ := versions.Body["data"].([]any); len(data) != 0 {
		t.Fatalf("a rejected request issued a certificate: %s", versions.Raw)
	}
}

func TestUngatedProfileIssuesAtOnce(t *testing.T) {
	profile := newProfile(t, false)
	created := newCert(t, "alice", profile)
	if created.str("approval_id") != "" {
		t.Fatalf("ungated create returned an approval: %s", created.Raw)
	}
	waitJob(t, created.str("job_id"), "Completed")
}

func TestRenewConflictsAndGating(t *testing.T) {
	profile := newProfile(t, false)
	created := newCert(t, "alice", profile)
	id := certID(created)
	waitJob(t, created.str("job_id"), "Completed")

	// Make the profile approval-tier, then renew: gated, and a second renew is 409.
	gate(t, profile, "gated now")
	ren := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/certificates/"+id+"/renew", nil)
	if ren.str("approval_id") == "" || ren.str("status") != "AwaitingApproval" {
		t.Fatalf("renew: %s", ren.Raw)
	}
	must(t, http.StatusConflict, "bob", "POST", "/api/v1/certificates/"+id+"/renew", nil)
	cert := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil)
	if cert.str("status") != "RenewalInProgress" {
		t.Fatalf("status during renewal: %s", cert.Raw)
	}
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ren.str("approval_id")+"/reject", map[string]string{"note": "not now"})
	waitJob(t, ren.str("job_id"), "Cancelled")
	cert = must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil)
	if cert.str("status") != "Active" {
		t.Fatalf("status after rejected renewal must be restored to Active: %s", cert.Raw)
	}
	// Renew with a new CSR is accepted; then approve issues version 2.
	cn := cert.str("common_name")
	ren = must(t, http.StatusAccepted, "alice", "POST", "/api/v1/certificates/"+id+"/renew", map[string]string{"csr": newCSR(t, cn, cn)})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ren.str("approval_id")+"/approve", nil)
	waitJob(t, ren.str("job_id"), "Completed")
	versions := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id+"/versions", nil)
	if data, _ := versions.Body["data"].([]any); len(data) != 2 {
		t.Fatalf("want 2 versions: %s", versions.Raw)
	}
}

func TestAuthErrors(t *testing.T) {
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	approvalID := created.str("approval_id")

	must(t, http.StatusUnauthorized, "", "GET", "/api/v1/approvals", nil)
	keys["bogus"] = "cck_not-a-real-key"
	must(t, http.StatusUnauthorized, "bogus", "GET", "/api/v1/approvals", nil)
	// carol is a viewer: reads yes, decisions and writes no.
	must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals?state=pending", nil)
	must(t, http.StatusForbidden, "carol", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	must(t, http.StatusForbidden, "carol", "POST", "/api/v1/certificates", map[string]any{})
	must(t, http.StatusNotFound, "bob", "POST", "/api/v1/approvals/ar-does-not-exist/approve", nil)
	must(t, http.StatusNotFound, "carol", "GET", "/api/v1/jobs/job-nope", nil)
	must(t, http.StatusOK, "", "GET", "/health", nil)
}

func TestBadInputIsRefusedClearly(t *testing.T) {
	r := must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/profiles", map[string]any{"name": "x", "allowed_names": []string{"a.example.com"}, "bogus": 1})
	if !strings.Contains(r.str("message"), "bogus") || r.str("error") != "Bad Request" {
		t.Fatalf("unknown field: %s", r.Raw)
	}
	r = must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/profiles", map[string]any{"name": "x", "allowed_names": []string{"a.example.com"}, "max_validity_seconds": 86400, "renew_before_seconds": 86400})
	if !strings.Contains(r.str("message"), "renew_before_seconds") {
		t.Fatalf("renew window: %s", r.Raw)
	}
	must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/profiles", "{not json")
	must(t, http.StatusBadRequest, "carol", "GET", "/api/v1/approvals?state=bogus", nil)
	must(t, http.StatusBadRequest, "carol", "GET", "/api/v1/approvals?limit=501", nil)

	profile := newProfile(t, false)
	cn := uniq("bad") + "." + zone(profile)
	r = must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/certificates", map[string]any{
		"common_name": cn, "profile_id": profile, "csr": newCSR(t, "other."+zone(profile)),
	})
	if !strings.Contains(r.str("message"), "csr") {
		t.Fatalf("mismatched CSR: %s", r.Raw)
	}
}

// gate turns requires_approval on for profile: itself a gated edit, so
// alice proposes it and bob approves.
func gate(t *testing.T, profile, name string) {
	t.Helper()
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": name, "requires_approval": true})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
}
