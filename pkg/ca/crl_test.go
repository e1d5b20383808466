package ca

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/internal/x509lint"
)

func issueForLint(t *testing.T, a *Authority) *Leaf {
	t.Helper()
	key := newKey(t)
	csr := newCSR(t, key, &x509.CertificateRequest{DNSNames: []string{"www.example.com"}})
	ku, eku := UsagesFor(csr.PublicKey)
	leaf, err := a.Issue(LeafRequest{
		CSR: csr, CommonName: "www.example.com", DNSNames: []string{"www.example.com", "example.com"},
		IPAddresses: []net.IP{net.ParseIP("10.1.2.3")},
		Validity:    90 * 24 * time.Hour, KeyUsage: ku, ExtKeyUsage: eku,
		CRLDistributionPoints: []string{"https://pki.example.com/prod/api/v1/issuers/default/crl"},
		IssuingCertificateURL: []string{"https://pki.example.com/prod/api/v1/issuers/default/ca"},
		Now:                   testNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// What the CA signs passes zlint: the CA certificate, a leaf, and a CRL
// with entries of every reason.
func TestWhatTheCASignsPassesZlint(t *testing.T) {
	a := newTestAuthority(t, testNow.Add(-time.Hour))
	leaf := issueForLint(t, a)
	var revoked []Revoked
	for i, reason := range RevocationReasons() {
		revoked = append(revoked, Revoked{SerialHex: big.NewInt(int64(1000 + i)).Text(16), RevokedAt: testNow, Reason: reason})
	}
	revoked = append(revoked, Revoked{SerialHex: leaf.SerialHex, RevokedAt: testNow, Reason: "keyCompromise"})
	crl, err := a.CRL(CRLRequest{Number: 7, ThisUpdate: testNow, NextUpdate: testNow.Add(7 * 24 * time.Hour), Revoked: revoked})
	if err != nil {
		t.Fatal(err)
	}
	for name, lint := range map[string]func() ([]x509lint.Finding, error){
		"CA certificate": func() ([]x509lint.Finding, error) { return x509lint.Certificate(a.Cert.Raw) },
		"leaf":           func() ([]x509lint.Finding, error) { return x509lint.Certificate(leaf.DER) },
		"CRL":            func() ([]x509lint.Finding, error) { return x509lint.CRL(crl) },
	} {
		fs, err := lint()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range fs {
			t.Errorf("%s: %s", name, f)
		}
	}
}

// The CRL is what relying parties will parse: signed by the CA, numbered,
// every serial with its time and reason (none for unspecified).
func TestCRLContents(t *testing.T) {
	a := newTestAuthority(t, testNow.Add(-time.Hour))
	revoked := []Revoked{
		{SerialHex: "7f01", RevokedAt: testNow.Add(-time.Minute), Reason: "keyCompromise"},
		{SerialHex: "1a", RevokedAt: testNow, Reason: "unspecified"},
	}
	der, err := a.CRL(CRLRequest{Number: 42, ThisUpdate: testNow, NextUpdate: testNow.Add(24 * time.Hour), Revoked: revoked})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(a.Cert); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	if crl.Number.Int64() != 42 || !crl.ThisUpdate.Equal(testNow) || !crl.NextUpdate.Equal(testNow.Add(24*time.Hour)) {
		t.Errorf("number %v, this %v, next %v", crl.Number, crl.ThisUpdate, crl.NextUpdate)
	}
	if len(crl.RevokedCertificateEntries) != 2 {
		t.Fatalf("%d entries, want 2", len(crl.RevokedCertificateEntries))
	}
	first, second := crl.RevokedCertificateEntries[0], crl.RevokedCertificateEntries[1]
	if first.SerialNumber.Text(16) != "1a" || first.ReasonCode != 0 || len(first.Extensions) != 0 {
		t.Errorf("unspecified entry: serial %s reason %d extensions %d, want 1a, 0 and no reasonCode extension", first.SerialNumber.Text(16), first.ReasonCode, len(first.Extensions))
	}
	if second.SerialNumber.Text(16) != "7f01" || second.ReasonCode != 1 || !second.RevocationTime.Equal(testNow.Add(-time.Minute)) {
		t.Errorf("keyCompromise entry: %s %d %v", second.SerialNumber.Text(16), second.ReasonCode, second.RevocationTime)
	}
}

func TestCRLRefusesBadInput(t *testing.T) {
	a := newTestAuthority(t, testNow.Add(-time.Hour))
	ok := CRLRequest{Number: 1, ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour)}
	for name, mutate := range map[string]func(*CRLRequest){
		"number 0":         func(r *CRLRequest) { r.Number = 0 },
		"next before this": func(r *CRLRequest) { r.NextUpdate = r.ThisUpdate.Add(-time.Second) },
		"certificateHold": func(r *CRLRequest) {
			r.Revoked = []Revoked{{SerialHex: "01", RevokedAt: testNow, Reason: "certificateHold"}}
		},
		"cACompromise": func(r *CRLRequest) {
			r.Revoked = []Revoked{{SerialHex: "01", RevokedAt: testNow, Reason: "cACompromise"}}
		},
		"serial not hex": func(r *CRLRequest) {
			r.Revoked = []Revoked{{SerialHex: "xyz", RevokedAt: testNow, Reason: "superseded"}}
		},
		"no revocation time":  func(r *CRLRequest) { r.Revoked = []Revoked{{SerialHex: "01", Reason: "superseded"}} },
		"zero serial refused": func(r *CRLRequest) { r.Revoked = []Revoked{{SerialHex: "0", RevokedAt: testNow, Reason: "superseded"}} },
	} {
		req := ok
		mutate(&req)
		if _, err := a.CRL(req); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := a.CRL(ok); err != nil {
		t.Fatalf("an empty CRL: %v", err)
	}
}

// The lint is live: a certificate that breaks a rule no exception covers
// is reported, and every exception names a lint zlint has.
func TestLintFindsWhatItShould(t *testing.T) {
	a := newTestAuthority(t, testNow.Add(-time.Hour))
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(5), // too short: fewer than 64 random bits
		NotBefore:    testNow, NotAfter: testNow.Add(time.Hour),
		DNSNames: []string{"bad_name.example.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, &key.PublicKey, a.Signer)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := x509lint.Certificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) == 0 {
		t.Fatal("a certificate with an underscore in a DNS name, a short serial and no key usage passed the lint")
	}
	for name := range x509lint.Exceptions() {
		if !x509lint.Known(name) {
			t.Errorf("exception %s is no zlint lint", name)
		}
	}
}
