package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Keys are generated once per test binary: RSA generation is slow.
var (
	keysOnce sync.Once
	p256Key  *ecdsa.PrivateKey
	rsaKey   *rsa.PrivateKey
)

func testKeys(tb testing.TB) (*ecdsa.PrivateKey, *rsa.PrivateKey) {
	tb.Helper()
	keysOnce.Do(func() {
		var err error
		if p256Key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return p256Key, rsaKey
}

// makeCSR signs tmpl with key and returns the PEM text.
func makeCSR(tb testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) string {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		tb.Fatalf("create CSR: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// wantInvalid checks err is a csr validation error mentioning want.
func wantInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("error %q does not wrap domain.ErrInvalid", err)
	}
	msg := strings.TrimPrefix(err.Error(), domain.ErrInvalid.Error()+": ")
	if !strings.HasPrefix(msg, "csr: ") {
		t.Errorf("error %q: message does not start with \"csr: \"", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

// anyName allows every name the tests use.
var anyName = []domain.NamePattern{"example.com", "**.example.com", "example.net", "**.example.net", "example.org", "**.example.org", "localhost", "192.0.2.1", "10.0.0.1"}
