package domain

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
)

// A name pattern is one entry of a profile's allowed_names: the names the
// profile may issue and, for an approval-tier profile, the names it governs
// (no profile that needs no approval may issue them). Forms:
//
//	host.example.com   exactly that name
//	*.example.com      one label under example.com, the wildcard name included
//	**.example.com     any depth under example.com (not example.com itself)
//	192.0.2.10         exactly that IP address (IPv4 or IPv6)
//
// Wildcard forms need at least two labels after the wildcard, so no
// pattern covers a whole top-level domain.
type NamePattern string

// MaxAllowedNames bounds a profile's patterns, so a governance change fits
// in one transaction.
const MaxAllowedNames = 32

// ParseNamePattern validates and normalises (lower-cases) one pattern.
func ParseNamePattern(s string) (NamePattern, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return "", errors.New("an IP address pattern has no zone")
		}
		return NamePattern(ip.Unmap().String()), nil
	}
	lower := strings.ToLower(s)
	zone, kind := lower, ""
	switch {
	case strings.HasPrefix(lower, "**."):
		zone, kind = lower[3:], "**."
	case strings.HasPrefix(lower, "*."):
		zone, kind = lower[2:], "*."
	}
	if err := checkDNSName(zone); err != nil {
		return "", err
	}
	if kind != "" && strings.Count(zone, ".") < 1 {
		return "", errors.New("a wildcard pattern needs at least two labels after the wildcard")
	}
	// No top-level domain is all digits; a name that ends so is (part of)
	// an IP address, which only an exact IP pattern may name: **.0.1 would
	// otherwise stand for 10.0.0.1, which governance looks up as itself.
	if last := zone[strings.LastIndexByte(zone, '.')+1:]; strings.Trim(last, "0123456789") == "" {
		return "", errors.New("a DNS name pattern cannot end in an all-digit label: name an IP address exactly")
	}
	return NamePattern(kind + zone), nil
}

// Covers reports whether the pattern covers name, a normalised DNS name
// (lower case, possibly a wildcard name) or IP address.
func (p NamePattern) Covers(name string) bool {
	s := string(p)
	if _, err := netip.ParseAddr(name); err == nil {
		return name == s // only an exact IP pattern covers an IP address
	}
	switch {
	case strings.HasPrefix(s, "**."):
		return strings.HasSuffix(name, s[2:])
	case strings.HasPrefix(s, "*."):
		label, rest, ok := strings.Cut(name, ".")
		return ok && label != "" && "."+rest == s[1:]
	}
	return name == s
}

// CoveringPatterns lists every pattern that would cover name: the exact
// name, the one-label wildcard of its parent, and the subtree wildcard of
// each ancestor with two or more labels. Governance is looked up by these.
func CoveringPatterns(name string) []NamePattern {
	if _, err := netip.ParseAddr(name); err == nil {
		return []NamePattern{NamePattern(name)}
	}
	out := []NamePattern{}
	if !strings.HasPrefix(name, "*.") {
		out = append(out, NamePattern(name))
	}
	labels := strings.Split(name, ".")
	for i := 1; i < len(labels)-1; i++ {
		zone := strings.Join(labels[i:], ".")
		if i == 1 {
			out = append(out, NamePattern("*."+zone))
		}
		out = append(out, NamePattern("**."+zone))
	}
	return out
}

// AllowsName reports whether some pattern of the profile covers name.
func (p *Profile) AllowsName(name string) bool {
	return slices.ContainsFunc(p.AllowedNames, func(pat NamePattern) bool { return pat.Covers(name) })
}

// Subsumes reports whether every name pattern b covers is covered by a,
// so replacing a by b cannot widen what a profile may issue.
func Subsumes(a []NamePattern, b []NamePattern) bool {
	for _, pb := range b {
		if !slices.ContainsFunc(a, func(pa NamePattern) bool { return patternWithin(pb, pa) }) {
			return false
		}
	}
	return true
}

// patternWithin reports whether every name inner covers, outer covers.
func patternWithin(inner, outer NamePattern) bool {
	in, out := string(inner), string(outer)
	if _, err := netip.ParseAddr(in); err == nil {
		return in == out // no wildcard covers an IP address
	}
	switch {
	case in == out:
		return true
	case strings.HasPrefix(out, "**."):
		// Everything strictly below out's zone: a name, *.z or **.z whose
		// zone is at or below it (and not the zone itself for an exact name).
		zone := out[3:]
		switch {
		case strings.HasPrefix(in, "**."):
			return in[3:] == zone || strings.HasSuffix(in[3:], "."+zone)
		case strings.HasPrefix(in, "*."):
			return in[2:] == zone || strings.HasSuffix(in[2:], "."+zone)
		}
		return strings.HasSuffix(in, "."+zone)
	case strings.HasPrefix(out, "*."):
		// Only names one label under out's zone; *.z itself equals out.
		return !strings.HasPrefix(in, "*") && outer.Covers(in)
	}
	return false
}

// checkDNSName checks a lower-case host name of LDH labels.
func checkDNSName(name string) error {
	if name == "" || len(name) > 253 {
		return errors.New("a name must have 1 to 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("each label must have 1 to 63 characters and not start or end with a hyphen")
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return errors.New("only letters, digits, hyphens and a leading * or ** label are allowed")
			}
		}
	}
	return nil
}

// Governs returns the patterns the profile governs: its allowed names when
// it needs approval, none otherwise.
func (p *Profile) Governs() []NamePattern {
	if p == nil || !p.RequiresApproval {
		return nil
	}
	return p.AllowedNames
}

// GovernanceChange is one step of name governance: it moves governance
// from Version-1 to Version, adding and removing governed patterns. Every
// step is recorded in the audit trail of the change that made it, so the
// governed names at any version can be replayed.
type GovernanceChange struct {
	Version int64         `json:"version"`
	Added   []NamePattern `json:"added,omitempty"`
	Removed []NamePattern `json:"removed,omitempty"`
}

// NewGovernanceChange is the step from governance at version from, where
// before is governed, to after; nil when nothing changes.
func NewGovernanceChange(from int64, before, after []NamePattern) *GovernanceChange {
	c := &GovernanceChange{Version: from + 1}
	for _, p := range after {
		if !slices.Contains(before, p) {
			c.Added = append(c.Added, p)
		}
	}
	for _, p := range before {
		if !slices.Contains(after, p) {
			c.Removed = append(c.Removed, p)
		}
	}
	if len(c.Added)+len(c.Removed) == 0 {
		return nil
	}
	return c
}
