package kmssigner

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/sivchari/kumo"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
)

// TestKMSIntegration runs the CA over the real KMS wire protocol against the
// in-process kumo emulator: CreateKey, GetPublicKey and Sign all go through
// the AWS SDK.
func TestKMSIntegration(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	client := kms.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	created, err := client.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:  types.KeySpecEccNistP256,
		KeyUsage: types.KeyUsageTypeSignVerify,
	})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keyID := aws.ToString(created.KeyMetadata.KeyId)

	signer, err := New(ctx, client, keyID)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	now := time.Now()
	caDER, err := ca.NewCACertificate(signer, "default", now)
	if err != nil {
		t.Fatalf("ca.NewCACertificate: %v", err)
	}
	authority, err := ca.NewAuthority(caDER, signer)
	if err != nil {
		t.Fatalf("ca.NewAuthority: %v", err)
	}

	leafKey := newKey(t)
	csr := newCSR(t, leafKey, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "svc.example.com"},
		DNSNames: []string{"svc.example.com", "api.example.com"},
	})
	dnsNames := []string{"api.example.com", "svc.example.com"}
	leaf, err := authority.Issue(ca.LeafRequest{
		CSR:         csr,
		CommonName:  "svc.example.com",
		DNSNames:    dnsNames,
		IPAddresses: []net.IP{net.ParseIP("10.1.2.3").To4()},
		Validity:    30 * 24 * time.Hour, KeyUsage: ecKU, ExtKeyUsage: serverAuth,
		Now: now,
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}

	cert, err := x509.ParseCertificate(leaf.DER)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(authority.Cert)
	for _, name := range []string{"api.example.com", "svc.example.com", "10.1.2.3"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if !slices.Equal(cert.DNSNames, dnsNames) || len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("10.1.2.3")) {
		t.Errorf("SANs = %q %v", cert.DNSNames, cert.IPAddresses)
	}
	if !bytes.Equal(cert.AuthorityKeyId, authority.Cert.SubjectKeyId) {
		t.Errorf("AKI = %x, want CA SKI %x", cert.AuthorityKeyId, authority.Cert.SubjectKeyId)
	}
	if cert.SerialNumber.BitLen() < 128 {
		t.Errorf("serial has %d bits", cert.SerialNumber.BitLen())
	}
	if cert.NotAfter.After(authority.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v is after the CA's %v", cert.NotAfter, authority.Cert.NotAfter)
	}

	opensslVerify(t, authority.CAPEM(), leaf.PEM)
}

// opensslVerify checks the chain with an independent implementation when
// openssl is installed.
func opensslVerify(t *testing.T, caPEM, leafPEM string) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("openssl not on PATH; skipping openssl verify")
		return
	}
	dir := t.TempDir()
	caFile, leafFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(caFile, []byte(caPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leafFile, []byte(leafPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", caFile, leafFile).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	t.Logf("openssl verify: %s", bytes.TrimSpace(out))
}
