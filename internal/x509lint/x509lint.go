// Package x509lint runs zlint over what the CA signs (certificates and
// CRLs) for tests. Findings at warning level or worse fail, except the
// lints listed in exceptions, each with the reason it does not apply to a
// private CA. Only tests import this package: zlint never reaches a
// function binary.
package x509lint

import (
	"fmt"
	"maps"
	"sort"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// exceptions are lints that fire on what this CA issues by design: rules of
// the CA/Browser Forum's Baseline Requirements for publicly trusted CAs that
// a private CA does not follow, each with the reason. Every other warning or
// error is a finding. The README lists them too.
var exceptions = map[string]string{
	// The CRL and the CA certificate are served by API Gateway, which
	// speaks HTTPS only. The Baseline Requirements ask for plain HTTP so
	// that fetching revocation data never depends on a certificate of the
	// same PKI; here the endpoint's TLS certificate is AWS's, not one this
	// CA issued, so that loop cannot happen.
	"e_crl_distrib_points_not_http":                           "https distribution point (API Gateway is HTTPS only)",
	"e_sub_cert_crl_distribution_points_does_not_contain_url": "https distribution point (API Gateway is HTTPS only)",
	"w_distribution_point_missing_ldap_or_uri":                "https distribution point (API Gateway is HTTPS only)",
	"e_aia_ca_issuers_must_have_http_only":                    "https caIssuers (API Gateway is HTTPS only)",
	"w_sub_cert_aia_does_not_contain_issuing_ca_url":          "https caIssuers (API Gateway is HTTPS only)",
	"w_ext_aia_access_location_missing":                       "https caIssuers (API Gateway is HTTPS only)",
	// A private CA names internal hosts, including RFC 1918 addresses.
	"e_ext_san_contains_reserved_ip": "private CA: internal (RFC 1918) addresses are what it is for",
	// Local mode (and the test suites) serve the CRL and the CA certificate
	// on the loopback front, http://127.0.0.1:<port>; a deployed stack names
	// its public API Gateway host (or the publicUrl it is given).
	"w_sub_cert_aia_contains_internal_names": "local mode: the caIssuers URL is the loopback front",
	// Certificate policy OIDs assert conformance to a published policy; a
	// CA/Browser Forum OID here would claim what this CA is not.
	"e_sub_cert_certificate_policies_missing": "private CA: no published certificate policy to assert",
	"e_sub_cert_cert_policy_empty":            "private CA: no published certificate policy to assert",
	// RFC 5280 §4.2.1.2: end-entity certificates SHOULD carry a subject key
	// identifier (it helps path building); the Baseline Requirements advise
	// against it for public ones.
	"w_ext_subject_key_identifier_not_recommended_subscriber": "RFC 5280 recommends it for end-entity certificates",
	// The certctl contract names a certificate by its common name, and the
	// common name is always also one of its DNS or IP names.
	"w_subject_common_name_included": "the API's common_name; always repeated in the SANs",
	// The CA's subject names the stage's CA; it is no organisation's
	// public identity.
	"e_ca_country_name_missing":      "private CA: its subject identifies the stage, not an organisation",
	"e_ca_organization_name_missing": "private CA: its subject identifies the stage, not an organisation",
	// pathLenConstraint 0 on purpose: this root signs leaves only, so its
	// key can never mint an intermediate.
	"w_root_ca_basic_constraints_path_len_constraint_field_present": "pathLen 0: the root signs leaves only",
}

// Exceptions returns the lints that are not findings, with the reason.
func Exceptions() map[string]string { return maps.Clone(exceptions) }

// Finding is one lint at warning level or worse.
type Finding struct {
	Lint   string
	Status lint.LintStatus
	Detail string
}

func (f Finding) String() string {
	if f.Detail == "" {
		return fmt.Sprintf("%s: %s", f.Lint, f.Status)
	}
	return fmt.Sprintf("%s: %s (%s)", f.Lint, f.Status, f.Detail)
}

// Certificate lints one DER certificate.
func Certificate(der []byte) ([]Finding, error) {
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("x509lint: parse certificate: %w", err)
	}
	return findings(zlint.LintCertificate(c)), nil
}

// CRL lints one DER CRL.
func CRL(der []byte) ([]Finding, error) {
	r, err := zx509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("x509lint: parse CRL: %w", err)
	}
	return findings(zlint.LintRevocationList(r)), nil
}

func findings(rs *zlint.ResultSet) []Finding {
	var out []Finding
	for name, r := range rs.Results {
		if r.Status < lint.Warn {
			continue
		}
		if _, ok := exceptions[name]; ok {
			continue
		}
		out = append(out, Finding{Lint: name, Status: r.Status, Detail: r.Details})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Lint < out[j].Lint })
	return out
}

// Known reports whether zlint has a lint of that name.
func Known(name string) bool {
	return lint.GlobalRegistry().ByName(name) != nil
}
