package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// Key types --new-key makes; the names are the profile's key algorithms.
var keyTypes = []string{"ECDSA_P256", "ECDSA_P384", "ECDSA_P521", "RSA_2048", "RSA_3072", "RSA_4096", "ED25519"}

// newKey generates a private key of a --key-type.
func newKey(kind string) (crypto.Signer, error) {
	switch strings.ToUpper(kind) {
	case "ECDSA_P256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECDSA_P384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ECDSA_P521":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RSA_2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "RSA_3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "RSA_4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "ED25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("--key-type %q: want one of %s", kind, strings.Join(keyTypes, ", "))
}

// newKeyAndCSR makes a key and a CSR for cn and names (DNS names or IP
// addresses; cn is among them), writes the key to keyPath (0600, never over
// an existing file) and returns the CSR's PEM. The key never leaves this
// machine: only the CSR is sent.
func newKeyAndCSR(kind, keyPath, cn string, names []string) (string, error) {
	key, err := newKey(kind)
	if err != nil {
		return "", err
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}
	seen := map[string]bool{}
	for _, n := range append([]string{cn}, names...) {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return "", fmt.Errorf("making the CSR: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	if err := writeNewFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})); err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// writeNewFile writes b to a file that must not exist yet, readable by its
// owner only.
func writeNewFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: refusing to overwrite a key (choose another --key-out)", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// readCSR reads a PEM file, or stdin for "-", and refuses a private key
// before anything is sent: a key passed by mistake must never reach the
// server. The API refuses bodies over 256 KiB, so reading more would only
// fail later.
func (r *runner) readCSR(path string) (string, error) {
	var rd io.Reader
	if path == "-" {
		rd = r.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		rd = f
	}
	b, err := io.ReadAll(io.LimitReader(rd, 256<<10))
	if err != nil {
		return "", fmt.Errorf("reading the CSR: %w", err)
	}
	if holdsPrivateKey(b) {
		name := path
		if path == "-" {
			name = "stdin"
		}
		return "", fmt.Errorf("%s holds a private key, not a certificate request: nothing was sent. "+
			"Pass the CSR (openssl req -new … -out web.csr), or let certctl make both with --new-key", name)
	}
	return string(b), nil
}

// holdsPrivateKey reports a PEM private key of any kind in b (PKCS#8, EC,
// RSA, OpenSSH, encrypted), or DER that parses as one.
func holdsPrivateKey(b []byte) bool {
	if strings.Contains(string(b), "PRIVATE KEY-----") {
		return true
	}
	if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		return true
	}
	if _, err := x509.ParseECPrivateKey(b); err == nil {
		return true
	}
	_, err := x509.ParsePKCS1PrivateKey(b)
	return err == nil
}
