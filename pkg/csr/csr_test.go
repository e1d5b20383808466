package csr

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"

	"crypto/sha256"
	"encoding/hex"
	"os"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func TestParse(t *testing.T) {
	ecKey, _ := testKeys(t)
	valid := makeCSR(t, ecKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}})
	block, _ := pem.Decode([]byte(valid))

	// Changing a byte of the signed part keeps the CSR parseable but breaks
	// its signature.
	tampered := bytes.Replace(block.Bytes, []byte("example.com"), []byte("exbmple.com"), 1)
	encode := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}

	tests := []struct {
		name string
		pem  string
		want string // error substring; empty means success
	}{
		{"valid", valid, ""},
		{"surrounding whitespace", "\n\n  " + valid + "\n\n", ""},
		{"empty", "", "PEM is empty"},
		{"blank", " \n\t", "PEM is empty"},
		{"not PEM", "hello", "no PEM block found"},
		{"too big", valid + strings.Repeat(" ", MaxPEMSize), "more than the 16384 allowed"},
		{"text before", "Certificate Request:\n" + valid, "unexpected text before the PEM block"},
		{"two blocks", valid + valid, "exactly one CSR is allowed"},
		{"trailing text", valid + "junk", "unexpected data besides the PEM block"},
		{"broken block first", "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n" + valid, "exactly one CSR is allowed"},
		{"wrong type", encode("CERTIFICATE", block.Bytes), `PEM block type is "CERTIFICATE"`},
		{"old type", encode("NEW CERTIFICATE REQUEST", block.Bytes), `want "CERTIFICATE REQUEST"`},
		{"headers", string(pem.EncodeToMemory(&pem.Block{Type: pemType, Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: block.Bytes})), "must not have headers"},
		{"bad DER", encode(pemType, []byte{0x30, 0x03, 0x02, 0x01, 0x01}), "cannot parse"},
		{"trailing DER", encode(pemType, append(slices.Clone(block.Bytes), 0)), "cannot parse"},
		{"bad signature", encode(pemType, tampered), "signature does not verify"},
		{"SHA-1 signature", sha1CSR(t), "signature algorithm SHA1-RSA is not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(tt.pem)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if req.Subject.CommonName != "example.com" {
					t.Errorf("CN = %q", req.Subject.CommonName)
				}
				return
			}
			wantInvalid(t, err, tt.want)
		})
	}
}

// sha1CSR builds an RSA CSR signed with SHA-1 by hand, since crypto/x509
// refuses to create one.
func sha1CSR(t *testing.T) string {
	t.Helper()
	_, key := testKeys(t)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &raw); err != nil {
		t.Fatal(err)
	}
	digest := sha1.Sum(raw.TBS.FullBytes)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	raw.Algorithm = pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, Parameters: asn1.NullRawValue}
	raw.Signature = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	out, err := asn1.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: out}))
}

