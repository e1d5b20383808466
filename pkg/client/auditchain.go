package client

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

const (
	pathAuditChain     = pathAudit + "/chain"
	pathAuditUnchained = pathAudit + "/unchained"
	pathAuditDigests   = pathAudit + "/digests"
	pathAuditPublicKey = pathAudit + "/public-key"
)

// DigestFilter narrows ListDigests: oldest first from FromSeq on, or
// newest first; Until keeps digests created at or before it.
type DigestFilter struct {
	Ascending bool
	FromSeq   int64
	Until     time.Time
}

// ChainStatus reads the audit chain's format and every shard's head.
func (c *Client) ChainStatus(ctx context.Context) (*domain.AuditChainStatus, error) {
	var out domain.AuditChainStatus
	if _, err := c.do(ctx, http.MethodGet, pathAuditChain, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListChainRows reads one page of a shard's rows after afterSeq, in chain
// order, every attribute as stored.
func (c *Client) ListChainRows(ctx context.Context, shard string, afterSeq int64, p PageRequest) ([]domain.AuditChainRow, string, error) {
	q := filter("after_seq", strconv.FormatInt(afterSeq, 10))
	return getList[domain.AuditChainRow](ctx, c, pathAuditChain+"/"+escape(shard), q, p)
}

// ListUnchained reads one page of the audit table's items that no chain
// links (a page may be empty and still have a next token: follow it).
func (c *Client) ListUnchained(ctx context.Context, p PageRequest) ([]domain.AuditChainRow, string, error) {
	return getList[domain.AuditChainRow](ctx, c, pathAuditUnchained, nil, p)
}

// ListDigests reads one page of the signed digests.
func (c *Client) ListDigests(ctx context.Context, f DigestFilter, p PageRequest) ([]domain.AuditDigest, string, error) {
	order, from := "", ""
	if f.Ascending {
		order = "asc"
	}
	if f.FromSeq > 0 {
		from = strconv.FormatInt(f.FromSeq, 10)
	}
	q := filter("order", order, "from_seq", from, "until", rfc3339(f.Until))
	return getList[domain.AuditDigest](ctx, c, pathAuditDigests, q, p)
}

// DigestPublicKey reads the digest key's public half (PEM).
func (c *Client) DigestPublicKey(ctx context.Context) (string, error) {
	_, body, err := c.send(ctx, http.MethodGet, pathAuditPublicKey, nil, nil)
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(body), "-----BEGIN PUBLIC KEY-----") {
		return "", fmt.Errorf("GET %s: the answer is not a PEM public key", pathAuditPublicKey)
	}
	return string(body), nil
}

// ChainSource reads an audit trail through the API for auditchain.Verify,
// one page at a time.
type ChainSource struct {
	C *Client
	// Page is the page size of every list (default and maximum 500).
	Page int
}

var _ auditchain.Source = (*ChainSource)(nil)

func (s *ChainSource) page(token string) PageRequest {
	n := s.Page
	if n <= 0 || n > 500 {
		n = 500
	}
	return PageRequest{Limit: n, Token: token}
}

// Heads implements auditchain.Source.
func (s *ChainSource) Heads(ctx context.Context) ([]domain.AuditChainHead, error) {
	st, err := s.C.ChainStatus(ctx)
	if err != nil {
		return nil, err
	}
	if st.Format != auditchain.Format || st.Shards != auditchain.Shards {
		return nil, fmt.Errorf("the API's audit chain is %s with %d shards; this certctl verifies %s with %d", st.Format, st.Shards, auditchain.Format, auditchain.Shards)
	}
	return st.Heads, nil
}

// Digests implements auditchain.Source.
func (s *ChainSource) Digests(ctx context.Context, fromSeq int64, token string) ([]domain.AuditDigest, string, error) {
	return s.C.ListDigests(ctx, DigestFilter{Ascending: true, FromSeq: fromSeq}, s.page(token))
}

// DigestBefore implements auditchain.Source.
func (s *ChainSource) DigestBefore(ctx context.Context, t time.Time) (*domain.AuditDigest, error) {
	token := ""
	for {
		ds, next, err := s.C.ListDigests(ctx, DigestFilter{Until: t}, PageRequest{Limit: 1, Token: token})
		if err != nil {
			return nil, err
		}
		if len(ds) > 0 {
			return &ds[0], nil
		}
		if next == "" {
			return nil, nil
		}
		token = next
	}
}

// Rows implements auditchain.Source.
func (s *ChainSource) Rows(ctx context.Context, shard string, afterSeq int64, token string) ([]domain.AuditChainRow, string, error) {
	return s.C.ListChainRows(ctx, shard, afterSeq, s.page(token))
}

// Unchained implements auditchain.Source.
func (s *ChainSource) Unchained(ctx context.Context, token string) ([]domain.AuditChainRow, string, error) {
	return s.C.ListUnchained(ctx, s.page(token))
}
