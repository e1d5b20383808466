package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// encodeToken makes an opaque cursor from a LastEvaluatedKey. Every key
// attribute in this schema is a string.
func encodeToken(lek map[string]types.AttributeValue) string {
	if len(lek) == 0 {
		return ""
	}
	m := make(map[string]string, len(lek))
	for k, v := range lek {
		m[k] = ""
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			m[k] = sv.Value
		}
	}
	b, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken reads a page token for a query of in: it must hold exactly
// the key attributes of the index being queried (the table's pk and sk,
// and the index's own keys), each a non-empty string, and its position must
// be in the partition the query reads. Anything else is the caller's
// mistake (400), never a request DynamoDB would refuse (500).
func decodeToken(token string, in *dynamodb.QueryInput) (map[string]types.AttributeValue, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) > 2048 {
		return nil, domain.Invalidf("page_token is malformed: pass next_page_token as it was returned")
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || len(m) == 0 {
		return nil, domain.Invalidf("page_token is malformed: pass next_page_token as it was returned")
	}
	index := aws.ToString(in.IndexName)
	want := indexKeys[index]
	// DynamoDB's LastEvaluatedKey of an index query holds the table's and
	// the index's keys; the embedded emulator gives the table's only, and
	// takes them back. Either shape, and nothing else.
	if len(m) != len(want) && len(m) != 2 {
		return nil, domain.Invalidf("page_token does not belong to this list: pass next_page_token as it was returned, with the same filters")
	}
	for _, k := range want[:min(len(want), len(m))] {
		if v, ok := m[k]; !ok || v == "" || len(v) > 1024 {
			return nil, domain.Invalidf("page_token does not belong to this list: pass next_page_token as it was returned, with the same filters")
		}
	}
	if attr, value, ok := queriedPartition(in); ok && len(m) == len(want) && m[attr] != value {
		return nil, domain.Invalidf("page_token belongs to another list: pass next_page_token with the same filters it came with")
	}
	// The table's own key: its partition is the queried one too.
	if attr, value, ok := queriedPartition(in); ok && attr == attrPK && m[attrPK] != value {
		return nil, domain.Invalidf("page_token belongs to another list: pass next_page_token with the same filters it came with")
	}
	lek := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		lek[k] = s(v)
	}
	return lek, nil
}

// indexPartition is the partition key attribute of each index.
var indexPartition = map[string]string{
	"": attrPK, IndexList: attrListPK, IndexParent: attrParentPK, IndexPending: attrPendingPK, IndexDue: attrDuePK,
	AuditIndexActor: attrActor, AuditIndexAction: attrAction, AuditIndexDay: attrDay, IndexByChain: attrChain,
}

// keyEquals finds "#name = :value" in a key condition.
var keyEquals = regexp.MustCompile(`(#[A-Za-z0-9_]+) = (:[A-Za-z0-9_]+)`)

// queriedPartition reads the partition a query's key condition names:
// the index's partition attribute and the string it must equal.
func queriedPartition(in *dynamodb.QueryInput) (attr, value string, ok bool) {
	attr = indexPartition[aws.ToString(in.IndexName)]
	for _, m := range keyEquals.FindAllStringSubmatch(aws.ToString(in.KeyConditionExpression), -1) {
		if in.ExpressionAttributeNames[m[1]] != attr {
			continue
		}
		if v, isString := in.ExpressionAttributeValues[m[2]].(*types.AttributeValueMemberS); isString {
			return attr, v.Value, true
		}
	}
	return "", "", false
}

// maxEvaluated bounds the items one page may make DynamoDB read: a
// filter that matches little must not turn one call into a scan of the
// whole index. Past it, the page ends early with a cursor to go on from.
const maxEvaluated = 1000

// filteredBatch is how many items a filtered query asks for per round.
const filteredBatch = 100

