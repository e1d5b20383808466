package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// Authority signs leaf certificates with a CA certificate and its key.
type Authority struct {
	Cert   *x509.Certificate
	Signer crypto.Signer
}

// NewAuthority parses the CA certificate and checks that it is a CA whose
// public key is the signer's. It fails closed: a signer it cannot compare
// with the certificate is refused.
func NewAuthority(caDER []byte, signer crypto.Signer) (*Authority, error) {
	cert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("ca: parse CA certificate: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("ca: certificate is not a CA certificate (needs basic constraints CA=true and key usage certSign)")
	}
	// Leaves take their authority key identifier from this.
	if len(cert.SubjectKeyId) == 0 {
		return nil, errors.New("ca: CA certificate has no subject key identifier")
	}
	if signer == nil {
		return nil, errors.New("ca: no signer")
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return nil, fmt.Errorf("ca: cannot compare signer public key of type %T with the CA certificate", signer.Public())
	}
	if !pub.Equal(cert.PublicKey) {
		return nil, errors.New("ca: signer public key does not match the CA certificate")
	}
	return &Authority{Cert: cert, Signer: signer}, nil
}

// CAPEM returns the CA certificate in PEM form.
func (a *Authority) CAPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Cert.Raw}))
}

// LeafRequest is what a leaf certificate is issued for. The names are
// already validated (see package csr) and Validity already capped by the
// profile.
type LeafRequest struct {
	CSR         *x509.CertificateRequest
	CommonName  string
	DNSNames    []string
	IPAddresses []net.IP
	// Validity is the whole lifetime, NotBefore (backdated by ClockSkew)
	// to NotAfter: a certificate never lives longer than its profile says.
	Validity time.Duration
	// KeyUsage and ExtKeyUsage name the extensions, as UsagesFor gives
	// them for the key; Issue refuses any other.
	KeyUsage    []string
	ExtKeyUsage []string
	// CRLDistributionPoints are URLs of the issuer's CRL, and
	// IssuingCertificateURL of its CA certificate (authority information
	// access), when the stack knows its public URL.
	CRLDistributionPoints []string
	IssuingCertificateURL []string
	Now                   time.Time
}

// Extension names, as subjects and approvers see them.
const (
	UsageDigitalSignature = "digitalSignature"
	UsageKeyEncipherment  = "keyEncipherment"
	ExtUsageServerAuth    = "serverAuth"
)

// UsagesFor returns the key usages and extended key usages of a TLS server
// certificate for pub: digitalSignature, plus keyEncipherment for RSA (TLS
// 1.2 RSA key exchange encrypts to the leaf key), and serverAuth.
func UsagesFor(pub any) (keyUsage, extKeyUsage []string) {
	keyUsage = []string{UsageDigitalSignature}
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		keyUsage = append(keyUsage, UsageKeyEncipherment)
	}
	return keyUsage, []string{ExtUsageServerAuth}
}

// Leaf is an issued certificate.
type Leaf struct {
	DER               []byte
	PEM               string
	SerialHex         string // lower-case hex, no separators
	NotBefore         time.Time
	NotAfter          time.Time
	FingerprintSHA256 string // lower-case hex of SHA-256 over DER
}

// Issue signs a TLS server certificate for req. Only the request's names go
// into it, never the CSR's subject or extensions; the CSR contributes its
// public key alone. NotAfter is capped at the CA's NotAfter, so a leaf never
// outlives its CA.
func (a *Authority) Issue(req LeafRequest) (*Leaf, error) {
	switch {
	case req.CSR == nil:
		return nil, errors.New("ca: issue: no CSR")
	case req.CommonName == "":
		return nil, errors.New("ca: issue: no common name")
	case len(req.DNSNames)+len(req.IPAddresses) == 0:
		return nil, errors.New("ca: issue: no DNS names or IP addresses")
	case req.Validity <= 0:
		return nil, fmt.Errorf("ca: issue: validity %v is not positive", req.Validity)
	case req.Now.IsZero():
		return nil, errors.New("ca: issue: no issuance time")
	}
	// Callers check the CSR first; checking again is cheap and keeps the CA
	// from ever signing a key whose possession was not proven.
	if err := req.CSR.CheckSignature(); err != nil {
		return nil, fmt.Errorf("ca: issue: CSR signature: %w", err)
	}

	wantKU, wantEKU := UsagesFor(req.CSR.PublicKey)
	if !slices.Equal(req.KeyUsage, wantKU) || !slices.Equal(req.ExtKeyUsage, wantEKU) {
		return nil, fmt.Errorf("ca: issue: usages %v %v are not those of a TLS server certificate for this key (%v %v)", req.KeyUsage, req.ExtKeyUsage, wantKU, wantEKU)
	}

	now := req.Now.UTC()
	notBefore := now.Add(-ClockSkew)
	notAfter := notBefore.Add(req.Validity)
	if caEnd := a.Cert.NotAfter; notAfter.After(caEnd) {
		notAfter = caEnd
	}
	if !notAfter.After(now) {
		return nil, fmt.Errorf("ca: issue: CA certificate expired at %s", a.Cert.NotAfter.Format(time.RFC3339))
	}

	ski, err := subjectKeyID(req.CSR.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("ca: issue: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("ca: issue: %w", err)
	}
	keyUsage := x509.KeyUsageDigitalSignature
	if slices.Contains(req.KeyUsage, UsageKeyEncipherment) {
		keyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.CommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          ski,
		CRLDistributionPoints: req.CRLDistributionPoints,
		IssuingCertificateURL: req.IssuingCertificateURL,
		// AuthorityKeyId is set by crypto/x509 from a.Cert.SubjectKeyId.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, req.CSR.PublicKey, a.Signer)
	if err != nil {
		return nil, fmt.Errorf("ca: issue certificate for %s: %w", req.CommonName, err)
	}
	// Report what was encoded (times are truncated to seconds), not the template.
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parse issued certificate: %w", err)
	}
	sum := sha256.Sum256(der)
	return &Leaf{
		DER:               der,
		PEM:               string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		SerialHex:         cert.SerialNumber.Text(16),
		NotBefore:         cert.NotBefore,
		NotAfter:          cert.NotAfter,
		FingerprintSHA256: hex.EncodeToString(sum[:]),
	}, nil
}