func TestKeyAlgorithm(t *testing.T) {
	rsaOf := func(bits int) *rsa.PublicKey {
		// Only the modulus size matters here, so skip slow key generation.
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		return &rsa.PublicKey{N: n.SetBit(n, 0, 1), E: 65537}
	}
	ecOf := func(c elliptic.Curve) *ecdsa.PublicKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &k.PublicKey
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)

	tests := []struct {
		name    string
		pub     any
		want    string
		wantErr string
	}{
		{"RSA 2048", rsaOf(2048), domain.KeyRSA2048, ""},
		{"RSA 3072", rsaOf(3072), domain.KeyRSA3072, ""},
		{"RSA 4096", rsaOf(4096), domain.KeyRSA4096, ""},
		{"RSA 1024", rsaOf(1024), "RSA_1024", ""},
		{"RSA 2047", rsaOf(2047), "RSA_2047", ""},
		{"RSA 8192", rsaOf(8192), "RSA_8192", ""},
		{"P-256", ecOf(elliptic.P256()), domain.KeyECDSAP256, ""},
		{"P-384", ecOf(elliptic.P384()), domain.KeyECDSAP384, ""},
		{"P-521", ecOf(elliptic.P521()), domain.KeyECDSAP521, ""},
		{"P-224", ecOf(elliptic.P224()), "", "unsupported ECDSA curve P-224"},
		{"Ed25519", edPub, domain.KeyEd25519, ""},
		{"short Ed25519", edPub[:31], "", "Ed25519 public key is 31 bytes"},
		{"nil RSA", (*rsa.PublicKey)(nil), "", "empty RSA public key"},
		{"nil ECDSA", (*ecdsa.PublicKey)(nil), "", "empty ECDSA public key"},
		{"X25519", x25519.PublicKey(), "", "unsupported public key type *ecdh.PublicKey"},
		{"nil", nil, "", "unsupported public key type <nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KeyAlgorithm(tt.pub)
			if tt.wantErr != "" {
				wantInvalid(t, err, tt.wantErr)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("KeyAlgorithm = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	ecKey, rsaKey := testKeys(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p384Key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	profile := &domain.Profile{ID: "web", AllowedNames: []domain.NamePattern{"example.com", "**.example.com", "10.0.0.1", "2001:db8::1"}, AllowedKeyAlgorithms: []string{domain.KeyECDSAP256, domain.KeyRSA2048, domain.KeyEd25519}}

	cn := func(s string) pkix.Name { return pkix.Name{CommonName: s} }
	mustURL, _ := url.Parse("spiffe://example.com/web")

	tests := []struct {
		name    string
		csr     string
		cn      string
		sans    []string
		wantErr string
		wantDNS []string
		wantIPs []string
	}{
		{
			name:    "ECDSA with matching names",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{Subject: cn("www.example.com"), DNSNames: []string{"www.example.com", "example.com"}}),
			cn:      "www.example.com",
			sans:    []string{"example.com"},
			wantDNS: []string{"example.com", "www.example.com"},
		},
		{
			name:    "RSA 2048",
			csr:     makeCSR(t, rsaKey, &x509.CertificateRequest{Subject: cn("example.com")}),
			cn:      "example.com",
			wantDNS: []string{"example.com"},
		},
		{
			name:    "Ed25519",
			csr:     makeCSR(t, edKey, &x509.CertificateRequest{Subject: cn("example.com")}),
			cn:      "example.com",
			wantDNS: []string{"example.com"},
		},
		{
			name:    "empty CSR subject and no SANs",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{}),
			cn:      "example.com",
			sans:    []string{"api.example.com"},
			wantDNS: []string{"api.example.com", "example.com"},
		},
		{
			name:    "names compare case-insensitively",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{Subject: cn("WWW.Example.COM"), DNSNames: []string{"API.example.com"}}),
			cn:      "www.example.com",
			sans:    []string{"api.EXAMPLE.com"},
			wantDNS: []string{"api.example.com", "www.example.com"},
		},
		{
			name:    "IP names",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{Subject: cn("10.0.0.1"), IPAddresses: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("2001:db8::1")}}),
			cn:      "10.0.0.1",
			sans:    []string{"2001:db8:0::1", "host.example.com"},
			wantDNS: []string{"host.example.com"},
			wantIPs: []string{"10.0.0.1", "2001:db8::1"},
		},
		{
			name:    "key algorithm not allowed",
			csr:     makeCSR(t, p384Key, &x509.CertificateRequest{Subject: cn("example.com")}),
			cn:      "example.com",
			wantErr: `key algorithm ECDSA_P384 is not allowed by profile "web" (allowed: ECDSA_P256, RSA_2048, ED25519)`,
		},
		{
			name:    "unparseable CSR",
			csr:     "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
			cn:      "example.com",
			wantErr: "csr: cannot parse",
		},
		{
			name:    "CSR CN differs",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{Subject: cn("evil.example.net")}),
			cn:      "example.com",
			wantErr: `subject common name "evil.example.net" does not match common_name "example.com"`,
		},
		{
			name:    "CSR CN IP differs",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{Subject: cn("10.0.0.2")}),
			cn:      "10.0.0.1",
			wantErr: `subject common name "10.0.0.2" does not match common_name "10.0.0.1"`,
		},
		{
			name: "second CSR CN differs",
			csr: makeCSR(t, ecKey, &x509.CertificateRequest{Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
				{Type: oidCommonName, Value: "example.com"}, {Type: oidCommonName, Value: "evil.example.net"},
			}}}),
			cn:      "example.com",
			wantErr: `subject common name "evil.example.net" does not match`,
		},
		{
			name:    "DNS SAN not requested",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{DNSNames: []string{"example.com", "other.example.com"}}),
			cn:      "example.com",
			wantErr: `DNS SAN "other.example.com" is not among the requested names [example.com]`,
		},
		{
			name:    "IP SAN not requested",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{IPAddresses: []net.IP{net.ParseIP("192.0.2.7")}}),
			cn:      "example.com",
			sans:    []string{"192.0.2.8"},
			wantErr: "IP SAN 192.0.2.7 is not among the requested IP addresses [192.0.2.8]",
		},
		{
			name:    "email SAN",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{EmailAddresses: []string{"a@example.com"}}),
			cn:      "example.com",
			wantErr: `email address SANs are not allowed (found "a@example.com")`,
		},
		{
			name:    "URI SAN",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{URIs: []*url.URL{mustURL}}),
			cn:      "example.com",
			wantErr: `URI SANs are not allowed (found "spiffe://example.com/web")`,
		},
		{
			name:    "bad request name",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{}),
			cn:      "example.com",
			sans:    []string{"bad_name.example.com"},
			wantErr: `sans[0] "bad_name.example.com" is not a valid DNS name or IP address`,
		},
		{
			name:    "missing common name",
			csr:     makeCSR(t, ecKey, &x509.CertificateRequest{}),
			wantErr: "common_name is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check(tt.csr, tt.cn, tt.sans, profile)
			if tt.wantErr != "" {
				wantInvalid(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got.Request == nil || !profile.AllowsKey(got.KeyAlgorithm) {
				t.Errorf("Checked = %+v", got)
			}
			if !slices.Equal(got.DNSNames, tt.wantDNS) {
				t.Errorf("DNSNames = %q, want %q", got.DNSNames, tt.wantDNS)
			}
			if ips := ipStrings(got.IPAddresses); !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IPAddresses = %q, want %q", ips, tt.wantIPs)
			}
		})
	}
}

