package auditchain

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Keys of the audit table's items. Rows keep the layout they always had
// (pk "AUDIT#<resource id>", sk "<time>#<id>"); the chain adds one head
// item per shard and one item per digest, in partitions of their own.
const (
	RowPKPrefix   = "AUDIT#"
	HeadPK        = "CHAIN"
	HeadSKPrefix  = "HEAD#"
	DigestPK      = "DIGEST"
	IndexByChain  = "by_chain" // partition chain, sort chain_seq: a shard's rows in order
	AttrPK        = "pk"
	AttrSK        = "sk"
	AttrTS        = "ts"
	AttrResource  = "resource_id"
	MaxGroupedDup = 8 // rows claiming one position that a walk reads before it gives up naming them
)

// HeadSK is the sort key of shard's head item.
func HeadSK(shard string) string { return HeadSKPrefix + shard }

// DigestSK is the sort key of digest seq.
func DigestSK(seq int64) string { return FormatSeq(seq) }

// ItemKind is what an item of the audit table is.
type ItemKind int

// Item kinds. Anything that is not one of the first three is Unchained: a
// row the chain does not vouch for, which a verifier reports.
const (
	ChainedRow ItemKind = iota
	HeadItem
	DigestItem
	Unchained
)

// Classify tells an audit table item's kind from its keys and chain
// attributes. pkg/store's unchained filter expression is this predicate.
func Classify(attrs map[string]string) ItemKind {
	pk, sk := attrs[AttrPK], attrs[AttrSK]
	switch {
	case pk == HeadPK && strings.HasPrefix(sk, HeadSKPrefix):
		return HeadItem
	case pk == DigestPK:
		return DigestItem
	case strings.HasPrefix(pk, RowPKPrefix) && ValidShard(attrs[AttrChain]) && hasKey(attrs, AttrSeq):
		return ChainedRow
	}
	return Unchained
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// VerifySignature checks a digest's signature: ECDSA P-256 over the
// SHA-256 of its content, ASN.1 DER, base64 (standard, padded), as KMS's
// ECDSA_SHA_256 produces.
func VerifySignature(pub *ecdsa.PublicKey, content []byte, signature string) bool {
	der, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || pub == nil {
		return false
	}
	sum := sha256.Sum256(content)
	return ecdsa.VerifyASN1(pub, sum[:], der)
}
