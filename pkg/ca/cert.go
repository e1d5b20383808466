// Package ca issues X.509 certificates from a CA key held behind a
// crypto.Signer, normally a KMS key (package kmssigner), so the CA's private
// key never exists in this process. It makes the self-signed CA certificate
// (NewCACertificate) and signs TLS server certificates with exactly the
// names, validity and usages it is given (Authority.Issue).
package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

const (
	// ClockSkew backdates NotBefore so relying parties with slow clocks
	// accept a certificate the moment it is issued.
	ClockSkew = 5 * time.Minute
	// CAValidityYears is how long a CA certificate lives.
	CAValidityYears = 10
	// serialBits is the size of certificate serials: 159 bits with the top
	// one set, so every serial is positive, 20 bytes in DER (RFC 5280's
	// limit) and 40 hex digits, with 158 random bits.
	serialBits = 159
)

// NewCACertificate makes the self-signed CA certificate for issuerID and
// returns its DER. The subject key identifier is RFC 7093 §2 method 1: the
// leftmost 160 bits of the SHA-256 of the subjectPublicKey bit string.
func NewCACertificate(signer crypto.Signer, issuerID string, now time.Time) ([]byte, error) {
	if err := domain.ValidateID("issuer_id", issuerID); err != nil {
		return nil, fmt.Errorf("ca: new CA certificate: %w", err)
	}
	if signer == nil {
		return nil, errors.New("ca: new CA certificate: no signer")
	}
	if now.IsZero() {
		return nil, errors.New("ca: new CA certificate: no issuance time")
	}
	ski, err := subjectKeyID(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("ca: new CA certificate: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("ca: new CA certificate: %w", err)
	}
	now = now.UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "certctl-serverless CA " + issuerID},
		NotBefore:             now.Add(-ClockSkew),
		NotAfter:              now.AddDate(CAValidityYears, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true, // may sign leaves only, no intermediates
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          ski,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("ca: new CA certificate for issuer %s: %w", issuerID, err)
	}
	return der, nil
}

// subjectKeyID computes the key identifier of pub: RFC 7093 §2 method 1
// (truncated SHA-256), computed here so it does not depend on crypto/x509's
// default, which has changed across Go releases.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("parse public key info: %w", err)
	}
	sum := sha256.Sum256(info.PublicKey.Bytes)
	return sum[:20], nil
}

// newSerial returns a random serial of exactly serialBits bits.
func newSerial() (*big.Int, error) {
	top := new(big.Int).Lsh(big.NewInt(1), serialBits-1)
	n, err := rand.Int(rand.Reader, top)
	if err != nil {
		return nil, fmt.Errorf("random serial: %w", err)
	}
	return n.Or(n, top), nil
}
