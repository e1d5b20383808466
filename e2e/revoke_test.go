package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// getPublic GETs url without a key, with accept as the Accept header ("" for
// none), and returns the status, the Content-Type and the body.
func getPublic(t *testing.T, url, accept string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// issuedLeaf creates an ungated certificate, waits for its issuance and
// returns its id and leaf.
func issuedLeaf(t *testing.T, profile string) (string, *x509.Certificate) {
	t.Helper()
	created := newCert(t, "alice", profile)
	waitJob(t, created.str("job_id"), "Completed")
	id := certID(created)
	return id, leafOf(t, id)
}

func serialHex(c *x509.Certificate) string { return c.SerialNumber.Text(16) }

// crlListing waits until the CRL at url lists serial (or, with want false,
// returns the current CRL) and returns it with how long that took.
func crlListing(t *testing.T, url string, serial *big.Int) (*x509.RevocationList, []byte, time.Duration) {
	t.Helper()
	start := time.Now()
	var list *x509.RevocationList
	var der []byte
	eventually(t, "the CRL to list serial "+serial.Text(16), func() bool {
		status, ct, b := getPublic(t, url, "*/*")
		if status != http.StatusOK || ct != "application/pkix-crl" {
			return false
		}
		l, err := x509.ParseRevocationList(b)
		if err != nil {
			t.Fatalf("the CRL does not parse: %v", err)
		}
		list, der = l, b
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(serial) == 0 {
				return true
			}
		}
		return false
	})
	return list, der, time.Since(start)
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemOf(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed by this test")
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	return string(out), err
}

// The whole path a relying party takes: each certificate names the CRL and
// the CA certificate under the stack's URL; both are served without a key,
// as DER; a revocation shows on the CRL within seconds; openssl verifies
// the CRL's signature and reports the revoked certificate as revoked
// (and the one not revoked as fine).
func TestRevocationReachesTheCRL(t *testing.T) {
	embeddedOnly(t)
	profile := newProfile(t, false)
	id, leaf := issuedLeaf(t, profile)
	_, other := issuedLeaf(t, profile)

	crlURL := baseURL + "/api/v1/issuers/default/crl"
	caURL := baseURL + "/api/v1/issuers/default/ca"
	if len(leaf.CRLDistributionPoints) != 1 || leaf.CRLDistributionPoints[0] != crlURL {
		t.Fatalf("CRL distribution points %v, want [%s]", leaf.CRLDistributionPoints, crlURL)
	}
	if len(leaf.IssuingCertificateURL) != 1 || leaf.IssuingCertificateURL[0] != caURL {
		t.Fatalf("caIssuers %v, want [%s]", leaf.IssuingCertificateURL, caURL)
	}
	status, ct, caDER := getPublic(t, leaf.IssuingCertificateURL[0], "*/*")
	if status != http.StatusOK || ct != "application/pkix-cert" {
		t.Fatalf("CA certificate: %d %s", status, ct)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil || leaf.CheckSignatureFrom(caCert) != nil {
		t.Fatalf("the served CA certificate did not sign the leaf: %v", err)
	}
	issuer := must(t, http.StatusOK, "carol", "GET", "/api/v1/issuers/default", nil)
	if !bytes.Equal(pemOf("CERTIFICATE", caDER), []byte(issuer.str("ca_certificate_pem"))) {
		t.Fatal("GET /issuers/default/ca is not the issuer's CA certificate")
	}
	// Without an Accept header API Gateway (and the front) answers base64 text.
	if status, _, b := getPublic(t, crlURL, ""); status != http.StatusOK || bytes.HasPrefix(b, []byte{0x30}) {
		t.Fatalf("CRL without Accept: %d, starts %x (want the base64 text)", status, b[:min(len(b), 4)])
	}

	r := must(t, http.StatusOK, "alice", "POST", "/api/v1/certificates/"+id+"/revoke", map[string]any{"reason": "keyCompromise"})
	revoked := time.Now()
	cert, _ := r.Body["certificate"].(map[string]any)
	if cert["status"] != "Revoked" || cert["revocation_reason"] != "keyCompromise" || len(r.Body["revoked"].([]any)) != 1 {
		t.Fatalf("revocation: %s", r.Raw)
	}
	list, der, took := crlListing(t, leaf.CRLDistributionPoints[0], leaf.SerialNumber)
	t.Logf("the CRL listed the revoked serial %s after the revocation answered", took.Round(time.Millisecond))
	_ = revoked
	if err := list.CheckSignatureFrom(caCert); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}

	dir := t.TempDir()
	caPEM := writeFile(t, dir, "ca.pem", pemOf("CERTIFICATE", caDER))
	crlDER := writeFile(t, dir, "crl.der", der)
	crlPEM := writeFile(t, dir, "crl.pem", pemOf("X509 CRL", der))
	leafPEM := writeFile(t, dir, "leaf.pem", pemOf("CERTIFICATE", leaf.Raw))
	otherPEM := writeFile(t, dir, "other.pem", pemOf("CERTIFICATE", other.Raw))
	out, err := openssl(t, "crl", "-inform", "DER", "-in", crlDER, "-CAfile", caPEM, "-noout")
	if err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl -CAfile: %v\n%s", err, out)
	}
	out, err = openssl(t, "verify", "-crl_check", "-CAfile", caPEM, "-CRLfile", crlPEM, leafPEM)
	if err == nil || !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify -crl_check of the revoked leaf: %v\n%s", err, out)
	}
	out, err = openssl(t, "verify", "-crl_check", "-CAfile", caPEM, "-CRLfile", crlPEM, otherPEM)
	if err != nil || !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify -crl_check of a leaf not revoked: %v\n%s", err, out)
	}

	// Revoked means retired: no renewal, no second revocation.
	must(t, http.StatusConflict, "alice", "POST", "/api/v1/certificates/"+id+"/renew", nil)
	must(t, http.StatusConflict, "admin", "POST", "/api/v1/certificates/"+id+"/revoke", map[string]any{"reason": "superseded"})
	must(t, http.StatusConflict, "admin", "POST", "/api/v1/certificates/"+id+"/revoke", map[string]any{"reason": "superseded", "serial": serialHex(leaf)})
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil); c.str("status") != "Revoked" {
		t.Fatalf("certificate: %s", c.Raw)
	}
	vs := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id+"/versions", nil).Body["data"].([]any)
	if v := vs[0].(map[string]any); v["revocation_reason"] != "keyCompromise" || v["revoked_by"] != "alice" || v["revoked_at"] == nil {
		t.Fatalf("version: %v", v)
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+id+"&action=certificate.revoked", nil).Body["data"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["actor"] != "alice" {
		t.Fatalf("audit: %v", rows)
	}
}

