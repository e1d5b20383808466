package auditchain

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Attributes of a head item and a digest item (all strings, like a row's).
const (
	AttrHeadShard      = "shard"
	AttrHeadSeq        = "seq"
	AttrHeadHash       = "hash"
	AttrHeadRowPK      = "row_pk"
	AttrHeadRowSK      = "row_sk"
	AttrHeadFirstTS    = "first_ts"
	AttrHeadLastTS     = "last_ts"
	AttrDigestCreated  = "created_at"
	AttrDigestKeyID    = "key_id"
	AttrDigestHash     = "digest_hash"
	AttrDigestContent  = "content"
	AttrDigestSignedBy = "signature"
)

// HeadOf reads a head item; ok is false if it is not one.
func HeadOf(attrs map[string]string) (domain.AuditChainHead, bool) {
	if Classify(attrs) != HeadItem {
		return domain.AuditChainHead{}, false
	}
	seq, err := strconv.ParseInt(attrs[AttrHeadSeq], 10, 64)
	if err != nil {
		return domain.AuditChainHead{}, false
	}
	return domain.AuditChainHead{
		Shard: attrs[AttrHeadShard], Seq: seq, Hash: attrs[AttrHeadHash],
		FirstTS: attrs[AttrHeadFirstTS], LastTS: attrs[AttrHeadLastTS],
	}, true
}

// DigestOf reads a digest item; ok is false if it is not one.
func DigestOf(attrs map[string]string) (domain.AuditDigest, bool) {
	if Classify(attrs) != DigestItem {
		return domain.AuditDigest{}, false
	}
	seq, err := ParseSeq(attrs[AttrSK])
	if err != nil {
		return domain.AuditDigest{}, false
	}
	created, _ := time.Parse(time.RFC3339Nano, attrs[AttrDigestCreated])
	return domain.AuditDigest{
		Seq: seq, CreatedAt: created, KeyID: attrs[AttrDigestKeyID], DigestHash: attrs[AttrDigestHash],
		Content: attrs[AttrDigestContent], Signature: attrs[AttrDigestSignedBy],
	}, true
}

// Memory is a Source over a snapshot of the audit table's items, as the
// invariant checker scans them. Heads are read from the snapshot too.
type Memory struct {
	rows      map[string][]domain.AuditChainRow // shard -> rows by seq, then key
	heads     []domain.AuditChainHead
	digests   []domain.AuditDigest // by seq
	unchained []domain.AuditChainRow
	page      int
}

// NewMemory indexes items; page is the page size of every list (0: 100).
func NewMemory(items []domain.AuditChainRow, page int) *Memory {
	if page <= 0 {
		page = 100
	}
	m := &Memory{rows: map[string][]domain.AuditChainRow{}, page: page}
	for _, it := range items {
		switch Classify(it.Attributes) {
		case ChainedRow:
			s := it.Attributes[AttrChain]
			m.rows[s] = append(m.rows[s], it)
		case HeadItem:
			if h, ok := HeadOf(it.Attributes); ok {
				m.heads = append(m.heads, h)
			} else {
				m.unchained = append(m.unchained, it)
			}
		case DigestItem:
			if d, ok := DigestOf(it.Attributes); ok {
				m.digests = append(m.digests, d)
			} else {
				m.unchained = append(m.unchained, it)
			}
		default:
			m.unchained = append(m.unchained, it)
		}
	}
	for _, rows := range m.rows {
		// The index's order: the sort key, then (for ties) the row's key.
		slices.SortStableFunc(rows, func(a, b domain.AuditChainRow) int {
			return cmp.Or(cmp.Compare(a.Attributes[AttrSeq], b.Attributes[AttrSeq]), cmp.Compare(rowKey(a), rowKey(b)))
		})
	}
	slices.SortFunc(m.heads, func(a, b domain.AuditChainHead) int { return cmp.Compare(a.Shard, b.Shard) })
	slices.SortFunc(m.digests, func(a, b domain.AuditDigest) int { return cmp.Compare(a.Seq, b.Seq) })
	return m
}

// Heads implements Source.
func (m *Memory) Heads(context.Context) ([]domain.AuditChainHead, error) { return m.heads, nil }

// Digests implements Source.
func (m *Memory) Digests(_ context.Context, fromSeq int64, token string) ([]domain.AuditDigest, string, error) {
	i := slices.IndexFunc(m.digests, func(d domain.AuditDigest) bool { return d.Seq >= fromSeq })
	if i < 0 {
		return nil, "", nil
	}
	return pageOf(m.digests[i:], token, m.page)
}

// DigestBefore implements Source.
func (m *Memory) DigestBefore(_ context.Context, t time.Time) (*domain.AuditDigest, error) {
	for i := len(m.digests) - 1; i >= 0; i-- {
		if !m.digests[i].CreatedAt.After(t) {
			d := m.digests[i]
			return &d, nil
		}
	}
	return nil, nil
}

// Rows implements Source.
func (m *Memory) Rows(_ context.Context, shard string, afterSeq int64, token string) ([]domain.AuditChainRow, string, error) {
	after := FormatSeq(afterSeq)
	rows := m.rows[shard]
	i := slices.IndexFunc(rows, func(r domain.AuditChainRow) bool { return r.Attributes[AttrSeq] > after })
	if i < 0 {
		return nil, "", nil
	}
	return pageOf(rows[i:], token, m.page)
}

// Unchained implements Source.
func (m *Memory) Unchained(_ context.Context, token string) ([]domain.AuditChainRow, string, error) {
	return pageOf(m.unchained, token, m.page)
}

func pageOf[T any](all []T, token string, size int) ([]T, string, error) {
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(all) {
			return nil, "", fmt.Errorf("auditchain: bad page token %q", token)
		}
		start = n
	}
	end := min(start+size, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}
