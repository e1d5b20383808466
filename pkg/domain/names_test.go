package domain

import "testing"

// An IP address is named only by an exact IP pattern: a DNS pattern that
// ends in an all-digit label is refused, and no wildcard covers an IP.
func TestIPAddressesEscapeNoWildcard(t *testing.T) {
	for _, bad := range []string{"**.0.1", "*.0.0.1", "0.0.1", "**.0.0.1", "*.10.0.0.1", "host.123", "**.example.8"} {
		if p, err := ParseNamePattern(bad); err == nil {
			t.Errorf("ParseNamePattern(%q) = %q, want an error", bad, p)
		}
	}
	for _, good := range []string{"10.0.0.1", "::1", "**.example.com", "*.1a.example.com", "v4.example.com", "**.0.example.com"} {
		if _, err := ParseNamePattern(good); err != nil {
			t.Errorf("ParseNamePattern(%q): %v", good, err)
		}
	}
	// Patterns stored before the refusal still never cover an IP.
	for _, p := range []NamePattern{"**.0.1", "*.0.0.1", "**.0.0.1"} {
		if p.Covers("10.0.0.1") {
			t.Errorf("%s covers 10.0.0.1", p)
		}
		if Subsumes([]NamePattern{p}, []NamePattern{"10.0.0.1"}) {
			t.Errorf("%s subsumes 10.0.0.1", p)
		}
	}
	if !NamePattern("10.0.0.1").Covers("10.0.0.1") || NamePattern("10.0.0.1").Covers("10.0.0.2") {
		t.Error("an exact IP pattern covers exactly its address")
	}
	if !Subsumes([]NamePattern{"10.0.0.1"}, []NamePattern{"10.0.0.1"}) {
		t.Error("an IP pattern subsumes itself")
	}
}
