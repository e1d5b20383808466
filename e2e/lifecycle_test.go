package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Archive and delete, as each role and with each refusal: archiving is
// refused while a job is in flight, deleting unless archived; deleting
// removes the certificate's records (its versions, jobs and requests) and
// frees its profile, while the audit trail keeps its history.
func TestArchiveAndDelete(t *testing.T) {
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	id := certID(created)
	path := "/api/v1/certificates/" + id

	must(t, http.StatusUnauthorized, "", "POST", path+"/archive", nil)
	must(t, http.StatusForbidden, "carol", "POST", path+"/archive", nil)
	must(t, http.StatusForbidden, "carol", "DELETE", path, nil)
	r := must(t, http.StatusConflict, "alice", "POST", path+"/archive", nil)
	if msg := r.str("message"); !strings.Contains(msg, "in flight") {
		t.Fatalf("archive with a job in flight: %s", r.Raw)
	}
	must(t, http.StatusConflict, "alice", "DELETE", path, nil) // not archived
	must(t, http.StatusBadRequest, "alice", "POST", path+"/archive", map[string]any{"force": true})

	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	waitJob(t, created.str("job_id"), "Completed")
	must(t, http.StatusConflict, "admin", "DELETE", path, nil) // Active
	r = must(t, http.StatusOK, "alice", "POST", path+"/archive", nil)
	if r.str("status") != "Archived" || r.str("archived_at") == "" {
		t.Fatalf("archived: %s", r.Raw)
	}
	must(t, http.StatusConflict, "alice", "POST", path+"/archive", nil)
	must(t, http.StatusConflict, "alice", "POST", path+"/renew", nil)
	if p := profileOf(t, profile); p.Body["certificate_count"] != float64(1) {
		t.Fatalf("profile count before the delete: %s", p.Raw)
	}

	// Its version is still valid and unrevoked: deleting would leave it
	// beyond revocation.
	if r := must(t, http.StatusConflict, "alice", "DELETE", path, nil); !strings.Contains(r.str("message"), "not revoked") {
		t.Fatalf("delete with a live version: %s", r.Raw)
	}
	must(t, http.StatusOK, "alice", "POST", path+"/revoke", map[string]any{"reason": "cessationOfOperation"})
	must(t, http.StatusNoContent, "alice", "DELETE", path, nil)
	must(t, http.StatusNotFound, "carol", "GET", path, nil)
	must(t, http.StatusNotFound, "carol", "GET", path+"/versions", nil)
	must(t, http.StatusNotFound, "carol", "GET", "/api/v1/jobs/"+created.str("job_id"), nil)
	must(t, http.StatusNotFound, "carol", "GET", "/api/v1/approvals/"+created.str("approval_id"), nil)
	if jobs := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs?certificate_id="+id, nil).Body["data"].([]any); len(jobs) != 0 {
		t.Fatalf("jobs of a deleted certificate: %v", jobs)
	}
	must(t, http.StatusNotFound, "alice", "DELETE", path, nil)
	if p := profileOf(t, profile); p.Body["certificate_count"] != float64(0) {
		t.Fatalf("profile count after the delete: %s", p.Raw)
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+id, nil).Body["data"].([]any)
	actions := map[string]bool{}
	for _, row := range rows {
		actions[row.(map[string]any)["action"].(string)] = true
	}
	for _, a := range []string{"certificate.created", "certificate.archived", "certificate.records_deleted", "certificate.deleted"} {
		if !actions[a] {
			t.Errorf("the audit trail of %s lacks %s: %v", id, a, actions)
		}
	}
	// The profile, in use no more, can be deleted (a gated delete: a request).
	must(t, http.StatusAccepted, "alice", "DELETE", "/api/v1/profiles/"+profile, nil)
}

// moveOf PUTs a move as who and returns the answer.
func moveOf(t *testing.T, want int, who, certID, profile string) response {
	t.Helper()
	return must(t, want, who, "PUT", "/api/v1/certificates/"+certID, map[string]any{"profile_id": profile, "reason": "CHG-7: consolidate"})
}

