package domain

import "time"

// The tamper-evident audit trail: every audit row is a link in one of a
// fixed number of hash chains (shards), and signed digests of the chains'
// heads are stored alongside. pkg/auditchain defines the byte encodings
// and verifies a trail; these are the views the API serves of it.

// AuditChainRow is one stored audit row exactly as it is in the table:
// every attribute by name. Rows hold only strings; an attribute of any
// other type (which no writer produces) is named in OtherTypes, so a
// verifier can report it rather than silently leave it out of the hash.
type AuditChainRow struct {
	Attributes map[string]string `json:"attributes"`
	OtherTypes []string          `json:"other_types,omitempty"`
}

// AuditChainHead is where one shard's chain ends: its row count (the last
// row's sequence number), the last row's hash, and the times of its first
// and last rows. A shard with no row yet has Seq 0.
type AuditChainHead struct {
	Shard   string `json:"shard"`
	Seq     int64  `json:"seq"`
	Hash    string `json:"hash"`
	FirstTS string `json:"first_ts,omitempty"`
	LastTS  string `json:"last_ts,omitempty"`
}

// AuditChainStatus describes the chain: its format, its shards and their
// heads as read now.
type AuditChainStatus struct {
	Format string           `json:"format"`
	Shards int              `json:"shards"`
	Heads  []AuditChainHead `json:"heads"`
}

// AuditDigest is one signed digest of the chain heads. Content is the
// signed text itself (pkg/auditchain's digest encoding), Signature the
// ECDSA P-256 signature over it (ASN.1 DER, base64), DigestHash the
// SHA-256 of Content in hex (what the next digest names as its
// predecessor).
type AuditDigest struct {
	Seq        int64     `json:"seq"`
	CreatedAt  time.Time `json:"created_at"`
	KeyID      string    `json:"key_id"`
	DigestHash string    `json:"digest_hash"`
	Content    string    `json:"content"`
	Signature  string    `json:"signature"`
}

// DigestFilter narrows ListDigests. Ascending lists from FromSeq on;
// Until keeps digests created at or before it (zero: no bound).
type DigestFilter struct {
	Ascending bool
	FromSeq   int64
	Until     time.Time
}

// DigestActionWrite is what a person with AWS credentials (certctl audit
// digest) asks of the digest function; its schedule sends no action,
// which means the same.
const DigestActionWrite = "digest"

// DigestRequest is the digest function's input.
type DigestRequest struct {
	Action string `json:"action,omitempty"`
}

// DigestResponse is the digest function's output: the digest written.
type DigestResponse struct {
	Digest *AuditDigest `json:"digest,omitempty"`
	KeyID  string       `json:"key_id,omitempty"`
}