// indexKeys are the key attributes of each index; an item's values of
// them (with the table's own pk and sk) are a cursor positioned on it.
var indexKeys = map[string][]string{
	"":               {attrPK, attrSK},
	IndexList:        {attrPK, attrSK, attrListPK, attrListSK},
	IndexParent:      {attrPK, attrSK, attrParentPK, attrParentSK},
	IndexPending:     {attrPK, attrSK, attrPendingPK, attrPendingSK},
	IndexDue:         {attrPK, attrSK, attrDuePK, attrDueSK},
	AuditIndexActor:  {attrPK, attrSK, attrActor},
	AuditIndexAction: {attrPK, attrSK, attrAction},
	AuditIndexDay:    {attrPK, attrSK, attrDay},
	IndexByChain:     {attrPK, attrSK, attrChain, attrChainSeq},
}

// queryPage runs in (a Query with its key condition and optional filter)
// until it has page.Limit matching items, the index is exhausted, or it has
// evaluated maxEvaluated items. Unfiltered rounds ask for exactly the
// number still missing; filtered rounds read in batches and, when a batch
// matches more than needed, the cursor is built from the last item kept,
// so it is always exact. A page may hold fewer items than asked (even none)
// and still have a cursor: the caller follows it.
func (st *Store) queryPage(ctx context.Context, in *dynamodb.QueryInput, page domain.PageRequest) ([]map[string]types.AttributeValue, string, error) {
	start, err := decodeToken(page.Token, in)
	if err != nil {
		return nil, "", err
	}
	in.ExclusiveStartKey = start
	filtered := in.FilterExpression != nil
	var items []map[string]types.AttributeValue
	evaluated := 0
	for {
		want := page.Limit - len(items)
		if filtered {
			want = max(want, filteredBatch)
		}
		in.Limit = aws.Int32(int32(min(want, maxEvaluated-evaluated)))
		out, err := st.db.Query(ctx, in)
		if err != nil {
			if start != nil && evaluated == 0 && isValidation(err) {
				// Shaped right but outside what this query reads (a sort key
				// beyond its range): still the token's fault.
				return nil, "", &domain.Error{Kind: domain.KindInvalid, Public: "page_token does not belong to this list: pass next_page_token as it was returned, with the same filters", Cause: err}
			}
			return nil, "", transient(fmt.Errorf("store: query %s: %w", aws.ToString(in.IndexName), err))
		}
		evaluated += int(out.ScannedCount)
		if need := page.Limit - len(items); len(out.Items) > need {
			kept := out.Items[:need]
			return append(items, kept...), encodeToken(cursorAt(kept[len(kept)-1], aws.ToString(in.IndexName))), nil
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

// cursorAt is the ExclusiveStartKey that resumes a query of index right
// after item.
func cursorAt(item map[string]types.AttributeValue, index string) map[string]types.AttributeValue {
	lek := map[string]types.AttributeValue{}
	for _, k := range indexKeys[index] {
		if v, ok := item[k]; ok {
			lek[k] = v
		}
	}
	return lek
}

// listQuery is a newest-first query of one partition of the list index.
func (st *Store) listQuery(partition string) query {
	return query{table: st.stateTable, index: IndexList, key: keyOf(attrListPK).Equal(valueOf(s(partition)))}
}

// queryAs runs q through queryPage and decodes each item with decode.
func queryAs[T any](ctx context.Context, st *Store, q query, page domain.PageRequest, decode func(map[string]types.AttributeValue) (T, error)) ([]T, string, error) {
	in, err := q.input()
	if err != nil {
		return nil, "", err
	}
	items, next, err := st.queryPage(ctx, in, page)
	if err != nil {
		return nil, "", err
	}
	return decodeAll(items, next, decode)
}

func decodeAll[T any](items []map[string]types.AttributeValue, next string, decode func(map[string]types.AttributeValue) (T, error)) ([]T, string, error) {
	out := make([]T, 0, len(items))
	for _, item := range items {
		v, err := decode(item)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, next, nil
}

// isValidation reports DynamoDB's refusal of a request as invalid.
func isValidation(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ValidationException"
}
