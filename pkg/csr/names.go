package csr

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

const (
	// maxDNSNameLen is the longest presentation-form DNS name (RFC 1035).
	maxDNSNameLen = 253
	// maxLabelLen is the longest DNS label (RFC 1035).
	maxLabelLen = 63
	// maxCommonNameLen is ub-common-name from RFC 5280; longer CNs make
	// certificates that strict verifiers reject.
	maxCommonNameLen = 64
	// maxNames bounds the work one request can cause and the certificate size.
	maxNames = 100
)

// NormalizeNames validates a request's common name and SANs and returns its
// DNS names (lower-cased, deduplicated, sorted) and IP addresses (IPv4 in
// 4-byte form, deduplicated, sorted). The common name is required and must be
// a DNS name or an IP address; it is included in the result, so the result is
// the full set of names a certificate for the request carries.
func NormalizeNames(commonName string, sans []string) (dns []string, ips []net.IP, err error) {
	if commonName == "" {
		return nil, nil, domain.Invalidf("csr: common_name is required")
	}
	if len(commonName) > maxCommonNameLen {
		return nil, nil, domain.Invalidf("csr: common_name is %d characters, longer than the X.509 limit of %d", len(commonName), maxCommonNameLen)
	}
	if len(sans) > maxNames {
		return nil, nil, domain.Invalidf("csr: %d sans requested, at most %d are allowed", len(sans), maxNames)
	}

	for i, name := range append([]string{commonName}, sans...) {
		field := "common_name"
		if i > 0 {
			field = fmt.Sprintf("sans[%d]", i-1)
		}
		// Checked before anything echoes the name back in an error.
		if len(name) > maxDNSNameLen {
			return nil, nil, domain.Invalidf("csr: %s is %d characters, longer than the %d allowed for a DNS name", field, len(name), maxDNSNameLen)
		}
		if ip, ok := parseIP(name); ok {
			ips = append(ips, ip)
			continue
		}
		norm, err := normalizeDNSName(name)
		if err != nil {
			return nil, nil, domain.Invalidf("csr: %s %q is not a valid DNS name or IP address: %s", field, name, err)
		}
		dns = append(dns, norm)
	}

	slices.Sort(dns)
	dns = slices.Compact(dns)
	// IPv4 (4 bytes) sorts before IPv6 (16 bytes).
	slices.SortFunc(ips, func(a, b net.IP) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), bytes.Compare(a, b))
	})
	ips = slices.CompactFunc(ips, net.IP.Equal)
	return dns, ips, nil
}

// parseIP accepts IPv4 and IPv6 literals without zones. IPv4 (including
// IPv4-mapped IPv6) comes back in 4-byte form, as it is encoded in a SAN.
func parseIP(s string) (net.IP, bool) {
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return nil, false
	}
	return net.IP(addr.Unmap().AsSlice()), true
}

// normalizeDNSName lower-cases a DNS name and checks it is a host name made of
// LDH labels, optionally with a wildcard as its whole leftmost label. Its
// errors are bare reasons; the caller names the field.
func normalizeDNSName(name string) (string, error) {
	if name == "" {
		return "", errors.New("it is empty")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e {
			return "", errors.New("it contains a space, control or non-ASCII character (use the xn-- form for internationalised names)")
		}
	}
	if strings.HasSuffix(name, ".") {
		return "", errors.New("it ends with a dot")
	}
	name = strings.ToLower(name)

	labels := strings.Split(name, ".")
	if labels[0] == "*" {
		// A wildcard covers a whole zone; refuse ones directly under a TLD.
		if len(labels) < 3 {
			return "", errors.New("a wildcard needs at least two labels after it")
		}
		labels = labels[1:]
	}
	for _, label := range labels {
		if err := checkLabel(label); err != nil {
			return "", err
		}
	}
	// TLDs are never all-numeric (RFC 3696 §2); such names only imitate IPs.
	if isDigits(labels[len(labels)-1]) {
		return "", errors.New("its last label is all digits")
	}
	return name, nil
}

// checkLabel checks one lower-case LDH label (RFC 1123 §2.1).
func checkLabel(label string) error {
	switch {
	case label == "":
		return errors.New("it has an empty label")
	case len(label) > maxLabelLen:
		return fmt.Errorf("label %q is longer than %d characters", label, maxLabelLen)
	case strings.Contains(label, "*"):
		return errors.New("a wildcard is only allowed as the whole leftmost label")
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("label %q contains %q; only letters, digits and hyphens are allowed", label, c)
		}
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
