// Package csr checks certificate signing requests against a request's names
// and a profile's key policy before anything is signed. It is pure: no I/O.
//
// Every error it returns for a bad CSR or bad names is a domain.Error of
// kind KindInvalid (errors.Is(err, domain.ErrInvalid) holds), and its public
// message starts with "csr: ".
package csr

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// MaxPEMSize caps the PEM text Parse accepts. A CSR with a 4096-bit RSA key
// and a hundred names fits comfortably.
const MaxPEMSize = 16 << 10

const pemType = "CERTIFICATE REQUEST"

// Checked is a CSR that passed every check.
type Checked struct {
	Request      *x509.CertificateRequest
	KeyAlgorithm string // a domain.KnownKeyAlgorithms name the profile allows
	// PublicKeySHA256 is the lower-case hex SHA-256 of the key's
	// SubjectPublicKeyInfo, as approvers see it.
	PublicKeySHA256 string
	DNSNames        []string // request CN (if a DNS name) and DNS SANs: lower-case, deduplicated, sorted
	IPAddresses     []net.IP // request CN (if an IP) and IP SANs: deduplicated, sorted
}

// Parse decodes a single PEM "CERTIFICATE REQUEST" block and verifies the
// CSR's self-signature, which proves the requester holds the private key.
func Parse(pemText string) (*x509.CertificateRequest, error) {
	if len(pemText) > MaxPEMSize {
		return nil, domain.Invalidf("csr: PEM is %d bytes, more than the %d allowed", len(pemText), MaxPEMSize)
	}
	text := strings.TrimSpace(pemText)
	if text == "" {
		return nil, domain.Invalidf("csr: PEM is empty")
	}
	block, rest := pem.Decode([]byte(text))
	if block == nil {
		return nil, domain.Invalidf("csr: no PEM block found")
	}
	// pem.Decode skips text before the block; refuse it so that what is
	// stored is exactly one CSR and nothing else.
	if !strings.HasPrefix(text, "-----BEGIN ") {
		return nil, domain.Invalidf("csr: unexpected text before the PEM block")
	}
	if block.Type != pemType {
		return nil, domain.Invalidf("csr: PEM block type is %q, want %q", block.Type, pemType)
	}
	if len(block.Headers) != 0 {
		return nil, domain.Invalidf("csr: PEM block must not have headers")
	}
	// Counting BEGIN lines also catches a malformed block before the good
	// one, which pem.Decode would silently skip.
	if len(rest) != 0 || strings.Count(text, "-----BEGIN") != 1 {
		return nil, domain.Invalidf("csr: unexpected data besides the PEM block (exactly one CSR is allowed)")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, domain.Invalidf("csr: cannot parse: %v", err)
	}
	// Name the key first: an unsupported key also has a signature
	// algorithm Go does not know, and "use SHA-256" would mislead.
	if err := checkKeyType(req); err != nil {
		return nil, err
	}
	if err := checkSignatureAlgorithm(req.SignatureAlgorithm); err != nil {
		return nil, err
	}
	if err := req.CheckSignature(); err != nil {
		return nil, domain.Invalidf("csr: signature does not verify: %v", err)
	}
	return req, nil
}

// supportedKeys is said in every refusal of a key type.
const supportedKeys = "use an ECDSA (P-256, P-384, P-521), RSA (2048, 3072, 4096 bits) or Ed25519 key"

var keyOIDs = map[string]string{
	"1.2.840.10040.4.1": "DSA",
	"1.3.101.110":       "X25519",
	"1.3.101.111":       "X448",
	"1.3.101.113":       "Ed448",
}

// checkKeyType refuses key types this CA does not issue for, by name.
func checkKeyType(req *x509.CertificateRequest) error {
	if req.PublicKeyAlgorithm == x509.DSA {
		return domain.Invalidf("csr: DSA keys are not accepted; %s", supportedKeys)
	}
	if req.PublicKeyAlgorithm != x509.UnknownPublicKeyAlgorithm && req.PublicKey != nil {
		return nil
	}
	var spki struct {
		Algorithm struct {
			OID asn1.ObjectIdentifier
		}
	}
	name := "unknown"
	if _, err := asn1.Unmarshal(req.RawSubjectPublicKeyInfo, &spki); err == nil {
		name = spki.Algorithm.OID.String()
		if known, ok := keyOIDs[name]; ok {
			name = known
		}
	}
	return domain.Invalidf("csr: %s keys are not supported; %s", name, supportedKeys)
}

// checkSignatureAlgorithm refuses algorithms that crypto/x509 still verifies
// on CSRs for compatibility but that no CA should accept, such as SHA-1.
func checkSignatureAlgorithm(alg x509.SignatureAlgorithm) error {
	switch alg {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512,
		x509.PureEd25519:
		return nil
	}
	if alg == x509.UnknownSignatureAlgorithm {
		return domain.Invalidf("csr: the signature algorithm is not one this CA knows (sign with SHA-256 or stronger)")
	}
	return domain.Invalidf("csr: signature algorithm %v is not accepted (use SHA-256 or stronger)", alg)
}

