package invariants

import (
	"crypto/x509"
	"encoding/pem"
	"sort"
	"strings"
	"time"

	"github.com/certctl-serverless/certctl-serverless/internal/x509lint"
)

// checkRevocations: what revocation promises.
//
//   - revoked-no-new-version: a certificate revoked (or archived) gets no
//     version issued after that moment;
//   - revocation-recorded: every revoked version has its CRL entry (until it
//     expires) and exactly one certificate.revoked audit row naming it, and
//     every entry is a revoked version;
//   - crl-numbers-increase: each issuer's CRLs were published with the
//     numbers 1, 2, … in order, each once, and the stored one is the last;
//   - crl-covers-revoked: once a CRL was made after the last revocation (it
//     is not stale), it is signed by its issuer and lists every revoked
//     version that had not expired when it was made; at rest no CRL is
//     stale.
func (c *checker) checkRevocations(quiescent bool) {
	entries := map[string]Item{} // issuer#serial
	for _, e := range c.s.Entries {
		entries[e.S("issuer_id")+"#"+e.S("serial_number")] = e
	}
	revokedRows := map[string]int{} // serial -> rows naming it
	for _, row := range c.s.Audit {
		if row.S("action") != "certificate.revoked" {
			continue
		}
		serials, _ := row.Details()["serials"].([]any)
		for _, s := range serials {
			if str, ok := s.(string); ok {
				revokedRows[str]++
			}
		}
	}
	versionBySerial := map[string]Item{}
	for _, v := range c.s.Versions {
		versionBySerial[v.S("serial_number")] = v
		if !c.sc.cert(v.S("certificate_id")) {
			continue
		}
		if cert, ok := c.s.Certs[v.S("certificate_id")]; ok {
			retiredAt := map[string]string{"Revoked": cert.S("revoked_at"), "Archived": cert.S("archived_at")}[cert.S("status")]
			if at, issued := ts(retiredAt), ts(v.S("issued_at")); !at.IsZero() && issued.After(at) {
				c.fail("revoked-no-new-version", "certificate %s was %s at %s, yet version %s was issued at %s", v.S("certificate_id"), cert.S("status"), retiredAt, v.S("serial_number"), v.S("issued_at"))
			}
		}
		if !v.Has("revoked_at") {
			continue
		}
		serial := v.S("serial_number")
		if n := revokedRows[serial]; n != 1 {
			c.fail("revocation-recorded", "revoked version %s of %s is named by %d certificate.revoked rows, want 1", serial, v.S("certificate_id"), n)
		}
		issuer := issuerOf(c.s, v)
		if _, ok := entries[issuer+"#"+serial]; !ok && ts(v.S("not_after")).After(ts(c.crlTime(issuer))) {
			c.fail("revocation-recorded", "revoked version %s of %s has no CRL entry and has not expired", serial, v.S("certificate_id"))
		}
	}
	for _, e := range c.s.Entries {
		if !c.sc.cert(e.S("certificate_id")) {
			continue
		}
		if v, ok := versionBySerial[e.S("serial_number")]; ok && !v.Has("revoked_at") {
			c.fail("revocation-recorded", "CRL entry %s names a version that is not revoked", e.S("serial_number"))
		}
	}
	c.checkCRLNumbers(quiescent)
	for issuer, crl := range c.s.CRLs {
		c.checkCRL(issuer, crl, quiescent)
	}
}

// issuerOf is the issuer of a version: its certificate's, or the default
// one of a certificate since deleted.
func issuerOf(s *Snapshot, v Item) string {
	if cert, ok := s.Certs[v.S("certificate_id")]; ok && cert.S("issuer_id") != "" {
		return cert.S("issuer_id")
	}
	return "default"
}

// crlTime is the thisUpdate of the issuer's stored CRL, "" if none: an
// entry may be pruned once its certificate expired before a CRL was made.
func (c *checker) crlTime(issuer string) string {
	if crl, ok := c.s.CRLs[issuer]; ok {
		return crl.S("this_update")
	}
	return ""
}

func (c *checker) checkCRLNumbers(quiescent bool) {
	type pub struct {
		sk     string
		number int64
	}
	byIssuer := map[string][]pub{}
	for _, row := range c.s.Audit {
		if row.S("action") != "crl.published" {
			continue
		}
		n, _ := row.Details()["number"].(float64)
		byIssuer[row.S("resource_id")] = append(byIssuer[row.S("resource_id")], pub{row.S("sk"), int64(n)})
	}
	for issuer, pubs := range byIssuer {
		sort.Slice(pubs, func(i, j int) bool {
			if pubs[i].sk[:min(30, len(pubs[i].sk))] == pubs[j].sk[:min(30, len(pubs[j].sk))] {
				return pubs[i].number < pubs[j].number // the same instant: order by number
			}
			return pubs[i].sk < pubs[j].sk
		})
		for i, p := range pubs {
			if p.number != int64(i+1) {
				c.fail("crl-numbers-increase", "issuer %s: publication %d (in time order) has CRL number %d, want %d (numbers only grow, each used once)", issuer, i+1, p.number, i+1)
				break
			}
		}
		// A snapshot reads the state table, then the audit table, then
		// each CRL again: publications counted in between lie from the
		// first stored number to the second. At rest (and in a snapshot a
		// test builds) they are the first.
		if crl, ok := c.s.CRLs[issuer]; ok {
			before, published := int64(crl.N("number")), int64(len(pubs))
			after := before
			if again, ok := c.s.CRLsAfter[issuer]; ok && !quiescent {
				after = int64(again.N("number"))
			}
			if published < before || published > after {
				c.fail("crl-numbers-increase", "issuer %s: the stored CRL has number %d (%d read again), %d were published", issuer, before, after, published)
			}
		}
	}
	for issuer, crl := range c.s.CRLs {
		if _, ok := byIssuer[issuer]; !ok && crl.N("number") > 0 {
			c.fail("crl-numbers-increase", "issuer %s: CRL number %d was stored without a crl.published row", issuer, int64(crl.N("number")))
		}
	}
}

