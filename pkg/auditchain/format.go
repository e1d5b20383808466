// Package auditchain is the tamper-evident audit trail's format and its
// verifier: how a row is hashed and linked into its shard's chain, how a
// digest of the chain heads is encoded and signed, and how a trail is
// walked to find the first row that was edited, removed, inserted or
// moved. It performs no I/O: pkg/store writes the links, the digest
// function signs, and the CLI and the invariant checker verify through a
// Source.
//
// docs/audit-chain.md specifies every encoding here, so an auditor can
// recompute hashes and check signatures without this code.
package auditchain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format names this version of the encodings; it prefixes every hashed
// row ("certctl.audit.row.v1") and digest ("certctl.audit.digest.v1").
const Format = "certctl.audit.v1"

// Shards is the number of chains. A resource's rows all go to one shard
// (ShardOf), so they stay in order; rows of different resources commit
// without touching the same head. The number is part of the format: a
// different one would be a new format version.
const Shards = 16

// Attributes every chained row carries besides its own fields.
const (
	AttrChain = "chain"     // the shard, "00" to "15" (the by_chain index's partition key)
	AttrSeq   = "chain_seq" // the row's position in its shard, from 1, as SeqWidth digits (the index's sort key)
	AttrPrev  = "prev_hash" // RowHash of the previous row of the shard; ZeroHash for the first
	AttrHash  = "row_hash"  // RowHash of this row: SHA-256 of its canonical encoding, hex
)

// SeqWidth is the width of a stored sequence number: zero-padded decimal,
// so the index's string sort key sorts as a number.
const SeqWidth = 12

// TimeLayout is how digests write times: RFC 3339 in UTC, fixed width,
// so that stored times sort as text.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// ZeroHash is the predecessor of a shard's first row and of the first
// digest.
var ZeroHash = strings.Repeat("0", 64)

const (
	rowPrefix    = "certctl.audit.row.v1\n"
	digestPrefix = "certctl.audit.digest.v1\n"
)

// ShardOf is the shard of a resource's rows: the first byte of the SHA-256
// of its id, modulo Shards, as two decimal digits.
func ShardOf(resourceID string) string {
	sum := sha256.Sum256([]byte(resourceID))
	return ShardName(int(sum[0]) % Shards)
}

// ShardName is shard i's name, "00" to "15".
func ShardName(i int) string { return fmt.Sprintf("%02d", i) }

// ShardNames lists every shard, in order.
func ShardNames() []string {
	out := make([]string, Shards)
	for i := range out {
		out[i] = ShardName(i)
	}
	return out
}

// ValidShard reports whether s names a shard.
func ValidShard(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && len(s) == 2 && n >= 0 && n < Shards
}

// FormatSeq renders a sequence number as stored.
func FormatSeq(n int64) string { return fmt.Sprintf("%0*d", SeqWidth, n) }

// ParseSeq reads a stored sequence number: exactly SeqWidth digits, > 0.
func ParseSeq(s string) (int64, error) {
	if len(s) != SeqWidth || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("sequence number %q is not %d digits", s, SeqWidth)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("sequence number %q is not positive", s)
	}
	return n, nil
}

// validName: attribute names in the encodings are [a-z0-9_.]+, which no
// length prefix then needs to delimit.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// field appends name=<byte length>:value\n.
func field(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(strconv.Itoa(len(value)))
	b.WriteByte(':')
	b.WriteString(value)
	b.WriteByte('\n')
}

