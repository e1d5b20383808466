package invariants

import "testing"

func TestNameMeetsPattern(t *testing.T) {
	for _, tc := range []struct {
		issued, pattern string
		want            bool
	}{
		// Exact names.
		{"www.example.com", "www.example.com", true},
		{"WWW.Example.com", "www.example.com", true},
		{"www.example.com", "web.example.com", false},
		{"www.example.com", "example.com", false},
		// One-label wildcards.
		{"www.example.com", "*.example.com", true},
		{"a.www.example.com", "*.example.com", false},
		{"example.com", "*.example.com", false},
		{"*.example.com", "*.example.com", true},
		// Subtree wildcards.
		{"www.example.com", "**.example.com", true},
		{"a.b.c.example.com", "**.example.com", true},
		{"example.com", "**.example.com", false},
		{"www.notexample.com", "**.example.com", false},
		{"*.example.com", "**.example.com", true},
		{"*.a.example.com", "**.example.com", true},
		{"*.com", "**.example.com", false},
		// An issued wildcard is valid for every name one label under it.
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "a.www.example.com", false},
		{"*.example.com", "example.com", false},
		{"*.example.com", "*.other.com", false},
		{"*.a.example.com", "*.example.com", false},
		// IP addresses: two addresses compare as addresses; a wildcard that
		// spells an IPv4 address label by label counts as covering it (the
		// checker errs towards finding a violation).
		{"10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1", "10.0.0.2", false},
		{"10.0.0.1", "**.0.1", true},
		{"10.0.0.1", "*.0.0.1", true},
		{"10.0.0.1", "**.0.0.1", true},
		{"10.0.0.1", "**.1.0.0.1", false},
		{"10.0.0.1", "0.0.1", false},
		{"10.0.0.1", "**.example.com", false},
		{"2001:db8::1", "2001:DB8:0::1", true},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
		{"www.example.com", "10.0.0.1", false},
	} {
		if got := nameMeetsPattern(tc.issued, tc.pattern); got != tc.want {
			t.Errorf("nameMeetsPattern(%q, %q) = %v, want %v", tc.issued, tc.pattern, got, tc.want)
		}
	}
}
