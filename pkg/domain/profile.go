package domain

import (
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key algorithm names, as a CSR's public key is classified.
const (
	KeyECDSAP256 = "ECDSA_P256"
	KeyECDSAP384 = "ECDSA_P384"
	KeyECDSAP521 = "ECDSA_P521"
	KeyRSA2048   = "RSA_2048"
	KeyRSA3072   = "RSA_3072"
	KeyRSA4096   = "RSA_4096"
	KeyEd25519   = "ED25519"
)

// KnownKeyAlgorithms lists every name a profile may allow.
var KnownKeyAlgorithms = []string{KeyECDSAP256, KeyECDSAP384, KeyECDSAP521, KeyRSA2048, KeyRSA3072, KeyRSA4096, KeyEd25519}

// Profile defaults.
var DefaultKeyAlgorithms = []string{KeyECDSAP256, KeyECDSAP384, KeyRSA2048, KeyRSA3072, KeyRSA4096}

const (
	DefaultMaxValiditySeconds = 90 * 24 * 3600
	DefaultRenewBeforeSeconds = 30 * 24 * 3600
	DefaultIssuerID           = "default"
	// MaxValidityCeiling keeps leaf lifetimes sane whatever a profile says.
	MaxValidityCeiling = 398 * 24 * 3600
	minValiditySeconds = 3600
)

// idRule is how ValidateID's errors describe a valid id.
const idRule = "^[a-z0-9][a-z0-9._-]{0,62}$"

// ValidateID checks a caller-supplied identifier: lower-case letters, digits,
// '.', '_' and '-', at most 63 characters, so ids are safe in keys and paths.
func ValidateID(field, id string) error {
	if !validID(id) {
		return Invalidf("%s %q must match %s", field, id, idRule)
	}
	return nil
}

// ApplyDefaults fills unset optional fields.
func (p *Profile) ApplyDefaults() {
	if p.AllowedKeyAlgorithms == nil {
		p.AllowedKeyAlgorithms = slices.Clone(DefaultKeyAlgorithms)
	}
	if p.MaxValiditySeconds == 0 {
		p.MaxValiditySeconds = DefaultMaxValiditySeconds
	}
	if p.RenewBeforeSeconds == 0 {
		p.RenewBeforeSeconds = DefaultRenewBeforeSeconds
	}
	if p.IssuerID == "" {
		p.IssuerID = DefaultIssuerID
	}
	if p.RequiredApprovals == 0 {
		p.RequiredApprovals = 1
	}
}

// Validate checks a profile after defaults are applied. Errors name the field.
func (p *Profile) Validate() error {
	if err := ValidateID("id", p.ID); err != nil {
		return err
	}
	if p.Name == "" || len(p.Name) > 200 {
		return Invalidf("name is required and must be at most 200 characters")
	}
	if len(p.AllowedKeyAlgorithms) == 0 {
		return Invalidf("allowed_key_algorithms must name at least one of %v", KnownKeyAlgorithms)
	}
	for _, alg := range p.AllowedKeyAlgorithms {
		if !slices.Contains(KnownKeyAlgorithms, alg) {
			return Invalidf("allowed_key_algorithms: unknown algorithm %q (known: %v)", alg, KnownKeyAlgorithms)
		}
	}
	if p.MaxValiditySeconds < minValiditySeconds || p.MaxValiditySeconds > MaxValidityCeiling {
		return Invalidf("max_validity_seconds must be between %d and %d", minValiditySeconds, MaxValidityCeiling)
	}
	if p.RenewBeforeSeconds <= 0 || p.RenewBeforeSeconds >= p.MaxValiditySeconds {
		return Invalidf("renew_before_seconds must be positive and below max_validity_seconds (%d)", p.MaxValiditySeconds)
	}
	if err := ValidateID("issuer_id", p.IssuerID); err != nil {
		return err
	}
	if err := p.normalizeNames(); err != nil {
		return err
	}
	if err := p.normalizeNotify(); err != nil {
		return err
	}
	if err := p.Approvers.validate("approvers"); err != nil {
		return err
	}
	return p.validatePolicy()
}

// validatePolicy checks required_approvals and approval_policy: the
// simple form (required_approvals from the approvers pool) or the general
// one (the policy's factors, each with its own pool, and required_approvals
// its total), and that the policy can be satisfied at all.
func (p *Profile) validatePolicy() error {
	if p.RequiredApprovals < 1 || p.RequiredApprovals > MaxRequiredApprovals {
		return Invalidf("required_approvals must be between 1 and %d", MaxRequiredApprovals)
	}
	if len(p.ApprovalPolicy) > 0 {
		if err := p.ApprovalPolicy.Validate(); err != nil {
			return err
		}
		if !p.Approvers.empty() {
			return Invalidf("approvers: a profile with an approval_policy names approvers in each factor; send \"approvers\": {} to clear the profile's pool")
		}
		if total := p.ApprovalPolicy.Total(); p.RequiredApprovals != total {
			return Invalidf("required_approvals (%d) must equal the approvals approval_policy requires (%d), or be left out; send \"approval_policy\": [] to use required_approvals alone",
				p.RequiredApprovals, total)
		}
	}
	return p.Policy().Satisfiable("")
}

// normalizeNames parses, lower-cases, sorts and deduplicates AllowedNames.
func (p *Profile) normalizeNames() error {
	if len(p.AllowedNames) == 0 {
		return Invalidf("allowed_names is required: the names this profile may issue (e.g. \"www.example.com\", \"*.example.com\", \"**.example.com\")")
	}
	if len(p.AllowedNames) > MaxAllowedNames {
		return Invalidf("allowed_names: at most %d patterns", MaxAllowedNames)
	}
	for i, raw := range p.AllowedNames {
		pat, err := ParseNamePattern(string(raw))
		if err != nil {
			return Invalidf("allowed_names[%d] %q: %v", i, raw, err)
		}
		p.AllowedNames[i] = pat
	}
	slices.Sort(p.AllowedNames)
	p.AllowedNames = slices.Compact(p.AllowedNames)
	return nil
}

// MaxNotifyTargets bounds a profile's notify list.
const MaxNotifyTargets = 10

// normalizeNotify checks the shape of Notify (target names are ids) and
// sorts and deduplicates it; whether each names a configured target is the
// workflow's check.
func (p *Profile) normalizeNotify() error {
	if len(p.Notify) > MaxNotifyTargets {
		return Invalidf("notify: at most %d targets", MaxNotifyTargets)
	}
	for i, t := range p.Notify {
		if !validID(t) {
			return Invalidf("notify[%d] %q: a target name must match %s", i, t, idRule)
		}
	}
	slices.Sort(p.Notify)
	p.Notify = slices.Compact(p.Notify)
	if len(p.Notify) == 0 {
		p.Notify = nil
	}
	return nil
}

// Widens reports whether next may issue something p may not: more names,
// more key algorithms, a longer validity or another issuer. Widening a
// profile that needs no approval needs a second person.
func (p *Profile) Widens(next *Profile) bool {
	for _, alg := range next.AllowedKeyAlgorithms {
		if !p.AllowsKey(alg) {
			return true
		}
	}
	return !Subsumes(p.AllowedNames, next.AllowedNames) ||
		next.MaxValiditySeconds > p.MaxValiditySeconds ||
		next.IssuerID != p.IssuerID
}

// PolicyChanges reports whether next decides approvals differently from
// p: another number of approvals, another policy or another approver
// pool. The rule that gates a profile's edits is itself changed only by
// a gated edit, whether or not the profile is approval-tier.
func (p *Profile) PolicyChanges(next *Profile) bool {
	return !reflect.DeepEqual(p.Policy(), next.Policy())
}

// AllowsKey reports whether the profile accepts the key algorithm.
func (p *Profile) AllowsKey(alg string) bool {
	return slices.Contains(p.AllowedKeyAlgorithms, alg)
}

// ProfileDiff lists the writable fields that differ between a and b; a nil
// a (a creation) lists every field as coming, a nil b (a deletion) every
// field as going away.
func ProfileDiff(a, b *Profile) map[string]Change {
	d := map[string]Change{}
	if a == nil {
		a = &Profile{}
	}
	if b == nil {
		b = &Profile{}
	}
	add := func(name string, old, new any, same bool) {
		if !same {
			d[name] = Change{Old: old, New: new}
		}
	}
	add("name", a.Name, b.Name, a.Name == b.Name)
	add("requires_approval", a.RequiresApproval, b.RequiresApproval, a.RequiresApproval == b.RequiresApproval)
	add("allowed_names", a.AllowedNames, b.AllowedNames, slices.Equal(a.AllowedNames, b.AllowedNames))
	add("allowed_key_algorithms", a.AllowedKeyAlgorithms, b.AllowedKeyAlgorithms, slices.Equal(a.AllowedKeyAlgorithms, b.AllowedKeyAlgorithms))
	add("max_validity_seconds", a.MaxValiditySeconds, b.MaxValiditySeconds, a.MaxValiditySeconds == b.MaxValiditySeconds)
	add("renew_before_seconds", a.RenewBeforeSeconds, b.RenewBeforeSeconds, a.RenewBeforeSeconds == b.RenewBeforeSeconds)
	add("issuer_id", a.IssuerID, b.IssuerID, a.IssuerID == b.IssuerID)
	add("approvers", a.Approvers, b.Approvers, reflect.DeepEqual(a.Approvers, b.Approvers))
	add("delivery", a.Delivery, b.Delivery, reflect.DeepEqual(a.Delivery, b.Delivery))
	add("required_approvals", int64(a.RequiredApprovals), int64(b.RequiredApprovals), a.RequiredApprovals == b.RequiredApprovals)
	add("approval_policy", a.ApprovalPolicy, b.ApprovalPolicy, reflect.DeepEqual(a.ApprovalPolicy, b.ApprovalPolicy))
	add("notify", a.Notify, b.Notify, slices.Equal(a.Notify, b.Notify))
	return d
}

// validID matches idRule. It is written out rather than compiled from the
// pattern: a {0,62} repeat compiles to a large program at every cold start.
func validID(id string) bool {
	if id == "" || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// MaxReasonLen bounds the reason a request carries.
const MaxReasonLen = 1024

// ValidateReason checks the reason a requester gives (a ticket, why): at
// most MaxReasonLen bytes of one line of text, with no control or
// bidirectional-override character, so it shows as written to approvers,
// in the audit trail and in notifications.
func ValidateReason(reason string) error {
	if len(reason) > MaxReasonLen {
		return Invalidf("reason is %d bytes; at most %d", len(reason), MaxReasonLen)
	}
	for _, r := range reason {
		if unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f {
			return Invalidf("reason contains the control character %U: write it on one line of plain text", r)
		}
	}
	if !utf8.ValidString(reason) {
		return Invalidf("reason is not valid UTF-8")
	}
	return nil
}

// ValidateDelivery checks a profile's delivery targets for the stage: a
// parameter named under /certctl/<stage>/ and a secret under
// certctl/<stage>/, the only names the stage's functions may write, in the
// characters and lengths SSM and Secrets Manager accept (with a
// certificate id of 63 characters in place of {certificate_id}).
func (t *DeliveryTargets) Validate(stage string) error {
	if t.Empty() {
		return nil
	}
	if stage == "" {
		return Invalidf("delivery: this stack has no stage name to name its targets under")
	}
	longest := strings.Repeat("x", 63)
	if p := t.SSMParameter; p != "" {
		prefix := "/certctl/" + stage + "/"
		expanded := strings.ReplaceAll(p, CertificateIDPlaceholder, longest)
		switch {
		case !strings.HasPrefix(p, prefix) || len(p) == len(prefix):
			return Invalidf("delivery.ssm_parameter %q: must be a name under %s (the functions may write nothing else)", p, prefix)
		case !onlyChars(strings.ReplaceAll(p, CertificateIDPlaceholder, ""), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/"):
			return Invalidf("delivery.ssm_parameter %q: only letters, digits, _ . - / and %s", p, CertificateIDPlaceholder)
		case strings.Contains(p, "//") || strings.HasSuffix(p, "/"):
			return Invalidf("delivery.ssm_parameter %q: no empty path segment", p)
		case len(expanded) > 1011:
			return Invalidf("delivery.ssm_parameter %q: at most 1011 characters with a certificate id in place", p)
		case strings.Count(expanded, "/") > 15:
			return Invalidf("delivery.ssm_parameter %q: at most 15 levels", p)
		}
	}
	if sec := t.Secret; sec != "" {
		prefix := "certctl/" + stage + "/"
		expanded := strings.ReplaceAll(sec, CertificateIDPlaceholder, longest)
		switch {
		case !strings.HasPrefix(sec, prefix) || len(sec) == len(prefix):
			return Invalidf("delivery.secret %q: must be a name under %s (the functions may write nothing else)", sec, prefix)
		case !onlyChars(strings.ReplaceAll(sec, CertificateIDPlaceholder, ""), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+=.@-"):
			return Invalidf("delivery.secret %q: only letters, digits, / _ + = . @ - and %s", sec, CertificateIDPlaceholder)
		case strings.Contains(sec, "//") || strings.HasSuffix(sec, "/"):
			return Invalidf("delivery.secret %q: no empty path segment", sec)
		case len(expanded) > 512:
			return Invalidf("delivery.secret %q: at most 512 characters with a certificate id in place", sec)
		}
	}
	return nil
}

func onlyChars(s, allowed string) bool {
	for _, r := range s {
		if !strings.ContainsRune(allowed, r) {
			return false
		}
	}
	return true
}
