package invariants

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// subjectOf decodes a job's or an approval's subject.
func subjectOf(it Item) (*domain.Subject, error) {
	raw, ok := it["subject"]
	if !ok {
		return nil, nil
	}
	var s domain.Subject
	err := attributevalue.UnmarshalWithOptions(raw, &s, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" })
	return &s, err
}

// checkIssuedEqualsApproved: every issued certificate is exactly its job's
// subject, which for a gated job is the subject its approver saw: the same
// names, key and usages, no longer a lifetime, and signed by the issuer.
func (c *checker) checkIssuedEqualsApproved() {
	for jobID, vs := range c.versions {
		j, ok := c.s.Jobs[jobID]
		if !ok {
			continue // reported by checkVersions
		}
		subject, err := subjectOf(j)
		if err != nil || subject == nil {
			c.fail("issued-equals-approved", "job %s has no readable subject: %v", jobID, err)
			continue
		}
		if j.B("requires_approval") {
			approved, err := subjectOf(c.s.Approvals[j.S("approval_id")])
			if err != nil || approved == nil || !reflect.DeepEqual(approved, subject) {
				c.fail("issued-equals-approved", "job %s: the subject to issue is not the one approval %s showed", jobID, j.S("approval_id"))
			}
		}
		for _, v := range vs {
			if problem := certMatches(v.S("pem_chain"), subject); problem != "" {
				c.fail("issued-equals-approved", "job %s issued serial %s: %s", jobID, v.S("serial_number"), problem)
			}
		}
	}
}

// certMatches says how the leaf of chain differs from subject, or "".
func certMatches(chain string, subject *domain.Subject) string {
	var certs []*x509.Certificate
	for rest := []byte(chain); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "unparseable certificate: " + err.Error()
		}
		certs = append(certs, cert)
	}
	if len(certs) < 2 {
		return fmt.Sprintf("chain holds %d certificates, want the leaf and its CA", len(certs))
	}
	leaf, ca := certs[0], certs[1]
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return "not signed by the chain's CA: " + err.Error()
	}
	dns := slices.Clone(leaf.DNSNames)
	sort.Strings(dns)
	ips := make([]string, len(leaf.IPAddresses))
	for i, ip := range leaf.IPAddresses {
		ips[i] = ip.String()
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	ku := []string{}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		ku = append(ku, "digitalSignature")
	}
	if leaf.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
		ku = append(ku, "keyEncipherment")
	}
	eku := []string{}
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth {
			eku = append(eku, "serverAuth")
		} else {
			eku = append(eku, fmt.Sprint(u))
		}
	}
	switch {
	case leaf.Subject.CommonName != subject.CommonName:
		return fmt.Sprintf("common name %q, approved %q", leaf.Subject.CommonName, subject.CommonName)
	case !slices.Equal(dns, subject.DNSNames):
		return fmt.Sprintf("DNS names %v, approved %v", dns, subject.DNSNames)
	case !slices.Equal(ips, subject.IPAddresses) && !(len(ips) == 0 && len(subject.IPAddresses) == 0):
		return fmt.Sprintf("IP addresses %v, approved %v", ips, subject.IPAddresses)
	case hex.EncodeToString(sum[:]) != subject.PublicKeySHA256:
		return "the key is not the approved key"
	case leaf.NotAfter.Sub(leaf.NotBefore) > time.Duration(subject.ValiditySeconds)*time.Second:
		return fmt.Sprintf("lives %s, approved %ds", leaf.NotAfter.Sub(leaf.NotBefore), subject.ValiditySeconds)
	case !slices.Equal(ku, subject.KeyUsage) || !slices.Equal(eku, subject.ExtKeyUsage):
		return fmt.Sprintf("usages %v %v, approved %v %v", ku, eku, subject.KeyUsage, subject.ExtKeyUsage)
	case leaf.IsCA || len(leaf.URIs)+len(leaf.EmailAddresses) > 0:
		return "carries more than a TLS server certificate"
	}
	return ""
}

// checkGovernedNeedApproval: no certificate was issued without approval
// for a name an approval-tier profile governed when it was issued. The
// governed names at each governance version are replayed from the audit
// trail, where every governance step is recorded with its version.
func (c *checker) checkGovernedNeedApproval() {
	steps := map[int64]domain.GovernanceChange{}
	for _, row := range c.s.Audit {
		g, ok := row.Details()["governance"]
		if !ok || g == nil {
			continue
		}
		raw, _ := json.Marshal(g)
		var step domain.GovernanceChange
		if err := json.Unmarshal(raw, &step); err != nil || step.Version < 1 {
			c.fail("governance-log", "audit row %s has an unreadable governance step", row.S("id"))
			continue
		}
		if _, dup := steps[step.Version]; dup {
			c.fail("governance-log", "governance version %d was recorded twice", step.Version)
		}
		steps[step.Version] = step
	}
	governedAt := func(version int64) (map[domain.NamePattern]int, bool) {
		count := map[domain.NamePattern]int{}
		for v := int64(1); v <= version; v++ {
			step, ok := steps[v]
			if !ok {
				return nil, false
			}
			for _, p := range step.Added {
				count[p]++
			}
			for _, p := range step.Removed {
				count[p]--
			}
		}
		return count, true
	}
	for jobID, vs := range c.versions {
		j, ok := c.s.Jobs[jobID]
		if !ok || j.B("requires_approval") {
			continue
		}
		subject, err := subjectOf(j)
		if err != nil || subject == nil {
			continue // reported by checkIssuedEqualsApproved
		}
		for _, v := range vs {
			if !v.Has("governance_version") {
				c.fail("governed-names-need-approval", "job %s issued without approval and without a governance check", jobID)
				continue
			}
			version := int64(v.N("governance_version"))
			governed, ok := governedAt(version)
			if !ok {
				c.fail("governance-log", "job %s was checked at governance version %d, whose history is incomplete", jobID, version)
				continue
			}
			// The checker's own matcher (oracle.go), not the domain's: an
			// issued name (a wildcard too: it is valid for every name one
			// label under it) must meet no governed pattern.
			for _, name := range subject.Names() {
				for _, p := range slices.Sorted(maps.Keys(governed)) {
					if governed[p] > 0 && nameMeetsPattern(name, string(p)) {
						c.fail("governed-names-need-approval", "job %s issued %s without approval while %s was governed (version %d)", jobID, name, p, version)
					}
				}
			}
		}
	}
}
