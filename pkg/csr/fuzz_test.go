package csr

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// seedCSRs returns valid CSRs of each key type for the fuzz corpora.
func seedCSRs(f *testing.F) []string {
	ecKey, rsaKey := testKeys(f)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	return []string{
		makeCSR(f, ecKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}, DNSNames: []string{"example.com", "www.example.com"}}),
		makeCSR(f, rsaKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "10.0.0.1"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}),
		makeCSR(f, edKey, &x509.CertificateRequest{}),
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range seedCSRs(f) {
		f.Add(s)
	}
	f.Add("")
	f.Add("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n")
	f.Fuzz(func(t *testing.T, pemText string) {
		req, err := Parse(pemText)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error %q does not wrap domain.ErrInvalid", err)
			}
			return
		}
		if err := req.CheckSignature(); err != nil {
			t.Fatalf("Parse accepted a CSR whose signature does not verify: %v", err)
		}
	})
}

// FuzzCheck takes the SANs as one comma-separated string, since fuzz
// arguments must be basic types.
func FuzzCheck(f *testing.F) {
	seeds := seedCSRs(f)
	f.Add(seeds[0], "example.com", "www.example.com")
	f.Add(seeds[0], "EXAMPLE.com", "*.example.com,www.example.com,10.1.1.1")
	f.Add(seeds[1], "10.0.0.1", "")
	f.Add(seeds[1], "10.0.0.1", "::ffff:10.0.0.1,2001:db8::1")
	f.Add(seeds[2], "host", "a_b.example.com")
	profile := &domain.Profile{ID: "all", AllowedNames: anyName, AllowedKeyAlgorithms: domain.KnownKeyAlgorithms}

	f.Fuzz(func(t *testing.T, pemText, commonName, sanList string) {
		var sans []string
		if sanList != "" {
			sans = strings.Split(sanList, ",")
		}
		got, err := Check(pemText, commonName, sans, profile)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error %q does not wrap domain.ErrInvalid", err)
			}
			return
		}
		if !profile.AllowsKey(got.KeyAlgorithm) {
			t.Fatalf("accepted key algorithm %q", got.KeyAlgorithm)
		}
		if !slices.IsSorted(got.DNSNames) || len(slices.Compact(slices.Clone(got.DNSNames))) != len(got.DNSNames) {
			t.Fatalf("DNSNames not sorted and unique: %q", got.DNSNames)
		}
		if len(got.DNSNames)+len(got.IPAddresses) == 0 {
			t.Fatal("accepted a request without names")
		}
		for _, name := range got.DNSNames {
			if name != strings.ToLower(name) || len(name) > maxDNSNameLen {
				t.Fatalf("bad normalised name %q", name)
			}
		}
		for _, name := range got.Request.DNSNames {
			if _, ok := slices.BinarySearch(got.DNSNames, strings.ToLower(name)); !ok {
				t.Fatalf("CSR DNS SAN %q not among %q", name, got.DNSNames)
			}
		}
		for _, ip := range got.Request.IPAddresses {
			if !slices.ContainsFunc(got.IPAddresses, ip.Equal) {
				t.Fatalf("CSR IP SAN %s not among %v", ip, got.IPAddresses)
			}
		}
		if len(got.Request.EmailAddresses)+len(got.Request.URIs) > 0 {
			t.Fatal("accepted email or URI SANs")
		}
	})
}
