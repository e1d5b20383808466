package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/cli"
)

// cliRun is one certctl invocation's outcome.
type cliRun struct {
	code           int
	stdout, stderr string
}

// certctl runs the CLI in-process as who, against the stack under test,
// with its environment passed through Run's env rather than the process's.
func certctl(t *testing.T, who string, args ...string) cliRun {
	t.Helper()
	if os.Getenv("CERTCTL_E2E_TARGET") == "localstack" {
		t.Skip("LocalStack's free edition does not run the REQUEST authorizer, so no API key is honoured there")
	}
	env := map[string]string{cli.EnvEndpoint: baseURL, cli.EnvAPIKey: keys[who]}
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return cliRun{code, out.String(), errOut.String()}
}

func (r cliRun) want(t *testing.T, code int, args ...string) cliRun {
	t.Helper()
	if r.code != code {
		t.Fatalf("certctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// ctl runs certctl as who and requires exit code.
func ctl(t *testing.T, code int, who string, args ...string) cliRun {
	t.Helper()
	return certctl(t, who, args...).want(t, code, args...)
}

// The README walkthrough, through the CLI: alice creates an approval-tier
// profile and a certificate from a CSR file, bob finds and approves the
// request (alice and carol cannot), the job completes, and the chain the
// CLI prints verifies against the CA it prints.
func TestCLIWalkthrough(t *testing.T) {
	profile, certID := uniq("prof-cli"), uniq("web-cli")
	cn := certID + "." + zone(profile)

	r := ctl(t, 0, "alice", "profiles", "create", "--id", profile, "--name", "CLI walkthrough", "--allowed-name", "**."+zone(profile), "--requires-approval")
	if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "Requires approval yes") {
		t.Fatalf("profile:\n%s", r.stdout)
	}

	csrFile := filepath.Join(t.TempDir(), "web.csr")
	if err := os.WriteFile(csrFile, []byte(newCSR(t, cn, cn, "www."+cn)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = ctl(t, 0, "alice", "certs", "create", "--id", certID, "--cn", cn, "--san", "www."+cn, "--profile", profile, "--csr", csrFile, "-o", "json")
	var started struct {
		JobID      string `json:"job_id"`
		ApprovalID string `json:"approval_id"`
		Status     string `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &started); err != nil || started.ApprovalID == "" || started.Status != "AwaitingApproval" {
		t.Fatalf("create: %v\n%s", err, r.stdout)
	}

	// bob finds the pending request and sees what he would approve.
	r = ctl(t, 0, "bob", "approvals", "list", "--state", "pending", "--cert", certID)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("pending approvals of %s:\n%s", certID, r.stdout)
	}
	if f := strings.Fields(lines[1]); len(f) < 5 || f[0] != started.ApprovalID || f[1] != "pending" || f[2] != "cert_issuance" || f[3] != cn || f[4] != "alice" {
		t.Fatalf("approval row: %q", lines[1])
	}
	r = ctl(t, 0, "bob", "approvals", "show", started.ApprovalID)
	for _, want := range []string{"Requested by", "alice", "Common name", cn, "DNS names", "www." + cn, "Key algorithm", "ECDSA_P256", "Key SHA-256"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("show lacks %q:\n%s", want, r.stdout)
		}
	}

	// Neither the requester nor a viewer can decide; bob can, once.
	r = ctl(t, 1, "alice", "approvals", "approve", started.ApprovalID, "--note", "mine")
	if !strings.Contains(r.stderr, "403 Forbidden") || !strings.Contains(r.stderr, "two-person integrity") || r.stdout != "" {
		t.Fatalf("self-approval: %q %q", r.stdout, r.stderr)
	}
	r = ctl(t, 1, "carol", "approvals", "approve", started.ApprovalID)
	if !strings.Contains(r.stderr, "403 Forbidden") {
		t.Fatalf("viewer approval: %q", r.stderr)
	}
	r = ctl(t, 0, "bob", "approvals", "approve", started.ApprovalID, "--note", "ticket SEC-1")
	if r.stdout != "approved "+started.ApprovalID+" (decided by bob)\n" {
		t.Fatalf("approve: %q", r.stdout)
	}
	r = ctl(t, 1, "bob", "approvals", "approve", started.ApprovalID)
	if !strings.Contains(r.stderr, "409 Conflict") || !strings.Contains(r.stderr, "already approved") {
		t.Fatalf("second approval: %q", r.stderr)
	}

	r = ctl(t, 0, "bob", "jobs", "get", started.JobID, "--wait", "--timeout", "30s")
	if !strings.Contains(r.stderr, started.JobID+"  Completed") {
		t.Fatalf("wait: %q\n%s", r.stderr, r.stdout)
	}
	waitJob(t, started.JobID, "Completed") // and the API agrees

	chain := ctl(t, 0, "bob", "certs", "chain", certID).stdout
	ca := ctl(t, 0, "bob", "issuers", "get", "default", "--pem").stdout
	verifyChain(t, chain, ca, cn)
	versions := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID+"/versions", nil)
	if first := versions.Body["data"].([]any)[0].(map[string]any); first["pem_chain"] != chain {
		t.Fatal("certs chain printed something other than the newest version's pem_chain")
	}
	if r = ctl(t, 0, "carol", "certs", "get", certID); !strings.Contains(r.stdout, "Active") {
		t.Fatalf("certificate after issuance:\n%s", r.stdout)
	}
}

// keys create prints the secret, alone, once; it works at once, is never
// listed, and revoking it stops it.
func TestCLIKeys(t *testing.T) {
	dave := uniq("dave")
	r := ctl(t, 0, "admin", "keys", "create", "--principal", dave, "--role", "viewer")
	secret := strings.TrimSuffix(r.stdout, "\n")
	if !strings.HasPrefix(secret, "cck_") || strings.Contains(secret, "\n") || !strings.Contains(r.stderr, "shown only this once") {
		t.Fatalf("keys create: stdout %q stderr %q", r.stdout, r.stderr)
	}
	as := func(code int, args ...string) cliRun {
		t.Helper()
		return ctl(t, code, "", append([]string{"--api-key", secret}, args...)...)
	}
	as(0, "profiles", "list", "--limit", "1")
	as(1, "profiles", "create", "--id", uniq("nope"), "--name", "viewer cannot", "--allowed-name", "x.example.com")

	r = ctl(t, 0, "admin", "keys", "list", "--principal", dave, "-o", "json")
	if strings.Contains(r.stdout, secret) {
		t.Fatal("keys list shows the secret")
	}
	var listed struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || len(listed.Data) != 1 {
		t.Fatalf("keys list: %v\n%s", err, r.stdout)
	}
	ctl(t, 0, "admin", "keys", "revoke", listed.Data[0].ID)
	r = ctl(t, 0, "admin", "keys", "list", "--principal", dave)
	if !strings.Contains(r.stdout, "revoked") {
		t.Fatalf("after revoke:\n%s", r.stdout)
	}
	if r = ctl(t, 0, "admin", "principals", "set-roles", dave, "--role", "auditor"); r.stdout != dave+" now holds: auditor\n" {
		t.Fatalf("set-roles: %q", r.stdout)
	}
}

// The lifecycle through the CLI, as the README walks it: move a
// certificate into an approval-tier profile (a request bob approves),
// revoke it, fetch the CRL and the CA certificate (no key needed) and have
// openssl report the leaf revoked, then archive and delete it.
func TestCLILifecycle(t *testing.T) {
	from := newProfile(t, false)
	id, leaf := issuedLeaf(t, from)
	to := gatedProfile(t, map[string]any{"allowed_names": []string{"**." + zone(from)}})

	r := ctl(t, 0, "alice", "certs", "move", id, "--profile", to, "--reason", "CHG-7: under change control", "-o", "json")
	var pending struct {
		ApprovalID string `json:"approval_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &pending); err != nil || pending.ApprovalID == "" {
		t.Fatalf("move into an approval-tier profile: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	ctl(t, 1, "alice", "approvals", "approve", pending.ApprovalID)
	r = ctl(t, 0, "bob", "approvals", "show", pending.ApprovalID)
	for _, want := range []string{"certificate_move", from, to, "CHG-7"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("the move request lacks %q:\n%s", want, r.stdout)
		}
	}
	ctl(t, 0, "bob", "approvals", "approve", pending.ApprovalID)
	if r = ctl(t, 0, "carol", "certs", "get", id); !strings.Contains(r.stdout, to) {
		t.Fatalf("after the approved move:\n%s", r.stdout)
	}

	r = ctl(t, 1, "carol", "certs", "revoke", id, "--reason", "keyCompromise")
	if !strings.Contains(r.stderr, "403 Forbidden") {
		t.Fatalf("a viewer revokes: %q", r.stderr)
	}
	r = ctl(t, 1, "alice", "certs", "revoke", id, "--reason", "certificateHold")
	if !strings.Contains(r.stderr, "400 Bad Request") || !strings.Contains(r.stderr, "keyCompromise") {
		t.Fatalf("an unknown reason: %q", r.stderr)
	}
	r = ctl(t, 0, "alice", "certs", "revoke", id, "--reason", "keyCompromise")
	if !strings.Contains(r.stdout, "Revoked") || !strings.Contains(r.stdout, serialHex(leaf)) {
		t.Fatalf("revoke:\n%s", r.stdout)
	}
	r = ctl(t, 1, "alice", "certs", "revoke", id, "--reason", "keyCompromise")
	if !strings.Contains(r.stderr, "409 Conflict") {
		t.Fatalf("revoking twice: %q", r.stderr)
	}

	// The CRL lists it within moments; the public routes need no key.
	public := func(args ...string) cliRun {
		t.Helper()
		env := map[string]string{cli.EnvEndpoint: baseURL}
		var out, errOut bytes.Buffer
		code := cli.Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
		return cliRun{code, out.String(), errOut.String()}.want(t, 0, args...)
	}
	eventually(t, "the CRL to list "+serialHex(leaf), func() bool {
		var crl struct {
			Revoked []struct {
				SerialNumber string `json:"serial_number"`
				Reason       string `json:"reason"`
			} `json:"revoked"`
		}
		if err := json.Unmarshal([]byte(public("issuers", "crl", "-o", "json").stdout), &crl); err != nil {
			t.Fatal(err)
		}
		for _, e := range crl.Revoked {
			if e.SerialNumber == serialHex(leaf) && e.Reason == "keyCompromise" {
				return true
			}
		}
		return false
	})
	dir := t.TempDir()
	crlPEM, caPEM, leafPEM := filepath.Join(dir, "crl.pem"), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "leaf.pem")
	public("issuers", "crl", "--pem", "--out", crlPEM)
	public("issuers", "ca", "--out", caPEM)
	if err := os.WriteFile(leafPEM, []byte(ctl(t, 0, "carol", "certs", "chain", id).stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := openssl(t, "verify", "-crl_check", "-CAfile", caPEM, "-CRLfile", crlPEM, leafPEM)
	if err == nil || !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify -crl_check: %v\n%s", err, out)
	}

	ctl(t, 1, "alice", "certs", "delete", id) // not archived
	if r = ctl(t, 0, "alice", "certs", "archive", id); !strings.Contains(r.stdout, "Archived") {
		t.Fatalf("archive:\n%s", r.stdout)
	}
	if r = ctl(t, 0, "alice", "certs", "delete", id); r.stdout != "deleted certificate "+id+"\n" {
		t.Fatalf("delete: %q", r.stdout)
	}
	if r = ctl(t, 1, "carol", "certs", "get", id); !strings.Contains(r.stderr, "404") {
		t.Fatalf("get after delete: %q", r.stderr)
	}
}