func TestCheckNilProfile(t *testing.T) {
	ecKey, _ := testKeys(t)
	_, err := Check(makeCSR(t, ecKey, &x509.CertificateRequest{}), "example.com", nil, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "csr: ") {
		t.Fatalf("Check with nil profile: %v", err)
	}
}

func TestCheckRSASizeNeverAllowed(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Skipf("cannot generate 1024-bit RSA key here: %v", err)
	}
	profile := &domain.Profile{ID: "all", AllowedNames: anyName, AllowedKeyAlgorithms: domain.KnownKeyAlgorithms}
	_, err = Check(makeCSR(t, key, &x509.CertificateRequest{}), "example.com", nil, profile)
	wantInvalid(t, err, "key algorithm RSA_1024 is not allowed")
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// Keys this CA does not issue for are named, not blamed on the signature.
func TestUnsupportedKeyTypesAreNamed(t *testing.T) {
	profile := &domain.Profile{ID: "all", AllowedNames: anyName, AllowedKeyAlgorithms: domain.KnownKeyAlgorithms}
	for file, want := range map[string]string{
		"testdata/dsa.csr":   "csr: DSA keys are not accepted; use an ECDSA",
		"testdata/ed448.csr": "csr: Ed448 keys are not supported; use an ECDSA",
	} {
		pemText, err := os.ReadFile(file) // made with openssl req -new
		if err != nil {
			t.Fatal(err)
		}
		_, err = Check(string(pemText), "a.example.com", nil, profile)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
}

// A profile issues only the names its allowed_names cover, and the
// fingerprint is the SHA-256 of the key's SubjectPublicKeyInfo.
func TestAllowedNamesAndFingerprint(t *testing.T) {
	ecKey, _ := testKeys(t)
	profile := &domain.Profile{ID: "web", AllowedNames: []domain.NamePattern{"*.example.com"}, AllowedKeyAlgorithms: []string{domain.KeyECDSAP256}}
	pemText := makeCSR(t, ecKey, &x509.CertificateRequest{})
	c, err := Check(pemText, "www.example.com", []string{"api.example.com"}, profile)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(ecKey.Public())
	sum := sha256.Sum256(spki)
	if c.PublicKeySHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("fingerprint %s", c.PublicKeySHA256)
	}
	for _, names := range [][]string{{"example.com"}, {"a.b.example.com"}, {"10.0.0.1"}} {
		_, err := Check(pemText, "www.example.com", names, profile)
		if err == nil || !strings.Contains(err.Error(), "is not among the names profile \"web\" may issue") {
			t.Errorf("%v: %v", names, err)
		}
	}
}
