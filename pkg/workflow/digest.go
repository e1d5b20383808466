package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// DigestSigner signs digests of the audit chain with a key of its own
// (never the CA's): the digest function's KMS key.
type DigestSigner interface {
	// KeyID names the key, as digests record it.
	KeyID() string
	// SignDigest signs a SHA-256 digest: ECDSA P-256, ASN.1 DER.
	SignDigest(ctx context.Context, sha256Digest []byte) ([]byte, error)
}

// DigestObserver is told of each digest written (CloudWatch EMF in
// Lambda: an alarm fires when digests stop). An Observer may implement it.
type DigestObserver interface {
	Digest()
}

// digestAttempts bounds how often a digest is made again after another
// digest took its seq.
const digestAttempts = 3

// WriteDigest signs and stores a digest of the audit chain as it is now:
// every shard's head (row count, last hash, time range), chained to the
// previous digest by that digest's hash. It reads the previous digest
// before the heads, so no shard goes backwards from one digest to the
// next; a head behind the previous digest (a rolled-back chain) is
// refused, not signed. Two writers racing for one seq cannot both store:
// the loser makes its digest again on top of the winner's.
func (s *Service) WriteDigest(ctx context.Context, signer DigestSigner) (*domain.AuditDigest, error) {
	for attempt := 1; ; attempt++ {
		d, err := s.digest(ctx, signer)
		if err != nil {
			return nil, err
		}
		err = s.Digests.PutDigest(ctx, d)
		switch {
		case err == nil:
			if o, ok := s.Observer.(DigestObserver); ok {
				o.Digest()
			}
			return d, nil
		case IsChanged(err) && attempt < digestAttempts:
			continue
		case IsChanged(err):
			return nil, domain.Conflictf("another digest was written at the same time; try again")
		}
		return nil, err
	}
}

func (s *Service) digest(ctx context.Context, signer DigestSigner) (*domain.AuditDigest, error) {
	prev, err := s.Digests.LatestDigest(ctx)
	if err != nil {
		return nil, err
	}
	heads, err := s.Digests.ChainHeads(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	d := auditchain.Digest{Seq: 1, Prev: auditchain.ZeroHash, CreatedAt: now.Format(auditchain.TimeLayout), KeyID: signer.KeyID()}
	if prev != nil {
		// The predecessor's hash is computed from its content, not taken
		// from the stored digest_hash, which nothing signs.
		last, err := auditchain.ParseDigest([]byte(prev.Content))
		if err != nil {
			return nil, fmt.Errorf("workflow: the latest digest (%d) does not parse, so no digest can follow it: %w", prev.Seq, err)
		}
		d.Seq, d.Prev, d.PeriodStart = prev.Seq+1, auditchain.Sum([]byte(prev.Content)), last.CreatedAt
		for i, h := range heads {
			if i < len(last.Heads) && h.Seq < last.Heads[i].Seq {
				return nil, fmt.Errorf("workflow: shard %s's head is at seq %d, behind digest %d's %d: the chain was rolled back; not signing it",
					h.Shard, h.Seq, prev.Seq, last.Heads[i].Seq)
			}
		}
	}
	for _, h := range heads {
		d.Heads = append(d.Heads, auditchain.Head{Shard: h.Shard, Seq: h.Seq, Hash: h.Hash, FirstTS: h.FirstTS, LastTS: h.LastTS})
	}
	if len(d.Heads) != auditchain.Shards {
		return nil, fmt.Errorf("workflow: %d chain heads read, want %d", len(d.Heads), auditchain.Shards)
	}
	content := d.Content()
	sum := sha256.Sum256(content)
	sig, err := signer.SignDigest(ctx, sum[:])
	if err != nil {
		return nil, err
	}
	return &domain.AuditDigest{
		Seq: d.Seq, CreatedAt: now, KeyID: d.KeyID, DigestHash: auditchain.Sum(content),
		Content: string(content), Signature: base64.StdEncoding.EncodeToString(sig),
	}, nil
}
