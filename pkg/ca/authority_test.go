package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestAuthority makes a CA with an in-memory key, created at created.
func newTestAuthority(t *testing.T, created time.Time) *Authority {
	t.Helper()
	key := newKey(t)
	der, err := NewCACertificate(key, "default", created)
	if err != nil {
		t.Fatalf("NewCACertificate: %v", err)
	}
	a, err := NewAuthority(der, key)
	if err != nil {
		t.Fatalf("NewAuthority: %v", err)
	}
	return a
}

func newCSR(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// rfc7093SKI recomputes the expected key identifier independently.
func rfc7093SKI(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Alg pkix.AlgorithmIdentifier
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(info.Key.Bytes)
	return sum[:20]
}

func TestNewCACertificate(t *testing.T) {
	key := newKey(t)
	now := testNow.Add(123 * time.Millisecond)
	der, err := NewCACertificate(key, "default", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cert.Subject.String(), "CN=certctl-serverless CA default"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA=%v valid=%v MaxPathLen=%d zero=%v", cert.IsCA, cert.BasicConstraintsValid, cert.MaxPathLen, cert.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature; cert.KeyUsage != want {
		t.Errorf("key usage = %b, want %b", cert.KeyUsage, want)
	}
	if want := rfc7093SKI(t, &key.PublicKey); !bytes.Equal(cert.SubjectKeyId, want) {
		t.Errorf("SKI = %x, want %x", cert.SubjectKeyId, want)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() != 159 {
		t.Errorf("serial %x: sign %d, %d bits", cert.SerialNumber, cert.SerialNumber.Sign(), cert.SerialNumber.BitLen())
	}
	if want := testNow.Add(-5 * time.Minute); !cert.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", cert.NotBefore, want)
	}
	if want := testNow.AddDate(10, 0, 0); !cert.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", cert.NotAfter, want)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Errorf("self-signature: %v", err)
	}
}

func TestNewCACertificateErrors(t *testing.T) {
	key := newKey(t)
	if _, err := NewCACertificate(key, "Bad Issuer", testNow); err == nil || !strings.Contains(err.Error(), "issuer_id") {
		t.Errorf("bad issuer id: %v", err)
	}
	if _, err := NewCACertificate(key, "default", time.Time{}); err == nil {
		t.Error("zero time: no error")
	}
	if _, err := NewCACertificate(nil, "default", testNow); err == nil {
		t.Error("nil signer: no error")
	}
}

// opaqueSigner hides its key's Equal method.
type opaqueSigner struct{ key *ecdsa.PrivateKey }

func (s opaqueSigner) Public() crypto.PublicKey {
	return struct{ k *ecdsa.PublicKey }{&s.key.PublicKey}
}
func (s opaqueSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.key.Sign(r, d, o)
}

