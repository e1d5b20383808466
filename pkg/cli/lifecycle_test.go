package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testCRL is a CRL numbered 7 listing serial 0a1b as keyCompromise, and
// its CA's certificate.
func testCRL(t *testing.T) (crl, caDER []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now, NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign, SubjectKeyId: []byte{1, 2, 3}}
	caDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	crl, err = x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: now, NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(0x0a1b), RevocationTime: now, ReasonCode: 1}}}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	return crl, caDER
}

func binary(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}
}

// Each lifecycle command sends its route the body it should, shows the
// answer, and refuses bad usage before sending anything.
func TestLifecycleCommands(t *testing.T) {
	crl, caDER := testCRL(t)
	var deletes atomic.Int32
	s := newStub(t, map[string]http.HandlerFunc{
		"POST /api/v1/certificates/{id}/revoke": answer(200, `{"certificate":{"id":"web","status":"Revoked"},"reason":"keyCompromise",
			"revoked_at":"2031-01-01T00:00:00Z","revoked":[{"serial_number":"0a1b"},{"serial_number":"0c2d"}]}`),
		"POST /api/v1/certificates/{id}/archive": answer(200, `{"id":"web","status":"Archived","archived_at":"2031-01-01T00:00:00Z"}`),
		"DELETE /api/v1/certificates/{id}": func(w http.ResponseWriter, r *http.Request) {
			if deletes.Add(1) == 1 {
				answer(202, `{"id":"web","deleted":10,"remaining":true}`)(w, r)
				return
			}
			answer(204, "")(w, r)
		},
		"PUT /api/v1/certificates/gated":         answer(202, `{"status":"pending_approval","approval_id":"ar-9"}`),
		"PUT /api/v1/certificates/open":          answer(200, `{"id":"open","profile_id":"p2","status":"Active"}`),
		"GET /api/v1/issuers/{id}/crl":           binary("application/pkix-crl", crl),
		"GET /api/v1/issuers/{id}/ca":            binary("application/pkix-cert", caDER),
		"GET /api/v1/certificates/{id}/versions": answer(200, `{"data":[{"serial_number":"0a1b"},{"serial_number":"0c2d"}]}`),
	})

	r := run(t, s, "certs", "revoke", "web", "--reason", "keyCompromise").want(t, 0)
	if b := s.last(t).Body; b != `{"reason":"keyCompromise"}` || !strings.Contains(r.stdout, "0a1b, 0c2d") || !strings.Contains(r.stdout, "Revoked") {
		t.Fatalf("revoke: sent %s, printed %q", b, r.stdout)
	}
	run(t, s, "certs", "revoke", "web", "--reason", "superseded", "--serial", "0a1b").want(t, 0)
	if b := s.last(t).Body; b != `{"reason":"superseded","serial":"0a1b"}` {
		t.Fatalf("revoke one serial: sent %s", b)
	}
	sent := len(s.requests())
	r = run(t, s, "certs", "revoke", "web").want(t, 2) // --reason is required
	if len(s.requests()) != sent || !strings.Contains(r.stderr, "--reason") {
		t.Fatalf("revoke without a reason: sent %d requests, said %q", len(s.requests())-sent, r.stderr)
	}

	r = run(t, s, "certs", "archive", "web").want(t, 0)
	if req := s.last(t); req.Method != "POST" || req.Path != "/api/v1/certificates/web/archive" || !strings.Contains(r.stdout, "Archived") {
		t.Fatalf("archive: %+v %q", req, r.stdout)
	}
	r = run(t, s, "certs", "delete", "web").want(t, 0)
	if deletes.Load() != 2 || r.stdout != "deleted certificate web\n" || !strings.Contains(r.stderr, "deleted 10 records so far") {
		t.Fatalf("delete: %d calls, %q %q", deletes.Load(), r.stdout, r.stderr)
	}

	r = run(t, s, "certs", "move", "gated", "--profile", "p2", "--reason", "CHG-1").want(t, 0)
	if b := s.last(t).Body; b != `{"profile_id":"p2","reason":"CHG-1"}` || !strings.Contains(r.stdout, "ar-9") || !strings.Contains(r.stderr, "approvals approve ar-9") {
		t.Fatalf("gated move: sent %s, printed %q %q", b, r.stdout, r.stderr)
	}
	r = run(t, s, "certs", "move", "open", "--profile", "p2").want(t, 0)
	if !strings.Contains(r.stdout, "p2") {
		t.Fatalf("move: %q", r.stdout)
	}
	run(t, s, "certs", "move", "open").want(t, 2) // --profile is required

	// The CRL: a summary, PEM, DER to a file; the CA certificate.
	r = run(t, s, "issuers", "crl").want(t, 0)
	if !strings.Contains(r.stdout, "CRL number") || !strings.Contains(r.stdout, "7") || !strings.Contains(r.stdout, "a1b") || !strings.Contains(r.stdout, "keyCompromise") {
		t.Fatalf("crl summary: %q", r.stdout)
	}
	if req := s.last(t); req.Path != "/api/v1/issuers/default/crl" {
		t.Fatalf("the CRL is fetched from the default issuer: %+v", req)
	}
	// The route needs no key, and neither does the command.
	runWith(t, map[string]string{EnvEndpoint: s.URL}, "", "issuers", "crl").want(t, 0)
	r = run(t, s, "issuers", "crl", "--pem").want(t, 0)
	if b, _ := pem.Decode([]byte(r.stdout)); b == nil || b.Type != "X509 CRL" || string(b.Bytes) != string(crl) {
		t.Fatalf("crl --pem: %q", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "crl.der")
	run(t, s, "issuers", "crl", "--der", "--out", out).want(t, 0)
	if b, err := os.ReadFile(out); err != nil || string(b) != string(crl) {
		t.Fatalf("crl --der --out: %v", err)
	}
	r = run(t, s, "issuers", "ca").want(t, 0)
	if b, _ := pem.Decode([]byte(r.stdout)); b == nil || b.Type != "CERTIFICATE" || string(b.Bytes) != string(caDER) {
		t.Fatalf("ca: %q", r.stdout)
	}

	// Completion: reasons, and the serials of the certificate named.
	r = run(t, s, "__complete", "certs", "revoke", "web", "--reason", "key")
	if !strings.Contains(r.stdout, "keyCompromise\n") || strings.Contains(r.stdout, "superseded") {
		t.Fatalf("reason completion: %q", r.stdout)
	}
	r = run(t, s, "__complete", "certs", "revoke", "web", "--reason", "superseded", "--serial", "")
	if !strings.Contains(r.stdout, "0a1b\n") || !strings.Contains(r.stdout, "0c2d\n") || s.last(t).Path != "/api/v1/certificates/web/versions" {
		t.Fatalf("serial completion: %q (last request %+v)", r.stdout, s.last(t))
	}
}

// Delivery targets are profile flags; either replaces both targets, both
// empty clear them; a job shows its delivery.
func TestProfileDeliveryFlagsAndJobDelivery(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"PUT /api/v1/profiles/{id}": answer(202, `{"status":"pending_approval","approval_id":"ar-7"}`),
		"GET /api/v1/jobs/{id}": answer(200, `{"id":"j1","status":"Completed","delivery":{"status":"retrying","ssm_parameter":"/certctl/prod/web",
			"attempts":3,"last_error":"put parameter: AccessDeniedException","updated_at":"2031-01-01T00:00:00Z"}}`),
	})
	run(t, s, "profiles", "update", "web", "--ssm-parameter", "/certctl/prod/{certificate_id}").want(t, 0)
	if b := s.last(t).Body; b != `{"delivery":{"ssm_parameter":"/certctl/prod/{certificate_id}"}}` {
		t.Fatalf("PUT body %s", b)
	}
	run(t, s, "profiles", "update", "web", "--ssm-parameter", "", "--secret", "").want(t, 0)
	if b := s.last(t).Body; b != `{"delivery":{}}` {
		t.Fatalf("clearing the targets: %s", b)
	}
	r := run(t, s, "jobs", "get", "j1").want(t, 0)
	if !strings.Contains(r.stdout, "retrying after 3 attempts to SSM parameter /certctl/prod/web") || !strings.Contains(r.stdout, "AccessDeniedException") {
		t.Fatalf("job delivery: %q", r.stdout)
	}
}
