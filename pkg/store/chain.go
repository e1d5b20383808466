package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// The audit chain (docs/audit-chain.md). Every audit row is linked into
// the hash chain of its resource's shard inside the transaction that
// writes it: the row carries chain, chain_seq, prev_hash and row_hash,
// and the shard's head item (audit table, pk CHAIN, sk HEAD#<shard>) moves
// to it on the condition that it still holds the sequence number read.
// Two transactions that read the same head cannot both commit, so a
// chain never forks; the loser is linked again on the new head (commit).
// Signed digests of the heads are items of the same table (pk DIGEST,
// sk = their zero-padded seq).

// chainPatience bounds how long commit keeps linking a transaction again
// after losing races for a head; past it the caller gets a 503 (retry).
// Each lost race means another transaction committed, so under any load
// the chain advances; only a shard hotter than one commit per attempt
// (one transaction at a time, with jittered backoff) waits this long.
const chainPatience = 5 * time.Second

// maxTransactItems is DynamoDB's limit on one transaction.
const maxTransactItems = 100

// IndexByChain lists a shard's rows in order (partition chain, sort
// chain_seq). It is shared with the CDK app and the local harness.
const IndexByChain = auditchain.IndexByChain

// chainHeadItem is a shard's head: where its chain ends.
type chainHeadItem struct {
	itemKey
	Shard   string `dynamodbav:"shard"`
	Seq     string `dynamodbav:"seq"` // auditchain.FormatSeq of the last row's seq; "0…0" never stored
	Hash    string `dynamodbav:"hash"`
	RowPK   string `dynamodbav:"row_pk"`
	RowSK   string `dynamodbav:"row_sk"`
	FirstTS string `dynamodbav:"first_ts"`
	LastTS  string `dynamodbav:"last_ts"`
}

func headKey(shard string) itemKey {
	return itemKey{PK: auditchain.HeadPK, SK: auditchain.HeadSK(shard)}
}

func (h *chainHeadItem) seq() int64 {
	if h == nil {
		return 0
	}
	n, _ := auditchain.ParseSeq(h.Seq)
	return n
}

func (h *chainHeadItem) toDomain() domain.AuditChainHead {
	return domain.AuditChainHead{Shard: h.Shard, Seq: h.seq(), Hash: h.Hash, FirstTS: h.FirstTS, LastTS: h.LastTS}
}

// digestItem is one signed digest.
type digestItem struct {
	itemKey
	CreatedAt  string `dynamodbav:"created_at"`
	KeyID      string `dynamodbav:"key_id"`
	DigestHash string `dynamodbav:"digest_hash"`
	Content    string `dynamodbav:"content"`
	Signature  string `dynamodbav:"signature"`
}

func digestKey(seq int64) itemKey {
	return itemKey{PK: auditchain.DigestPK, SK: auditchain.DigestSK(seq)}
}