// Moves as each role and with bad input: between profiles that need no
// approval a move applies at once; into an approval-tier profile it is a
// request someone else approves, shown with every name the certificate
// carries and the reason.
func TestMoveBetweenProfiles(t *testing.T) {
	// Two ungated profiles over one zone (a second person opened each).
	a := newProfile(t, false)
	b := uniq("prof")
	r := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": b, "name": "Profile " + b, "allowed_names": []string{"**." + zone(a)}, "renew_before_seconds": 864000})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	id, _ := issuedLeaf(t, a)
	path := "/api/v1/certificates/" + id

	must(t, http.StatusUnauthorized, "", "PUT", path, map[string]any{"profile_id": b})
	must(t, http.StatusForbidden, "carol", "PUT", path, map[string]any{"profile_id": b})
	must(t, http.StatusBadRequest, "alice", "PUT", path, map[string]any{})
	must(t, http.StatusBadRequest, "alice", "PUT", path, map[string]any{"profile_id": "no-such-profile"})
	must(t, http.StatusBadRequest, "alice", "PUT", path, map[string]any{"profile_id": b, "reason": "two\nlines"})
	must(t, http.StatusBadRequest, "alice", "PUT", path, map[string]any{"profile_id": b, "reason": strings.Repeat("x", 1025)})
	must(t, http.StatusBadRequest, "alice", "PUT", path, map[string]any{"profile_id": newProfile(t, false)}) // names not allowed
	must(t, http.StatusNotFound, "alice", "PUT", "/api/v1/certificates/nope", map[string]any{"profile_id": b})

	moved := moveOf(t, http.StatusOK, "alice", id, b)
	if moved.str("profile_id") != b {
		t.Fatalf("moved: %s", moved.Raw)
	}
	if pa, pb := profileOf(t, a), profileOf(t, b); pa.Body["certificate_count"] != float64(0) || pb.Body["certificate_count"] != float64(1) {
		t.Fatalf("counts: %s %s", pa.Raw, pb.Raw)
	}
	moveOf(t, http.StatusOK, "alice", id, b) // already there

	// Into an approval-tier profile: a request, shown whole.
	g := uniq("prof")
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": g, "name": "Gated " + g, "requires_approval": true, "allowed_names": []string{"**." + zone(a)}})
	pending := moveOf(t, http.StatusAccepted, "alice", id, g)
	ar := pending.str("approval_id")
	view := must(t, http.StatusOK, "bob", "GET", "/api/v1/approvals/"+ar, nil)
	mv, _ := view.Body["move"].(map[string]any)
	from, _ := mv["from"].(map[string]any)
	to, _ := mv["to"].(map[string]any)
	dns, _ := mv["dns_names"].([]any)
	if view.str("kind") != "certificate_move" || view.str("request_reason") != "CHG-7: consolidate" || from["id"] != b || to["id"] != g ||
		to["requires_approval"] != true || len(dns) != 2 || mv["common_name"] != dns[0] && mv["common_name"] != dns[1] {
		t.Fatalf("move request: %s", view.Raw)
	}
	moveOf(t, http.StatusConflict, "alice", id, g) // one pending move
	must(t, http.StatusConflict, "alice", "POST", path+"/archive", nil)
	r = must(t, http.StatusForbidden, "alice", "POST", "/api/v1/approvals/"+ar+"/approve", nil)
	if !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("self-approval: %s", r.Raw)
	}
	must(t, http.StatusForbidden, "carol", "POST", "/api/v1/approvals/"+ar+"/approve", nil)
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "under change control now"})
	if c := must(t, http.StatusOK, "carol", "GET", path, nil); c.str("profile_id") != g || c.str("pending_move_approval_id") != "" {
		t.Fatalf("after approval: %s", c.Raw)
	}
	if list := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals?kind=certificate_move&certificate_id="+id, nil).Body["data"].([]any); len(list) != 1 {
		t.Fatalf("move requests of %s: %v", id, list)
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+id+"&action=certificate.moved", nil).Body["data"].([]any)
	if len(rows) != 2 || rows[0].(map[string]any)["actor"] != "bob" {
		t.Fatalf("moved rows: %v", rows)
	}
}

