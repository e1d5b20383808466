package invariants

import (
	"net"
	"slices"
	"strings"
)

// nameMeetsPattern is the checker's own answer to "is this issued name
// covered by that governed pattern": true when some name a client would
// accept the certificate for is also a name the pattern stands for. It
// shares no code with pkg/domain (Covers, CoveringPatterns), so a bug there
// cannot hide itself here. Both sides are lower-cased first.
//
// Issued names: an IP address; a DNS name; or a wildcard name *.z, which a
// client accepts for any one label under z (and which is itself the literal
// name *.z). Patterns: an IP address (that address); a DNS name (that
// name); *.z (one label under z, the literal *.z included); **.z (any depth
// under z, not z itself).
//
// It errs on the side of finding a violation: two IP addresses compare as
// addresses, but otherwise names are compared label by label as written,
// so an IPv4 address issued without approval counts as covered by a
// governed wildcard that spells it, as **.0.1 spells 10.0.0.1 (the API now
// refuses such patterns; one that slipped through would be caught here).
func nameMeetsPattern(issued, pattern string) bool {
	issued, pattern = strings.ToLower(issued), strings.ToLower(pattern)
	if a, b := net.ParseIP(issued), net.ParseIP(pattern); a != nil && b != nil {
		return a.Equal(b)
	}
	n, p := strings.Split(issued, "."), strings.Split(pattern, ".")
	switch {
	case n[0] == "*": // the issued name is a wildcard over w = n[1:]
		w := n[1:]
		switch p[0] {
		case "**": // names below z: any l.w with len(w) >= len(z) and w ending in z
			z := p[1:]
			return len(w) >= len(z) && slices.Equal(w[len(w)-len(z):], z)
		case "*": // one label under z: meets l.w (and *.w) exactly when w == z
			return slices.Equal(w, p[1:])
		default: // the literal *.w, or one name l.w
			return slices.Equal(n, p) || (len(p) == len(w)+1 && slices.Equal(p[1:], w))
		}
	case p[0] == "**":
		z := p[1:]
		return len(n) > len(z) && slices.Equal(n[len(n)-len(z):], z)
	case p[0] == "*":
		z := p[1:]
		return len(n) == len(z)+1 && slices.Equal(n[1:], z)
	}
	return slices.Equal(n, p)
}
