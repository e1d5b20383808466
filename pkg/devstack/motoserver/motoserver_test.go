package motoserver

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A cancelled transaction leaves every item it named as it was, and a
// committed one applies all of its writes: the launcher's per-item
// rollback (instead of moto's whole-table copy) keeps DynamoDB's
// all-or-nothing rule.
func TestCancelledTransactionChangesNothing(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	ctx := t.Context()
	srv, err := Start(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ddb := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	const table = "t"
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	}); err != nil {
		t.Fatal(err)
	}
	key := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "s"}}
	}
	for _, pk := range []string{"a", "b", "c"} {
		it := key(pk)
		it["n"] = &types.AttributeValueMemberN{Value: "1"}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	writes := func(last types.TransactWriteItem) []types.TransactWriteItem {
		put := key("new")
		return []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String(table), Key: key("a"), UpdateExpression: aws.String("SET n = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "9"}}}},
			{Put: &types.Put{TableName: aws.String(table), Item: put}},
			{Delete: &types.Delete{TableName: aws.String(table), Key: key("b")}},
			last,
		}
	}
	state := func() string {
		t.Helper()
		var out string
		for _, pk := range []string{"a", "b", "c", "new"} {
			got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(pk), ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			n := "absent"
			if got.Item != nil {
				n = "present"
				if v, ok := got.Item["n"].(*types.AttributeValueMemberN); ok {
					n = v.Value
				}
			}
			out += fmt.Sprintf("%s=%s ", pk, n)
		}
		return out
	}
	before := state()
	_, err = ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes(types.TransactWriteItem{
		ConditionCheck: &types.ConditionCheck{TableName: aws.String(table), Key: key("c"), ConditionExpression: aws.String("attribute_not_exists(pk)")},
	})})
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) {
		t.Fatalf("want TransactionCanceledException, got %v", err)
	}
	if after := state(); after != before {
		t.Fatalf("a cancelled transaction changed items: before %s, after %s", before, after)
	}
	if _, err := ddb.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: writes(types.TransactWriteItem{
		ConditionCheck: &types.ConditionCheck{TableName: aws.String(table), Key: key("c"), ConditionExpression: aws.String("attribute_exists(pk)")},
	})}); err != nil {
		t.Fatal(err)
	}
	if got, want := state(), "a=9 b=absent c=1 new=present "; got != want {
		t.Fatalf("after a committed transaction: %s, want %s", got, want)
	}
}