func TestNewAuthorityErrors(t *testing.T) {
	key := newKey(t)
	caDER, err := NewCACertificate(key, "default", testNow)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAuthority(t, testNow)
	leaf, err := a.Issue(LeafRequest{CSR: newCSR(t, key, &x509.CertificateRequest{}), CommonName: "a.example", DNSNames: []string{"a.example"}, Validity: time.Hour, KeyUsage: ecKU, ExtKeyUsage: serverAuth, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		der    []byte
		signer crypto.Signer
		want   string
	}{
		{"garbage", []byte("nope"), key, "parse CA certificate"},
		{"leaf certificate", leaf.DER, key, "not a CA certificate"},
		{"other key", caDER, newKey(t), "signer public key does not match"},
		{"nil signer", caDER, nil, "no signer"},
		{"incomparable key", caDER, opaqueSigner{key}, "cannot compare signer public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAuthority(tt.der, tt.signer)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewAuthority: %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	a := newTestAuthority(t, testNow.Add(-time.Hour))
	leafKey := newKey(t)
	// The CSR asks for more than it may get; only the request's names count.
	csr := newCSR(t, leafKey, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "www.example.com", Organization: []string{"Evil Corp"}},
		DNSNames: []string{"www.example.com", "other.example.com"},
	})
	req := LeafRequest{
		CSR:         csr,
		CommonName:  "www.example.com",
		DNSNames:    []string{"example.com", "www.example.com"},
		IPAddresses: []net.IP{net.ParseIP("192.0.2.1").To4()},
		Validity:    90 * 24 * time.Hour, KeyUsage: ecKU, ExtKeyUsage: serverAuth,
		Now: testNow,
	}
	leaf, err := a.Issue(req)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	cert, err := x509.ParseCertificate(leaf.DER)
	if err != nil {
		t.Fatal(err)
	}

	if got := cert.Subject.String(); got != "CN=www.example.com" {
		t.Errorf("subject = %q, want only the request CN", got)
	}
	if !slices.Equal(cert.DNSNames, req.DNSNames) {
		t.Errorf("DNS SANs = %q, want %q", cert.DNSNames, req.DNSNames)
	}
	if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(req.IPAddresses[0]) {
		t.Errorf("IP SANs = %v, want %v", cert.IPAddresses, req.IPAddresses)
	}
	if len(cert.EmailAddresses)+len(cert.URIs) != 0 {
		t.Errorf("unexpected SANs: %v %v", cert.EmailAddresses, cert.URIs)
	}
	if !leafKey.PublicKey.Equal(cert.PublicKey) {
		t.Error("leaf public key is not the CSR's")
	}
	if cert.IsCA || !cert.BasicConstraintsValid {
		t.Errorf("basic constraints: IsCA=%v valid=%v", cert.IsCA, cert.BasicConstraintsValid)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage = %b, want digitalSignature only", cert.KeyUsage)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || len(cert.UnknownExtKeyUsage) != 0 {
		t.Errorf("ext key usage = %v", cert.ExtKeyUsage)
	}
	if want := rfc7093SKI(t, &leafKey.PublicKey); !bytes.Equal(cert.SubjectKeyId, want) {
		t.Errorf("SKI = %x, want %x", cert.SubjectKeyId, want)
	}
	if !bytes.Equal(cert.AuthorityKeyId, a.Cert.SubjectKeyId) {
		t.Errorf("AKI = %x, want CA SKI %x", cert.AuthorityKeyId, a.Cert.SubjectKeyId)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() < 128 {
		t.Errorf("serial %x has %d bits", cert.SerialNumber, cert.SerialNumber.BitLen())
	}
	if leaf.SerialHex != cert.SerialNumber.Text(16) || leaf.SerialHex != strings.ToLower(leaf.SerialHex) || len(leaf.SerialHex) != 40 {
		t.Errorf("SerialHex = %q, serial %x", leaf.SerialHex, cert.SerialNumber)
	}
	if want := testNow.Add(-5 * time.Minute); !leaf.NotBefore.Equal(want) || !cert.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v / %v, want %v", leaf.NotBefore, cert.NotBefore, want)
	}
	// The whole lifetime is the validity asked for: NotBefore is backdated,
	// so NotAfter comes as much earlier.
	if want := testNow.Add(-ClockSkew).Add(req.Validity); !leaf.NotAfter.Equal(want) || !cert.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v / %v, want %v", leaf.NotAfter, cert.NotAfter, want)
	}
	sum := sha256.Sum256(leaf.DER)
	if leaf.FingerprintSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("fingerprint = %s", leaf.FingerprintSHA256)
	}
	if block, _ := pem.Decode([]byte(leaf.PEM)); block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, leaf.DER) {
		t.Error("PEM does not hold the DER")
	}
	if block, _ := pem.Decode([]byte(a.CAPEM())); block == nil || !bytes.Equal(block.Bytes, a.Cert.Raw) {
		t.Error("CAPEM does not hold the CA certificate")
	}

	roots := x509.NewCertPool()
	roots.AddCert(a.Cert)
	for _, name := range []string{"example.com", "www.example.com", "192.0.2.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: testNow}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example.com", CurrentTime: testNow}); err == nil {
		t.Error("leaf is valid for a name only the CSR asked for")
	}
}