// Who may revoke, and what a revocation refuses: viewers and approvers
// may not, an unknown reason is 400 and names the valid ones, a serial of
// another certificate is 404; nothing changes.
func TestRevokeRolesAndBadInput(t *testing.T) {
	profile := newProfile(t, false)
	id, leaf := issuedLeaf(t, profile)
	_, other := issuedLeaf(t, profile)
	path := "/api/v1/certificates/" + id + "/revoke"
	body := map[string]any{"reason": "keyCompromise"}
	must(t, http.StatusUnauthorized, "", "POST", path, body)
	must(t, http.StatusForbidden, "carol", "POST", path, body)
	r := must(t, http.StatusBadRequest, "alice", "POST", path, map[string]any{"reason": "certificateHold"})
	for _, reason := range []string{"unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"} {
		if !strings.Contains(r.str("message"), reason) {
			t.Errorf("the refusal of an unknown reason does not name %s: %s", reason, r.Raw)
		}
	}
	must(t, http.StatusBadRequest, "alice", "POST", path, map[string]any{})
	must(t, http.StatusBadRequest, "alice", "POST", path, map[string]any{"reason": "keyCompromise", "serial": "zz"})
	must(t, http.StatusBadRequest, "alice", "POST", path, map[string]any{"reason": "keyCompromise", "extra": 1})
	must(t, http.StatusNotFound, "alice", "POST", path, map[string]any{"reason": "keyCompromise", "serial": serialHex(other)})
	must(t, http.StatusNotFound, "alice", "POST", "/api/v1/certificates/nope/revoke", body)
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil); c.str("status") != "Active" {
		t.Fatalf("refused revocations changed the certificate: %s", c.Raw)
	}
	// An operator revokes one serial, written in upper case with colons.
	colons := strings.ToUpper(serialHex(leaf))
	var b strings.Builder
	for i := 0; i < len(colons); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(colons[i:min(i+2, len(colons))])
	}
	r = must(t, http.StatusOK, "admin", "POST", path, map[string]any{"reason": "privilegeWithdrawn", "serial": b.String()})
	if got := r.Body["revoked"].([]any)[0].(map[string]any)["serial_number"]; got != serialHex(leaf) {
		t.Fatalf("revoked %v, want %s", got, serialHex(leaf))
	}
}