// KeyAlgorithm names a public key's algorithm as profiles do. RSA keys of a
// size other than 2048, 3072 or 4096 bits are named "RSA_<bits>", a name no
// profile can allow. Unsupported key types and curves are errors.
func KeyAlgorithm(pub any) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "", domain.Invalidf("csr: empty RSA public key")
		}
		switch bits := k.N.BitLen(); bits {
		case 2048:
			return domain.KeyRSA2048, nil
		case 3072:
			return domain.KeyRSA3072, nil
		case 4096:
			return domain.KeyRSA4096, nil
		default:
			return fmt.Sprintf("RSA_%d", bits), nil
		}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", domain.Invalidf("csr: empty ECDSA public key")
		}
		switch k.Curve {
		case elliptic.P256():
			return domain.KeyECDSAP256, nil
		case elliptic.P384():
			return domain.KeyECDSAP384, nil
		case elliptic.P521():
			return domain.KeyECDSAP521, nil
		}
		return "", domain.Invalidf("csr: unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", domain.Invalidf("csr: Ed25519 public key is %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return domain.KeyEd25519, nil
	}
	return "", domain.Invalidf("csr: unsupported public key type %T", pub)
}

// Check parses pemText and checks it against the request's names and the
// profile: the signature verifies, the key algorithm is allowed, the CSR's
// subject CN (if any) is the request's common name, every DNS and IP SAN in
// the CSR is one of the request's names, and there are no email or URI SANs.
// The certificate is issued for the request's names, never the CSR's, so a
// CSR may name fewer names than the request but never others.
func Check(pemText, commonName string, sans []string, profile *domain.Profile) (*Checked, error) {
	if profile == nil {
		// A caller bug, not a bad request, so not ErrInvalid.
		return nil, errors.New("csr: check: no profile given")
	}
	req, err := Parse(pemText)
	if err != nil {
		return nil, err
	}
	alg, err := KeyAlgorithm(req.PublicKey)
	if err != nil {
		return nil, err
	}
	if !profile.AllowsKey(alg) {
		return nil, domain.Invalidf("csr: key algorithm %s is not allowed by profile %q (allowed: %s)",
			alg, profile.ID, strings.Join(profile.AllowedKeyAlgorithms, ", "))
	}
	dns, ips, err := NormalizeNames(commonName, sans)
	if err != nil {
		return nil, err
	}
	if err := checkSubjectCN(req, commonName); err != nil {
		return nil, err
	}
	if err := checkSANs(req, dns, ips); err != nil {
		return nil, err
	}
	for _, name := range allNames(dns, ips) {
		if !profile.AllowsName(name) {
			return nil, domain.Invalidf("csr: %s is not among the names profile %q may issue (allowed_names: %s)", name, profile.ID, joinPatterns(profile.AllowedNames))
		}
	}
	sum := sha256.Sum256(req.RawSubjectPublicKeyInfo)
	return &Checked{Request: req, KeyAlgorithm: alg, PublicKeySHA256: hex.EncodeToString(sum[:]), DNSNames: dns, IPAddresses: ips}, nil
}

// allNames lists the DNS names and the IP addresses, in their string form.
func allNames(dns []string, ips []net.IP) []string {
	out := slices.Clone(dns)
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func joinPatterns(ps []domain.NamePattern) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = string(p)
	}
	return strings.Join(parts, ", ")
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// checkSubjectCN requires every CN attribute in the CSR subject to be the
// request's common name. pkix.Name.CommonName keeps only the last CN, so the
// raw attributes are walked instead.
func checkSubjectCN(req *x509.CertificateRequest, commonName string) error {
	wantIP, isIP := parseIP(commonName)
	for _, atv := range req.Subject.Names {
		if !atv.Type.Equal(oidCommonName) {
			continue
		}
		got, ok := atv.Value.(string)
		if !ok {
			return domain.Invalidf("csr: subject common name is not a string")
		}
		if got == "" {
			continue
		}
		var match bool
		if isIP {
			gotIP, ok := parseIP(got)
			match = ok && gotIP.Equal(wantIP)
		} else {
			match = strings.EqualFold(got, commonName)
		}
		if !match {
			return domain.Invalidf("csr: subject common name %q does not match common_name %q", got, commonName)
		}
	}
	return nil
}

// checkSANs requires each DNS and IP SAN in the CSR to be one of the request's
// names and refuses email and URI SANs, which this CA never issues.
func checkSANs(req *x509.CertificateRequest, dns []string, ips []net.IP) error {
	if len(req.EmailAddresses) > 0 {
		return domain.Invalidf("csr: email address SANs are not allowed (found %q)", req.EmailAddresses[0])
	}
	if len(req.URIs) > 0 {
		return domain.Invalidf("csr: URI SANs are not allowed (found %q)", req.URIs[0].String())
	}
	for _, name := range req.DNSNames {
		if _, found := slices.BinarySearch(dns, strings.ToLower(name)); !found {
			return domain.Invalidf("csr: DNS SAN %q is not among the requested names %v", name, dns)
		}
	}
	for _, ip := range req.IPAddresses {
		if !slices.ContainsFunc(ips, ip.Equal) {
			return domain.Invalidf("csr: IP SAN %s is not among the requested IP addresses %v", ip, ips)
		}
	}
	return nil
}