func TestIssueRSAKeyEncipherment(t *testing.T) {
	a := newTestAuthority(t, testNow)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := a.Issue(LeafRequest{CSR: newCSR(t, key, &x509.CertificateRequest{}), CommonName: "rsa.example", DNSNames: []string{"rsa.example"}, Validity: time.Hour, KeyUsage: rsaKU, ExtKeyUsage: serverAuth, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(leaf.DER)
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; cert.KeyUsage != want {
		t.Errorf("key usage = %b, want %b", cert.KeyUsage, want)
	}
}

func TestIssueCappedAtCANotAfter(t *testing.T) {
	// The CA has one day left; a 90-day leaf must end with it.
	a := newTestAuthority(t, testNow.AddDate(-10, 0, 1))
	leaf, err := a.Issue(LeafRequest{CSR: newCSR(t, newKey(t), &x509.CertificateRequest{}), CommonName: "a.example", DNSNames: []string{"a.example"}, Validity: 90 * 24 * time.Hour, KeyUsage: ecKU, ExtKeyUsage: serverAuth, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotAfter.Equal(a.Cert.NotAfter) {
		t.Errorf("leaf NotAfter = %v, want CA NotAfter %v", leaf.NotAfter, a.Cert.NotAfter)
	}
	cert, _ := x509.ParseCertificate(leaf.DER)
	if !cert.NotAfter.Equal(a.Cert.NotAfter) {
		t.Errorf("encoded NotAfter = %v, want %v", cert.NotAfter, a.Cert.NotAfter)
	}
}

func TestIssueUniqueSerials(t *testing.T) {
	a := newTestAuthority(t, testNow)
	csr := newCSR(t, newKey(t), &x509.CertificateRequest{})
	seen := map[string]bool{}
	for range 20 {
		leaf, err := a.Issue(LeafRequest{CSR: csr, CommonName: "a.example", DNSNames: []string{"a.example"}, Validity: time.Hour, KeyUsage: ecKU, ExtKeyUsage: serverAuth, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if seen[leaf.SerialHex] {
			t.Fatalf("serial %s issued twice", leaf.SerialHex)
		}
		seen[leaf.SerialHex] = true
	}
}

func TestIssueErrors(t *testing.T) {
	a := newTestAuthority(t, testNow)
	csr := newCSR(t, newKey(t), &x509.CertificateRequest{})
	forged := *csr
	forged.Signature = slices.Clone(csr.Signature)
	forged.Signature[len(forged.Signature)-1] ^= 0xff
	valid := LeafRequest{CSR: csr, CommonName: "a.example", DNSNames: []string{"a.example"}, Validity: time.Hour, KeyUsage: ecKU, ExtKeyUsage: serverAuth, Now: testNow}

	tests := []struct {
		name   string
		modify func(*LeafRequest)
		want   string
	}{
		{"no CSR", func(r *LeafRequest) { r.CSR = nil }, "no CSR"},
		{"no common name", func(r *LeafRequest) { r.CommonName = "" }, "no common name"},
		{"no names", func(r *LeafRequest) { r.DNSNames = nil }, "no DNS names or IP addresses"},
		{"zero validity", func(r *LeafRequest) { r.Validity = 0 }, "validity 0s is not positive"},
		{"no time", func(r *LeafRequest) { r.Now = time.Time{} }, "no issuance time"},
		{"forged CSR", func(r *LeafRequest) { r.CSR = &forged }, "CSR signature"},
		{"CA expired", func(r *LeafRequest) { r.Now = testNow.AddDate(11, 0, 0) }, "CA certificate expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid
			tt.modify(&req)
			if _, err := a.Issue(req); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Issue: %v, want error containing %q", err, tt.want)
			}
		})
	}
}

var (
	ecKU       = []string{UsageDigitalSignature}
	rsaKU      = []string{UsageDigitalSignature, UsageKeyEncipherment}
	serverAuth = []string{ExtUsageServerAuth}
)

// The CA signs only the usages of a TLS server certificate for the key: a
// subject altered to ask for more is refused.
func TestIssueRefusesOtherUsages(t *testing.T) {
	a := newTestAuthority(t, testNow)
	csr := newCSR(t, newKey(t), &x509.CertificateRequest{})
	for _, req := range []LeafRequest{
		{KeyUsage: rsaKU, ExtKeyUsage: serverAuth},
		{KeyUsage: ecKU, ExtKeyUsage: []string{"serverAuth", "codeSigning"}},
		{KeyUsage: []string{"certSign"}, ExtKeyUsage: serverAuth},
	} {
		req.CSR, req.CommonName, req.DNSNames, req.Validity, req.Now = csr, "a.example", []string{"a.example"}, time.Hour, testNow
		if _, err := a.Issue(req); err == nil || !strings.Contains(err.Error(), "not those of a TLS server certificate") {
			t.Errorf("%v %v: %v", req.KeyUsage, req.ExtKeyUsage, err)
		}
	}
}
