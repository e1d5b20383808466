package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// PageRequest asks for one page of a list.
type PageRequest struct {
	Limit int    // 1..500
	Token string // opaque; empty for the first page
}

// encodeToken makes an opaque cursor from a LastEvaluatedKey. Every key
// attribute in this schema is a string.
func encodeToken(lek map[string]types.AttributeValue) string {
	if len(lek) == 0 {
		return ""
	}
	m := make(map[string]string, len(lek))
	for k := range lek {
		m[k] = str(lek, k)
	}
	b, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(token string) (map[string]types.AttributeValue, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) > 2048 {
		return nil, domain.Invalidf("page_token is malformed")
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || len(m) == 0 || len(m) > 4 {
		return nil, domain.Invalidf("page_token is malformed")
	}
	lek := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		lek[k] = s(v)
	}
	return lek, nil
}

// queryPage runs in (a Query with its key condition and optional filter)
// until it has page.Limit matching items or the index is exhausted. Each
// round asks only for the number still missing, so a filter never makes the
// page overshoot and the returned cursor is always exact.
func (st *Store) queryPage(ctx context.Context, in *dynamodb.QueryInput, page PageRequest) ([]map[string]types.AttributeValue, string, error) {
	start, err := decodeToken(page.Token)
	if err != nil {
		return nil, "", err
	}
	in.ExclusiveStartKey = start
	var items []map[string]types.AttributeValue
	for {
		in.Limit = aws.Int32(int32(page.Limit - len(items)))
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return nil, "", transient(fmt.Errorf("store: query %s: %w", aws.ToString(in.IndexName), err))
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, "", nil
		}
		if len(items) >= page.Limit {
			return items, encodeToken(out.LastEvaluatedKey), nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// listQuery is a newest-first query of one partition of the list index.
func (st *Store) listQuery(partition string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String(st.stateTable),
		IndexName:                 aws.String(IndexList),
		KeyConditionExpression:    aws.String("list_pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(partition)},
		ScanIndexForward:          aws.Bool(false),
	}
}

// filter adds "name = :value" clauses for every non-empty value.
func filter(in *dynamodb.QueryInput, eq map[string]string) {
	expr := ""
	for name, value := range eq {
		if value == "" {
			continue
		}
		if in.ExpressionAttributeNames == nil {
			in.ExpressionAttributeNames = map[string]string{}
		}
		in.ExpressionAttributeNames["#f_"+name] = name
		in.ExpressionAttributeValues[":f_"+name] = s(value)
		if expr != "" {
			expr += " AND "
		}
		expr += "#f_" + name + " = :f_" + name
	}
	if expr != "" {
		in.FilterExpression = aws.String(expr)
	}
}

// queryAs runs queryPage and decodes each item with decode.
func queryAs[T any](ctx context.Context, st *Store, in *dynamodb.QueryInput, page PageRequest, decode func(map[string]types.AttributeValue) (T, error)) ([]T, string, error) {
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

// as decodes an item into a new T by its json tags.
func as[T any](item map[string]types.AttributeValue) (*T, error) {
	var v T
	if err := unmarshal(item, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