// shardsOf lists the shards rows go to, in first-use order.
func shardsOf(rows []*auditItem) []string {
	var out []string
	for _, r := range rows {
		if s := auditchain.ShardOf(r.ResourceID); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// chainHeads reads the heads of the shards rows go to, with a strongly
// consistent read: one GetItem when the rows go to one shard, one Query
// of the heads' partition (all 16 heads, about one read unit) when they
// go to several. Heads in known (learned from a failed attempt) are not
// read again; nil in the result means the shard has no row yet.
func (st *Store) chainHeads(ctx context.Context, rows []*auditItem, known map[string]*chainHeadItem) (map[string]*chainHeadItem, error) {
	var missing []string
	for _, s := range shardsOf(rows) {
		if _, ok := known[s]; !ok {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return known, nil
	}
	heads := map[string]*chainHeadItem{}
	switch len(missing) {
	case 1:
		out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(st.auditTable), Key: headKey(missing[0]).av(), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, transient(fmt.Errorf("store: read chain head %s: %w", missing[0], err))
		}
		if len(out.Item) > 0 {
			var h chainHeadItem
			if err := unmarshalItem(out.Item, &h); err != nil {
				return nil, err
			}
			heads[missing[0]] = &h
		}
	default:
		all, err := st.readHeads(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range missing {
			heads[s] = all[s]
		}
	}
	for s, h := range known {
		heads[s] = h
	}
	return heads, nil
}

// readHeads reads every head (one strongly consistent Query).
func (st *Store) readHeads(ctx context.Context) (map[string]*chainHeadItem, error) {
	in, err := query{table: st.auditTable, key: keyOf(attrPK).Equal(valueOf(s(auditchain.HeadPK))), forward: true}.input()
	if err != nil {
		return nil, err
	}
	in.ConsistentRead = aws.Bool(true)
	heads := map[string]*chainHeadItem{}
	for {
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return nil, transient(fmt.Errorf("store: read chain heads: %w", err))
		}
		for _, item := range out.Items {
			var h chainHeadItem
			if err := unmarshalItem(item, &h); err != nil {
				return nil, err
			}
			if auditchain.ValidShard(h.Shard) && h.itemKey == headKey(h.Shard) {
				heads[h.Shard] = &h
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return heads, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// chainedTxn is a transaction with its rows linked: the transition's
// items first, then the rows, then the heads they move.
type chainedTxn struct {
	items  []types.TransactWriteItem
	rowAt  []int
	headAt []int
	shards []string                  // the shard of each head item, in headAt order
	sent   map[string]*chainHeadItem // each head as this transaction writes it
	read   map[string]*chainHeadItem // each head as it was read (nil: none yet)
}

// chained links rows after heads and appends them and the heads' moves to
// a copy of items.
func (st *Store) chained(items []types.TransactWriteItem, rows []*auditItem, heads map[string]*chainHeadItem) (*chainedTxn, error) {
	tx := &chainedTxn{items: slices.Clone(items), sent: map[string]*chainHeadItem{}, read: map[string]*chainHeadItem{}}
	read := tx.read
	for _, row := range rows {
		shard := auditchain.ShardOf(row.ResourceID)
		h, ok := tx.sent[shard]
		if !ok {
			read[shard] = heads[shard]
			h = &chainHeadItem{itemKey: headKey(shard), Shard: shard, Hash: auditchain.ZeroHash}
			if prev := heads[shard]; prev != nil {
				cp := *prev
				h = &cp
			}
			tx.sent[shard] = h
			tx.shards = append(tx.shards, shard)
		}
		item, hash, err := linkRow(row, shard, h.seq()+1, h.Hash)
		if err != nil {
			return nil, err
		}
		put, err := txPut(st.auditTable, item, isNew())
		if err != nil {
			return nil, err
		}
		tx.rowAt = append(tx.rowAt, len(tx.items))
		tx.items = append(tx.items, put)
		h.Seq, h.Hash, h.RowPK, h.RowSK, h.LastTS = row.ChainSeq, hash, row.PK, row.SK, row.TS
		if h.FirstTS == "" {
			h.FirstTS = row.TS
		}
	}
	for _, shard := range tx.shards {
		item, err := marshalItem(tx.sent[shard])
		if err != nil {
			return nil, err
		}
		// The head moves only from where it was read: from nothing, or
		// from the sequence number read.
		cond := isNew()
		if prev := read[shard]; prev != nil {
			cond = equals(attrHeadSeq, s(prev.Seq))
		}
		put, err := txPut(st.auditTable, item, cond)
		if err != nil {
			return nil, err
		}
		// Where DynamoDB returns it, a failed head's current value saves
		// reading it again.
		put.Put.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		tx.headAt = append(tx.headAt, len(tx.items))
		tx.items = append(tx.items, put)
	}
	if len(tx.items) > maxTransactItems {
		return nil, fmt.Errorf("store: a transaction of %d items with its audit chain exceeds DynamoDB's %d", len(tx.items), maxTransactItems)
	}
	return tx, nil
}

// headsAfter is what the heads hold after a transaction failed only on
// heads: a failed head's value where DynamoDB returned it, an unfailed
// head's as read (its condition held). nil when a failed head's value is
// unknown: the heads are read again.
func (tx *chainedTxn) headsAfter(cf *conditionFailed) map[string]*chainHeadItem {
	out := map[string]*chainHeadItem{}
	for i, at := range tx.headAt {
		shard := tx.shards[i]
		if !cf.failed(at) {
			out[shard] = tx.read[shard]
			continue
		}
		item := cf.reasons[at].Item
		if len(item) == 0 {
			return nil
		}
		var h chainHeadItem
		if err := unmarshalItem(item, &h); err != nil || h.itemKey != headKey(shard) {
			return nil
		}
		out[shard] = &h
	}
	return out
}

// linkRow renders row as seq of shard after prev, with its hash.
func linkRow(row *auditItem, shard string, seq int64, prev string) (map[string]types.AttributeValue, string, error) {
	row.Chain, row.ChainSeq, row.PrevHash, row.RowHash = shard, auditchain.FormatSeq(seq), prev, ""
	item, err := marshalItem(row)
	if err != nil {
		return nil, "", err
	}
	attrs, other := stringAttrs(item)
	if len(other) > 0 {
		return nil, "", fmt.Errorf("store: audit row attribute %s is not a string", other[0])
	}
	hash, err := auditchain.Link(attrs, shard, seq, prev)
	if err != nil {
		return nil, "", err
	}
	row.RowHash = hash
	item[auditchain.AttrHash] = s(hash)
	return item, hash, nil
}

// stringAttrs splits an item into its string attributes and the names of
// the others.
func stringAttrs(item map[string]types.AttributeValue) (map[string]string, []string) {
	attrs := make(map[string]string, len(item))
	var other []string
	for name, v := range item {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			attrs[name] = sv.Value
		} else {
			other = append(other, name)
		}
	}
	slices.Sort(other)
	return attrs, other
}

func chainRowOf(item map[string]types.AttributeValue) (domain.AuditChainRow, error) {
	attrs, other := stringAttrs(item)
	return domain.AuditChainRow{Attributes: attrs, OtherTypes: other}, nil
}

// ChainRetries is how many transactions this store resent because another
// transaction moved a chain head first.
func (st *Store) ChainRetries() int64 { return st.chainRetries.Load() }

// --- Reads for verification ----------------------------------------------

// ChainStatus reads every shard's head (strongly consistent); a shard
// with no row yet is at seq 0.
func (st *Store) ChainStatus(ctx context.Context) (*domain.AuditChainStatus, error) {
	heads, err := st.readHeads(ctx)
	if err != nil {
		return nil, err
	}
	out := &domain.AuditChainStatus{Format: auditchain.Format, Shards: auditchain.Shards}
	for _, shard := range auditchain.ShardNames() {
		h := domain.AuditChainHead{Shard: shard, Hash: auditchain.ZeroHash}
		if item := heads[shard]; item != nil {
			h = item.toDomain()
		}
		out.Heads = append(out.Heads, h)
	}
	return out, nil
}

// ChainHeads implements workflow.DigestPort.
func (st *Store) ChainHeads(ctx context.Context) ([]domain.AuditChainHead, error) {
	status, err := st.ChainStatus(ctx)
	if err != nil {
		return nil, err
	}
	return status.Heads, nil
}

// ListChainRows lists a shard's rows with chain_seq > afterSeq, in chain
// order, as stored (every attribute). It reads the by_chain index, which
// is eventually consistent.
func (st *Store) ListChainRows(ctx context.Context, shard string, afterSeq int64, page domain.PageRequest) ([]domain.AuditChainRow, string, error) {
	if !auditchain.ValidShard(shard) {
		return nil, "", domain.Invalidf("shard %q: shards are 00 to %02d", shard, auditchain.Shards-1)
	}
	if afterSeq < 0 {
		return nil, "", domain.Invalidf("after_seq must not be negative")
	}
	q := query{
		table: st.auditTable, index: IndexByChain, forward: true,
		key: keyOf(attrChain).Equal(valueOf(s(shard))).And(keyOf(attrChainSeq).GreaterThan(valueOf(s(auditchain.FormatSeq(afterSeq))))),
	}
	return queryAs(ctx, st, q, page, chainRowOf)
}

// ListUnchained lists the audit table's items that are neither a chained
// row, a head nor a digest (auditchain.Classify's Unchained): a scan of
// the whole table, filtered, at most maxEvaluated items per page.
func (st *Store) ListUnchained(ctx context.Context, page domain.PageRequest) ([]domain.AuditChainRow, string, error) {
	shards := make([]expression.OperandBuilder, 0, auditchain.Shards)
	for _, sh := range auditchain.ShardNames() {
		shards = append(shards, valueOf(s(sh)))
	}
	chained := and(
		nameOf(attrPK).BeginsWith(auditchain.RowPKPrefix),
		nameOf(attrChainSeq).AttributeExists(),
		nameOf(attrChain).In(shards[0], shards[1:]...),
	)
	head := and(equals(attrPK, s(auditchain.HeadPK)), nameOf(attrSK).BeginsWith(auditchain.HeadSKPrefix))
	digest := equals(attrPK, s(auditchain.DigestPK))
	e, err := build(expression.NewBuilder().WithFilter(expression.Not(or(chained, head, digest))))
	if err != nil {
		return nil, "", err
	}
	in := &dynamodb.ScanInput{
		TableName: aws.String(st.auditTable), FilterExpression: e.filter,
		ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
	}
	items, next, err := st.scanPage(ctx, in, page)
	if err != nil {
		return nil, "", err
	}
	return decodeAll(items, next, chainRowOf)
}

// scanPage is queryPage for a filtered Scan of the table.
func (st *Store) scanPage(ctx context.Context, in *dynamodb.ScanInput, page domain.PageRequest) ([]map[string]types.AttributeValue, string, error) {
	// A scan's cursor is a position in the table itself: its pk and sk,
	// in any partition (a query of the table's key with no partition
	// named is checked for exactly that).
	start, err := decodeToken(page.Token, &dynamodb.QueryInput{TableName: in.TableName})
	if err != nil {
		return nil, "", err
	}
	in.ExclusiveStartKey = start
	var items []map[string]types.AttributeValue
	evaluated := 0
	for {
		in.Limit = aws.Int32(int32(min(max(page.Limit-len(items), filteredBatch), maxEvaluated-evaluated)))
		out, err := st.db.Scan(ctx, in)
		if err != nil {
			return nil, "", transient(fmt.Errorf("store: scan: %w", err))
		}
		evaluated += int(out.ScannedCount)
		if need := page.Limit - len(items); len(out.Items) > need {
			kept := out.Items[:need]
			return append(items, kept...), encodeToken(cursorAt(kept[len(kept)-1], "")), nil
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, "", nil
		}
		if len(items) >= page.Limit || evaluated >= maxEvaluated {
			return items, encodeToken(out.LastEvaluatedKey), nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// --- Digests --------------------------------------------------------------

func digestOf(item map[string]types.AttributeValue) (*domain.AuditDigest, error) {
	attrs, _ := stringAttrs(item)
	d, ok := auditchain.DigestOf(attrs)
	if !ok {
		return nil, fmt.Errorf("store: digest item %s is malformed", attrs[attrSK])
	}
	return &d, nil
}

// ListDigests lists digests newest first, or oldest first from a seq on.
func (st *Store) ListDigests(ctx context.Context, f domain.DigestFilter, page domain.PageRequest) ([]*domain.AuditDigest, string, error) {
	key := keyOf(attrPK).Equal(valueOf(s(auditchain.DigestPK)))
	if f.FromSeq > 0 {
		key = key.And(keyOf(attrSK).GreaterThanEqual(valueOf(s(auditchain.DigestSK(f.FromSeq)))))
	}
	q := query{table: st.auditTable, key: key, forward: f.Ascending}
	if !f.Until.IsZero() {
		// created_at is stored fixed-width (SortTime), so it compares as text.
		q.filter = []expression.ConditionBuilder{nameOf(attrCreated).LessThanEqual(valueOf(s(SortTime(f.Until))))}
	}
	return queryAs(ctx, st, q, page, digestOf)
}

// LatestDigest is the newest digest (strongly consistent), or nil.
func (st *Store) LatestDigest(ctx context.Context) (*domain.AuditDigest, error) {
	in, err := query{table: st.auditTable, key: keyOf(attrPK).Equal(valueOf(s(auditchain.DigestPK)))}.input()
	if err != nil {
		return nil, err
	}
	in.ConsistentRead, in.Limit = aws.Bool(true), aws.Int32(1)
	out, err := st.db.Query(ctx, in)
	if err != nil {
		return nil, transient(fmt.Errorf("store: read the latest digest: %w", err))
	}
	if len(out.Items) == 0 {
		return nil, nil
	}
	return digestOf(out.Items[0])
}

// PutDigest stores a digest at its seq; workflow.ErrChanged if another
// digest holds that seq already.
func (st *Store) PutDigest(ctx context.Context, d *domain.AuditDigest) error {
	item, err := marshalItem(&digestItem{
		itemKey: digestKey(d.Seq), CreatedAt: SortTime(d.CreatedAt), KeyID: d.KeyID, DigestHash: d.DigestHash,
		Content: d.Content, Signature: d.Signature,
	})
	if err != nil {
		return err
	}
	e, err := conditionOf(isNew())
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{
		TableName: aws.String(st.auditTable), Item: item, ConditionExpression: e.condition,
		ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
	}
	err = st.write(ctx, "put digest", func() error { _, err := st.db.PutItem(ctx, in); return err })
	if errors.Is(err, workflow.ErrChanged) {
		return fmt.Errorf("%w: digest %d exists", workflow.ErrChanged, d.Seq)
	}
	return err
}