// A renewal waiting for approval when its certificate is revoked never
// issues: approved afterwards, the job fails saying why, nothing is signed,
// and the certificate stays Revoked.
func TestApprovalAfterRevocationIssuesNothing(t *testing.T) {
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	id := certID(created)
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	waitJob(t, created.str("job_id"), "Completed")
	renewal := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/certificates/"+id+"/renew", nil)
	must(t, http.StatusOK, "alice", "POST", "/api/v1/certificates/"+id+"/revoke", map[string]any{"reason": "keyCompromise"})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+renewal.str("approval_id")+"/approve", map[string]string{"note": "too late"})
	job := waitJob(t, renewal.str("job_id"), "Failed")
	if msg := job.str("error"); !strings.Contains(msg, "was revoked") || !strings.Contains(msg, "nothing was issued") {
		t.Fatalf("job error %q", msg)
	}
	c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil)
	if c.str("status") != "Revoked" || c.str("current_job_id") != "" {
		t.Fatalf("certificate: %s", c.Raw)
	}
	if vs := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id+"/versions", nil).Body["data"].([]any); len(vs) != 1 {
		t.Fatalf("%d versions, want the one issued before the revocation", len(vs))
	}
}

// An entry whose certificate expired leaves the CRL at the next refresh,
// and its item is deleted: here the entry of a certificate deleted long
// ago (revoked, archived, deleted: its entry outlives it until expiry),
// written as the revocation's transaction writes it.
func TestExpiredEntriesArePruned(t *testing.T) {
	embeddedOnly(t)
	ctx := context.Background()
	serial := "7f" + strings.Repeat("0", 30) + uniq("")[1:]
	past := time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339Nano)
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	db := dynamodb.NewFromConfig(stack.AWSConfig)
	// The CRL state exists once the CA does; the entry counts towards it.
	if _, err := stack.Invoke(ctx, app.FnIssue, map[string]string{"action": "ensure_ca"}); err != nil {
		t.Fatal(err)
	}
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(stack.Config.StateTable), Item: map[string]types.AttributeValue{
			"pk": s("CRL#default"), "sk": s("ENTRY#" + serial), "issuer_id": s("default"), "serial_number": s(serial),
			"certificate_id": s("long-gone"), "job_id": s("job-long-gone"), "reason": s("keyCompromise"),
			"revoked_at": s(past), "revoked_by": s("alice"), "not_after": s(past),
		}}},
		{Update: &types.Update{TableName: aws.String(stack.Config.StateTable),
			Key:                       map[string]types.AttributeValue{"pk": s("CRL#default"), "sk": s("CRL")},
			UpdateExpression:          aws.String("ADD #n :one"),
			ExpressionAttributeNames:  map[string]string{"#n": "entry_count"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := stack.Invoke(ctx, app.FnIssue, map[string]any{"action": "refresh_crl", "issuer_id": "default", "force": true})
	if err != nil {
		t.Fatal(err)
	}
	var res workflow.CRLResult
	if err := json.Unmarshal(out, &res); err != nil || !res.Published || res.Pruned < 1 {
		t.Fatalf("refresh: %s %v", out, err)
	}
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(stack.Config.StateTable), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": s("CRL#default"), "sk": s("ENTRY#" + serial)}})
	if err != nil || len(got.Item) != 0 {
		t.Fatalf("the expired entry is still stored: %v %v", got.Item, err)
	}
	want, _ := new(big.Int).SetString(serial, 16)
	_, der := crlNow(t)
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(want) == 0 {
			t.Fatalf("the CRL still lists expired serial %s", serial)
		}
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id=default&action=crl.entries_pruned", nil).Body["data"].([]any)
	if len(rows) == 0 {
		t.Fatal("no crl.entries_pruned audit row")
	}
}

// crlNow fetches the current CRL.
func crlNow(t *testing.T) (int, []byte) {
	t.Helper()
	status, _, der := getPublic(t, baseURL+"/api/v1/issuers/default/crl", "application/pkix-crl")
	if status != http.StatusOK {
		t.Fatalf("CRL: %d", status)
	}
	return status, der
}
