package csr

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalizeNames(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	name253 := strings.Join([]string{label63, label63, label63, strings.Repeat("b", 61)}, ".")

	tests := []struct {
		name    string
		cn      string
		sans    []string
		wantDNS []string
		wantIPs []string
		wantErr string
	}{
		{name: "single name", cn: "example.com", wantDNS: []string{"example.com"}},
		{name: "lower-cased, deduplicated, sorted", cn: "WWW.Example.com", sans: []string{"b.example.com", "www.example.COM", "a.example.com", "b.example.com"},
			wantDNS: []string{"a.example.com", "b.example.com", "www.example.com"}},
		{name: "single label", cn: "localhost", wantDNS: []string{"localhost"}},
		{name: "punycode", cn: "xn--bcher-kva.example", wantDNS: []string{"xn--bcher-kva.example"}},
		{name: "digits and hyphens", cn: "a-1.2b.example.com", wantDNS: []string{"a-1.2b.example.com"}},
		{name: "wildcard", cn: "*.example.com", sans: []string{"example.com"}, wantDNS: []string{"*.example.com", "example.com"}},
		{name: "253 characters", cn: "example.com", sans: []string{name253}, wantDNS: []string{name253, "example.com"}},
		{name: "IP common name", cn: "192.0.2.1", sans: []string{"::ffff:192.0.2.1", "2001:DB8::1", "192.0.2.0"},
			wantIPs: []string{"192.0.2.0", "192.0.2.1", "2001:db8::1"}},
		{name: "no SANs", cn: "example.com", sans: []string{}, wantDNS: []string{"example.com"}},

		{name: "missing CN", cn: "", wantErr: "csr: common_name is required"},
		{name: "CN too long", cn: strings.Repeat("a", 60) + ".example", wantErr: "common_name is 68 characters, longer than the X.509 limit of 64"},
		{name: "too many SANs", cn: "example.com", sans: make([]string, 101), wantErr: "101 sans requested, at most 100"},
		{name: "empty SAN", cn: "example.com", sans: []string{""}, wantErr: `sans[0] "" is not a valid DNS name or IP address: it is empty`},
		{name: "free-text CN", cn: "My Service", wantErr: `common_name "My Service" is not a valid DNS name or IP address: it contains a space`},
		{name: "unicode", cn: "example.com", sans: []string{"bücher.example"}, wantErr: "non-ASCII character (use the xn-- form"},
		{name: "control char", cn: "example.com", sans: []string{"a\x00.example.com"}, wantErr: "control or non-ASCII"},
		{name: "newline", cn: "example.com", sans: []string{"a.example.com\n"}, wantErr: "control or non-ASCII"},
		{name: "254 characters", cn: "example.com", sans: []string{"c" + name253}, wantErr: "sans[0] is 254 characters, longer than the 253 allowed for a DNS name"},
		{name: "64-character label", cn: "example.com", sans: []string{label63 + "a.example.com"}, wantErr: "is longer than 63 characters"},
		{name: "trailing dot", cn: "example.com", sans: []string{"a.example.com."}, wantErr: "it ends with a dot"},
		{name: "leading dot", cn: "example.com", sans: []string{".example.com"}, wantErr: "it has an empty label"},
		{name: "double dot", cn: "example.com", sans: []string{"a..example.com"}, wantErr: "it has an empty label"},
		{name: "underscore", cn: "example.com", sans: []string{"_acme.example.com"}, wantErr: `label "_acme" contains '_'`},
		{name: "leading hyphen", cn: "example.com", sans: []string{"-a.example.com"}, wantErr: `label "-a" starts or ends with a hyphen`},
		{name: "trailing hyphen", cn: "example.com", sans: []string{"a-.example.com"}, wantErr: `label "a-" starts or ends with a hyphen`},
		{name: "partial wildcard", cn: "example.com", sans: []string{"a*.example.com"}, wantErr: "wildcard is only allowed as the whole leftmost label"},
		{name: "inner wildcard", cn: "example.com", sans: []string{"a.*.example.com"}, wantErr: "wildcard is only allowed as the whole leftmost label"},
		{name: "double wildcard", cn: "example.com", sans: []string{"*.*.example.com"}, wantErr: "wildcard is only allowed as the whole leftmost label"},
		{name: "wildcard on TLD", cn: "example.com", sans: []string{"*.com"}, wantErr: "a wildcard needs at least two labels after it"},
		{name: "bare wildcard", cn: "*", wantErr: "a wildcard needs at least two labels after it"},
		{name: "numeric TLD", cn: "example.com", sans: []string{"192.0.2.300"}, wantErr: "its last label is all digits"},
		{name: "IPv6 zone", cn: "example.com", sans: []string{"fe80::1%eth0"}, wantErr: `"fe80::1%eth0" is not a valid DNS name or IP address`},
		{name: "CIDR", cn: "example.com", sans: []string{"10.0.0.0/8"}, wantErr: `label "0/8" contains '/'`},
		{name: "URL", cn: "example.com", sans: []string{"https://example.com"}, wantErr: `contains ':'`},
		{name: "email", cn: "example.com", sans: []string{"a@example.com"}, wantErr: `contains '@'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dns, ips, err := NormalizeNames(tt.cn, tt.sans)
			if tt.wantErr != "" {
				wantInvalid(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("NormalizeNames: %v", err)
			}
			if !slices.Equal(dns, tt.wantDNS) {
				t.Errorf("dns = %q, want %q", dns, tt.wantDNS)
			}
			if got := ipStrings(ips); !slices.Equal(got, tt.wantIPs) {
				t.Errorf("ips = %q, want %q", got, tt.wantIPs)
			}
			for _, ip := range ips {
				if ip.To4() != nil && len(ip) != 4 {
					t.Errorf("IPv4 %s is not in 4-byte form", ip)
				}
			}
		})
	}
}