// A move is never a way around the gate. A certificate under an
// approval-tier profile cannot move to a profile that needs no approval
// while its names are governed, whoever asks; a move between gated
// profiles needs a second person (not a second key of the requester),
// admitted by both profiles' policies; and a request decided after the target changed
// applies nothing.
func TestAMoveCannotEscapeTheGate(t *testing.T) {
	gated := newProfile(t, true)
	created := newCert(t, "alice", gated)
	id := certID(created)
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	waitJob(t, created.str("job_id"), "Completed")

	// An ungated profile over the same names (bob approved its creation).
	open := uniq("prof")
	r := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": open, "name": "Open " + open, "allowed_names": []string{"**." + zone(gated)}})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	for _, who := range []string{"alice", "admin"} {
		r = moveOf(t, http.StatusConflict, who, id, open)
		if !strings.Contains(r.str("message"), "governed") {
			t.Fatalf("escape as %s: %s", who, r.Raw)
		}
	}
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil); c.str("profile_id") != gated || c.str("pending_move_approval_id") != "" {
		t.Fatalf("the refused move changed the certificate: %s", c.Raw)
	}
	// Renewals stay gated.
	renewal := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/certificates/"+id+"/renew", nil)
	if renewal.str("status") != "AwaitingApproval" {
		t.Fatalf("renewal after the refused move: %s", renewal.Raw)
	}
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+renewal.str("approval_id")+"/reject", map[string]string{"note": "not now"})

	// To another gated profile: the source profile's approvers must agree
	// too, and the requester never decides their own, not with a second
	// key either (a principal of its own, so that the admin who mints its
	// keys controls no one else the suite uses).
	lax := uniq("prof")
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": lax, "name": "Lax " + lax, "requires_approval": true, "allowed_names": []string{"**." + zone(gated)},
		"approvers": map[string]any{"principals": []string{"bob"}}})
	mover := uniq("mover")
	for _, k := range []string{mover, mover + "-second"} {
		r := must(t, http.StatusCreated, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": mover, "roles": []string{"operator", "approver"}})
		keys[k] = r.str("secret")
	}
	pending := moveOf(t, http.StatusAccepted, mover, id, lax)
	ar := pending.str("approval_id")
	r = must(t, http.StatusForbidden, mover+"-second", "POST", "/api/v1/approvals/"+ar+"/approve", nil)
	if !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("second key of the requester: %s", r.Raw)
	}
	// The target's pool is bob alone; the source's pool (none) lets bob in.
	// Change the target before bob decides: the move is stale.
	edit := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+lax, map[string]any{"name": "renamed"})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+edit.str("approval_id")+"/approve", nil)
	r = must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", nil)
	if !strings.Contains(r.str("message"), "stale move") {
		t.Fatalf("stale move: %s", r.Raw)
	}
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+ar, nil)
	if a.str("state") != "rejected" || !strings.Contains(a.str("reason"), "stale move") {
		t.Fatalf("stale request: %s", a.Raw)
	}
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil); c.str("profile_id") != gated {
		t.Fatalf("a stale move applied: %s", c.Raw)
	}
}

// An approver sees what they approve and why: every name (the common name
// included), the key's algorithm and SHA-256, the requester's reason, and
// for a renewal whether the key changed.
func TestApproversSeeNamesKeyAndReason(t *testing.T) {
	profile := newProfile(t, true)
	id := uniq("mc")
	cn := id + "." + zone(profile)
	csrPEM := newCSR(t, cn, "www."+cn)
	block, _ := pem.Decode([]byte(csrPEM))
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(req.RawSubjectPublicKeyInfo)
	body := map[string]any{"id": id, "common_name": cn, "sans": []string{"www." + cn}, "profile_id": profile, "csr": csrPEM, "reason": "CHG-3: launch"}
	bad := map[string]any{}
	for k, v := range body {
		bad[k] = v
	}
	bad["reason"] = "line one\u0085line two"
	must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/certificates", bad)
	created := must(t, http.StatusCreated, "alice", "POST", "/api/v1/certificates", body)
	view := must(t, http.StatusOK, "bob", "GET", "/api/v1/approvals/"+created.str("approval_id"), nil)
	subject, _ := view.Body["subject"].(map[string]any)
	names := fmt.Sprint(subject["dns_names"])
	if !strings.Contains(names, cn+" ") && !strings.HasSuffix(names, cn+"]") || !strings.Contains(names, "www."+cn) {
		t.Fatalf("the request's names %s lack the common name or the SAN", names)
	}
	if subject["key_algorithm"] != "ECDSA_P256" || subject["public_key_sha256"] != hex.EncodeToString(spki[:]) || subject["key_changed"] != nil {
		t.Fatalf("subject: %v", subject)
	}
	if view.str("request_reason") != "CHG-3: launch" {
		t.Fatalf("reason: %s", view.Raw)
	}
	if job := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+created.str("job_id"), nil); job.str("request_reason") != "CHG-3: launch" {
		t.Fatalf("job: %s", job.Raw)
	}
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	waitJob(t, created.str("job_id"), "Completed")
	must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/certificates/"+id+"/renew", map[string]any{"reason": strings.Repeat("r", 1025)})
	renewal := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/certificates/"+id+"/renew", map[string]any{"reason": "yearly rotation"})
	view = must(t, http.StatusOK, "bob", "GET", "/api/v1/approvals/"+renewal.str("approval_id"), nil)
	subject, _ = view.Body["subject"].(map[string]any)
	if subject["key_changed"] != false || subject["previous_public_key_sha256"] != hex.EncodeToString(spki[:]) || view.str("request_reason") != "yearly rotation" {
		t.Fatalf("renewal request: %s", view.Raw)
	}
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+renewal.str("approval_id")+"/reject", map[string]string{"note": "not yet"})
}
