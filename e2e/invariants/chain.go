package invariants

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
)

// checkChain: every shard's chain is unbroken, every audit row since the
// chain began is linked into one (none outside, none twice, none
// missing), every digest verifies with the digest key, names its
// predecessor and matches the rows it signed. It always checks the whole
// table: shards mix every scenario's rows.
func (c *checker) checkChain() {
	rep, err := VerifyChain(c.s)
	if err != nil {
		c.fail("audit-chain", "the verifier failed: %v", err)
		return
	}
	for _, f := range rep.Findings {
		c.fail("audit-chain", "%s", f)
	}
	if c.s.DigestKey == nil && rep.Digests > 0 {
		c.fail("audit-chain", "digests present but no digest key to check them with")
	}
}

// VerifyChain runs the chain verifier over the snapshot's audit table.
func VerifyChain(s *Snapshot) (*auditchain.Report, error) {
	key := s.DigestKey
	if key == nil {
		// No key named: a throwaway one, so any digest present fails
		// (a snapshot without digests needs none).
		throwaway, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key = &throwaway.PublicKey
	}
	return auditchain.Verify(context.Background(), auditchain.NewMemory(s.Chain, 100), auditchain.Options{PublicKey: key, MaxFindings: 20})
}