func (c *checker) checkCRL(issuer string, crl Item, quiescent bool) {
	if crl.N("number") == 0 {
		if quiescent && crl.N("revision") > 0 {
			c.fail("crl-covers-revoked", "issuer %s: revocations were committed but no CRL was ever published", issuer)
		}
		return
	}
	list, err := x509.ParseRevocationList(crl.Bytes("der"))
	if err != nil {
		c.fail("crl-covers-revoked", "issuer %s: the stored CRL does not parse: %v", issuer, err)
		return
	}
	if list.Number == nil || list.Number.Int64() != int64(crl.N("number")) {
		c.fail("crl-covers-revoked", "issuer %s: the CRL says number %v, its item %d", issuer, list.Number, int64(crl.N("number")))
	}
	if ca := caOf(c.s, issuer); ca != nil {
		if err := list.CheckSignatureFrom(ca); err != nil {
			c.fail("crl-covers-revoked", "issuer %s: the CRL is not signed by its CA: %v", issuer, err)
		}
	}
	stale := crl.N("revision") > crl.N("built_revision")
	if stale {
		if quiescent {
			c.fail("crl-covers-revoked", "issuer %s: at rest, its CRL is stale (revision %d, made at %d)", issuer, int64(crl.N("revision")), int64(crl.N("built_revision")))
		}
		return
	}
	listed := map[string]bool{}
	for _, e := range list.RevokedCertificateEntries {
		listed[e.SerialNumber.Text(16)] = true
	}
	made := list.ThisUpdate.UTC().Format(time.RFC3339Nano)
	for _, v := range c.s.Versions {
		if !v.Has("revoked_at") || !c.sc.cert(v.S("certificate_id")) || issuerOf(c.s, v) != issuer {
			continue
		}
		notAfter, err := time.Parse(time.RFC3339Nano, v.S("not_after"))
		if err != nil || !notAfter.After(list.ThisUpdate) {
			continue // expired when the CRL was made: it need not list it
		}
		serial := v.S("serial_number")
		if !listed[strings.TrimLeft(serial, "0")] {
			c.fail("crl-covers-revoked", "issuer %s: CRL %d (made %s, not stale) does not list revoked serial %s of %s", issuer, int64(crl.N("number")), made, serial, v.S("certificate_id"))
		}
	}
	for _, e := range c.s.Entries {
		if e.S("issuer_id") != issuer {
			continue
		}
		notAfter, err := time.Parse(time.RFC3339Nano, e.S("not_after"))
		if err == nil && notAfter.After(list.ThisUpdate) && !listed[strings.TrimLeft(e.S("serial_number"), "0")] {
			c.fail("crl-covers-revoked", "issuer %s: CRL %d does not list entry %s", issuer, int64(crl.N("number")), e.S("serial_number"))
		}
	}
}

// caOf is the issuer's CA certificate, if stored and readable.
func caOf(s *Snapshot, issuer string) *x509.Certificate {
	is, ok := s.Issuers[issuer]
	if !ok {
		return nil
	}
	block, _ := pem.Decode([]byte(is.S("ca_certificate_pem")))
	if block == nil {
		return nil
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return ca
}

// checkLint: every issued leaf in scope and every stored CRL passes zlint
// (internal/x509lint: warnings and errors, less the documented exceptions
// of a private CA).
func (c *checker) checkLint() {
	for _, v := range c.s.Versions {
		if !c.sc.cert(v.S("certificate_id")) {
			continue
		}
		block, _ := pem.Decode([]byte(v.S("pem_chain")))
		if block == nil {
			continue // reported by issued-equals-approved
		}
		fs, err := x509lint.Certificate(block.Bytes)
		if err != nil {
			c.fail("lint", "version %s of %s: %v", v.S("serial_number"), v.S("certificate_id"), err)
		}
		for _, f := range fs {
			c.fail("lint", "version %s of %s: %s", v.S("serial_number"), v.S("certificate_id"), f)
		}
	}
	for issuer, crl := range c.s.CRLs {
		der := crl.Bytes("der")
		if len(der) == 0 {
			continue
		}
		fs, err := x509lint.CRL(der)
		if err != nil {
			c.fail("lint", "CRL %d of issuer %s: %v", int64(crl.N("number")), issuer, err)
		}
		for _, f := range fs {
			c.fail("lint", "CRL %d of issuer %s: %s", int64(crl.N("number")), issuer, f)
		}
	}
	for issuer := range c.s.Issuers {
		if ca := caOf(c.s, issuer); ca != nil {
			fs, _ := x509lint.Certificate(ca.Raw)
			for _, f := range fs {
				c.fail("lint", "CA certificate of issuer %s: %s", issuer, f)
			}
		}
	}
}

// ts reads a stored time; zero if absent or unreadable.
func ts(v string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}