// Canonical is the byte encoding of a row that its hash covers:
//
//	"certctl.audit.row.v1\n"
//	then, for every attribute except row_hash, sorted by name (bytewise):
//	<name> "=" <length of value in bytes, decimal> ":" <value, UTF-8> "\n"
//
// Every attribute is covered, the chain's own (chain, chain_seq, prev_hash)
// included, so adding, removing or changing any attribute changes the
// hash. Names must be [a-z0-9_.]+ and values valid UTF-8.
func Canonical(attrs map[string]string) ([]byte, error) {
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		if name == AttrHash {
			continue
		}
		if !validName(name) {
			return nil, fmt.Errorf("attribute name %q is not [a-z0-9_.]+", name)
		}
		if !utf8.ValidString(attrs[name]) {
			return nil, fmt.Errorf("attribute %s is not valid UTF-8", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString(rowPrefix)
	for _, name := range names {
		field(&b, name, attrs[name])
	}
	return b.Bytes(), nil
}

// Sum is the lowercase hex SHA-256 of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// RowHash is the hash of a row: Sum(Canonical(attrs)).
func RowHash(attrs map[string]string) (string, error) {
	c, err := Canonical(attrs)
	if err != nil {
		return "", err
	}
	return Sum(c), nil
}

// Link makes attrs row seq of shard, after a row whose hash is prev: it
// sets chain, chain_seq and prev_hash, then row_hash, and returns the
// row's hash (the next row's prev, and the shard's new head).
func Link(attrs map[string]string, shard string, seq int64, prev string) (string, error) {
	if !ValidShard(shard) || seq < 1 || !validHash(prev) {
		return "", fmt.Errorf("auditchain: cannot link shard %q seq %d after %q", shard, seq, prev)
	}
	delete(attrs, AttrHash)
	attrs[AttrChain], attrs[AttrSeq], attrs[AttrPrev] = shard, FormatSeq(seq), prev
	h, err := RowHash(attrs)
	if err != nil {
		return "", fmt.Errorf("auditchain: %w", err)
	}
	attrs[AttrHash] = h
	return h, nil
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// Head is where a shard's chain ends, as the shard's head item and a
// digest record it.
type Head struct {
	Shard   string
	Seq     int64  // the last row's sequence number: the shard's row count
	Hash    string // the last row's hash; ZeroHash while the shard is empty
	FirstTS string // ts of the shard's first row ("" while empty)
	LastTS  string // ts of its last row
}

// Digest is the signed statement of where every chain ended at CreatedAt.
type Digest struct {
	Seq         int64  // 1, 2, …: digests form their own chain
	Prev        string // DigestHash of the previous digest; ZeroHash for the first
	CreatedAt   string // RFC 3339 (UTC, nanoseconds) when the heads were read
	PeriodStart string // the previous digest's CreatedAt ("" for the first)
	KeyID       string // the KMS key that signs digests
	Heads       []Head // one per shard, in shard order
}

// Content is the digest's canonical encoding, the bytes that are hashed
// and signed:
//
//	"certctl.audit.digest.v1\n"
//	digest_seq=<len>:<seq>\n
//	prev_digest_hash=64:<hex>\n
//	created_at=<len>:<RFC 3339>\n
//	period_start=<len>:<RFC 3339, or empty>\n
//	key_id=<len>:<key ARN>\n
//	shards=2:16\n
//	then per shard, in order: shard.<NN>=<len>:<seq> <hash> <first_ts|-> <last_ts|->\n
func (d Digest) Content() []byte {
	var b bytes.Buffer
	b.WriteString(digestPrefix)
	field(&b, "digest_seq", strconv.FormatInt(d.Seq, 10))
	field(&b, "prev_digest_hash", d.Prev)
	field(&b, "created_at", d.CreatedAt)
	field(&b, "period_start", d.PeriodStart)
	field(&b, "key_id", d.KeyID)
	field(&b, "shards", strconv.Itoa(len(d.Heads)))
	for _, h := range d.Heads {
		field(&b, "shard."+h.Shard, fmt.Sprintf("%d %s %s %s", h.Seq, h.Hash, dash(h.FirstTS), dash(h.LastTS)))
	}
	return b.Bytes()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed")

// ParseDigest reads a digest's content strictly: every field in order,
// lengths exact, nothing after the last shard, and it must re-encode to
// the same bytes.
func ParseDigest(content []byte) (Digest, error) {
	fail := func(format string, args ...any) (Digest, error) {
		return Digest{}, fmt.Errorf("%w digest: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	rest, ok := bytes.CutPrefix(content, []byte(digestPrefix))
	if !ok {
		return fail("it does not start with %q", strings.TrimSpace(digestPrefix))
	}
	next := func(name string) (string, error) {
		n, after, ok := bytes.Cut(rest, []byte("="))
		if !ok || string(n) != name {
			return "", fmt.Errorf("want field %s", name)
		}
		l, after, ok := bytes.Cut(after, []byte(":"))
		size, err := strconv.Atoi(string(l))
		if !ok || err != nil || size < 0 || size >= len(after) || after[size] != '\n' {
			return "", fmt.Errorf("field %s: bad length", name)
		}
		rest = after[size+1:]
		return string(after[:size]), nil
	}
	var d Digest
	var err error
	var s string
	if s, err = next("digest_seq"); err == nil {
		d.Seq, err = strconv.ParseInt(s, 10, 64)
	}
	if err == nil {
		d.Prev, err = next("prev_digest_hash")
	}
	if err == nil {
		d.CreatedAt, err = next("created_at")
	}
	if err == nil {
		d.PeriodStart, err = next("period_start")
	}
	if err == nil {
		d.KeyID, err = next("key_id")
	}
	var n int
	if err == nil {
		if s, err = next("shards"); err == nil {
			n, err = strconv.Atoi(s)
		}
	}
	if err != nil {
		return fail("%v", err)
	}
	if d.Seq < 1 || !validHash(d.Prev) || n != Shards {
		return fail("digest_seq %d, prev_digest_hash %q, %d shards", d.Seq, d.Prev, n)
	}
	for i := range n {
		name := ShardName(i)
		v, err := next("shard." + name)
		if err != nil {
			return fail("%v", err)
		}
		parts := strings.Split(v, " ")
		if len(parts) != 4 {
			return fail("shard %s: want seq, hash, first and last time", name)
		}
		seq, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil || seq < 0 || !validHash(parts[1]) {
			return fail("shard %s: seq %q hash %q", name, parts[0], parts[1])
		}
		d.Heads = append(d.Heads, Head{Shard: name, Seq: seq, Hash: parts[1], FirstTS: undash(parts[2]), LastTS: undash(parts[3])})
	}
	if len(rest) != 0 {
		return fail("%d bytes after the last shard", len(rest))
	}
	if !bytes.Equal(d.Content(), content) {
		return fail("it does not re-encode to itself")
	}
	return d, nil
}
