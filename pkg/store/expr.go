package store

import (
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Every expression the store sends is made by the SDK's expression
// builder from the attr constants: it aliases every name (so reserved
// words never matter) and emits exactly the names and values the
// expression uses, which real DynamoDB requires.

// nameOf, keyOf and valueOf are the builder's operands. Values are
// always attribute values made by the caller, so nothing is marshalled
// behind its back.
func nameOf(attr string) expression.NameBuilder              { return expression.Name(attr) }
func keyOf(attr string) expression.KeyBuilder                { return expression.Key(attr) }
func valueOf(v types.AttributeValue) expression.ValueBuilder { return expression.Value(v) }

// and and or join one or more conditions.
func and(conds ...expression.ConditionBuilder) expression.ConditionBuilder {
	if len(conds) == 1 {
		return conds[0]
	}
	return expression.And(conds[0], conds[1], conds[2:]...)
}

func or(conds ...expression.ConditionBuilder) expression.ConditionBuilder {
	if len(conds) == 1 {
		return conds[0]
	}
	return expression.Or(conds[0], conds[1], conds[2:]...)
}

// isNew is the condition of every write that creates an item.
func isNew() expression.ConditionBuilder { return nameOf(attrPK).AttributeNotExists() }

// exists is the condition that the item is there.
func exists() expression.ConditionBuilder { return nameOf(attrPK).AttributeExists() }

// equals is "attr = v".
func equals(attr string, v types.AttributeValue) expression.ConditionBuilder {
	return nameOf(attr).Equal(valueOf(v))
}

// built is a built expression, ready for a request.
type built struct {
	update, condition, keyCondition, filter *string
	names                                   map[string]string
	values                                  map[string]types.AttributeValue
}

// build builds b. Its errors are programming errors (an empty builder),
// reported like a marshalling error.
func build(b expression.Builder) (built, error) {
	e, err := b.Build()
	if err != nil {
		return built{}, fmt.Errorf("store: build expression: %w", err)
	}
	return built{
		update: e.Update(), condition: e.Condition(), keyCondition: e.KeyCondition(), filter: e.Filter(),
		names: e.Names(), values: e.Values(),
	}, nil
}

// updateOf builds an update of one item, with its conditions (all must
// hold; none for an unconditional update).
func updateOf(upd expression.UpdateBuilder, conds ...expression.ConditionBuilder) (built, error) {
	b := expression.NewBuilder().WithUpdate(upd)
	if len(conds) > 0 {
		b = b.WithCondition(and(conds...))
	}
	return build(b)
}

func conditionOf(conds ...expression.ConditionBuilder) (built, error) {
	return build(expression.NewBuilder().WithCondition(and(conds...)))
}

// txn collects the items of one transaction and the first error met
// while building them.
type txn struct {
	items []types.TransactWriteItem
	err   error
}

func (t *txn) add(item types.TransactWriteItem, err error) {
	t.addAll([]types.TransactWriteItem{item}, err)
}

func (t *txn) addAll(items []types.TransactWriteItem, err error) {
	if err != nil {
		if t.err == nil {
			t.err = err
		}
		return
	}
	t.items = append(t.items, items...)
}

// txPut writes item into table if every condition holds.
func txPut(table string, item map[string]types.AttributeValue, conds ...expression.ConditionBuilder) (types.TransactWriteItem, error) {
	e, err := conditionOf(conds...)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(table), Item: item,
		ConditionExpression: e.condition, ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
	}}, nil
}

// putNew creates item in the state table; it must not exist yet.
func (st *Store) putNew(item map[string]types.AttributeValue) (types.TransactWriteItem, error) {
	return txPut(st.stateTable, item, isNew())
}

// txUpdate updates the state table's item k if every condition holds.
func (st *Store) txUpdate(k itemKey, upd expression.UpdateBuilder, conds ...expression.ConditionBuilder) (types.TransactWriteItem, error) {
	e, err := updateOf(upd, conds...)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(st.stateTable), Key: k.av(), UpdateExpression: e.update,
		ConditionExpression: e.condition, ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
	}}, nil
}

// txCheck asserts every condition on the state table's item k.
func (st *Store) txCheck(k itemKey, conds ...expression.ConditionBuilder) (types.TransactWriteItem, error) {
	e, err := conditionOf(conds...)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(st.stateTable), Key: k.av(),
		ConditionExpression: e.condition, ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
	}}, nil
}

// txDelete deletes the state table's item k if every condition holds.
func (st *Store) txDelete(k itemKey, conds ...expression.ConditionBuilder) (types.TransactWriteItem, error) {
	e, err := conditionOf(conds...)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(st.stateTable), Key: k.av(),
		ConditionExpression: e.condition, ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
	}}, nil
}

// updateInput is a single-item UpdateItem of the state table's item k.
func (st *Store) updateInput(k itemKey, upd expression.UpdateBuilder, conds ...expression.ConditionBuilder) (*dynamodb.UpdateItemInput, error) {
	t, err := st.txUpdate(k, upd, conds...)
	if err != nil {
		return nil, err
	}
	return updateItemInput(t.Update), nil
}

// updateItemInput turns a transaction's Update into an UpdateItem call.
func updateItemInput(u *types.Update) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
		ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
	}
}

// query is one Query: a key condition on a table or index, optional
// filters (all must match), and a direction.
type query struct {
	table   string
	index   string // "" for the table's own key
	key     expression.KeyConditionBuilder
	filter  []expression.ConditionBuilder
	forward bool
	// consistent asks for a strongly consistent read (the table's own
	// key only: indexes are eventually consistent).
	consistent bool
}

func (q query) input() (*dynamodb.QueryInput, error) {
	b := expression.NewBuilder().WithKeyCondition(q.key)
	if len(q.filter) > 0 {
		b = b.WithFilter(and(q.filter...))
	}
	e, err := build(b)
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(q.table), KeyConditionExpression: e.keyCondition, FilterExpression: e.filter,
		ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values, ScanIndexForward: aws.Bool(q.forward),
	}
	if q.index != "" {
		in.IndexName = aws.String(q.index)
	}
	if q.consistent {
		in.ConsistentRead = aws.Bool(true)
	}
	return in, nil
}

// eqFilters is one "attr = value" filter per non-empty value, in a fixed
// order.
func eqFilters(eq map[string]string) []expression.ConditionBuilder {
	var out []expression.ConditionBuilder
	for _, attr := range slices.Sorted(maps.Keys(eq)) {
		if v := eq[attr]; v != "" {
			out = append(out, equals(attr, s(v)))
		}
	}
	return out
}
