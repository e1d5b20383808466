// Package store is the DynamoDB adapter: one state table (single-table
// design) and one append-only audit table. Every state change is a
// conditional write or a transaction that carries its audit row.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// DB is the subset of the DynamoDB API the store uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes certctl-serverless state.
type Store struct {
	db         DB
	stateTable string
	auditTable string
}

// New returns a Store over the two tables.
func New(db DB, stateTable, auditTable string) *Store {
	return &Store{db: db, stateTable: stateTable, auditTable: auditTable}
}

// ErrConditionFailed means a conditional write or a transaction's condition
// did not hold: someone else changed the item first.
var ErrConditionFailed = errors.New("store: condition failed")

// tsLayout is fixed-width so that timestamps sort lexicographically in keys.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

// SortTime formats t for use inside a sort key.
func SortTime(t time.Time) string { return t.UTC().Format(tsLayout) }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func marshal(v any) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) {
		o.TagKey = "json"
		o.OmitNullAttributeValues = true
		o.OmitEmptyTime = true
	})
	if err != nil {
		return nil, fmt.Errorf("store: marshal %T: %w", v, err)
	}
	return item, nil
}

func unmarshal(item map[string]types.AttributeValue, v any) error {
	if err := attributevalue.UnmarshalMapWithOptions(item, v, func(o *attributevalue.DecoderOptions) {
		o.TagKey = "json"
	}); err != nil {
		return fmt.Errorf("store: unmarshal %T: %w", v, err)
	}
	return nil
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// get reads one item with a strongly consistent read; a missing item is
// domain.ErrNotFound.
func (st *Store) get(ctx context.Context, pk, sk, what string) (map[string]types.AttributeValue, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(st.stateTable),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get %s: %w", what, err)
	}
	if len(out.Item) == 0 {
		return nil, domain.NotFoundf("%s", what)
	}
	return out.Item, nil
}

// transact runs a TransactWriteItems call and turns a cancelled transaction
// whose reasons are all conditional-check failures (or none) into
// ErrConditionFailed, wrapping the reasons for the log.
func (st *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) {
		for _, r := range cancelled.CancellationReasons {
			code := aws.ToString(r.Code)
			if code != "" && code != "None" && code != "ConditionalCheckFailed" {
				return fmt.Errorf("store: transaction cancelled (%s): %w", code, err)
			}
		}
		return fmt.Errorf("%w: %v", ErrConditionFailed, err)
	}
	return fmt.Errorf("store: transaction: %w", err)
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// commit runs items and the audit rows as one transaction: a state change
// and its audit trail succeed or fail together.
func (st *Store) commit(ctx context.Context, items []types.TransactWriteItem, audits ...*domain.AuditEvent) error {
	for _, ev := range audits {
		a, err := st.auditPut(ev)
		if err != nil {
			return err
		}
		items = append(items, a)
	}
	return st.transact(ctx, items)
}
