package store

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/kumocompat"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// countingDB counts the Query calls a list makes.
type countingDB struct {
	*dynamodb.Client
	queries atomic.Int32
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries.Add(1)
	return c.Client.Query(ctx, in, opts...)
}

// A filtered list that matches little reads in batches and stops after a
// bounded amount of work, with an exact cursor: one call never turns into
// a query per item scanned.
func TestFilteredListsAreBoundedInWork(t *testing.T) {
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		endpoint = kumo.NewServer().URL
	}
	db := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("t", "t", ""), BaseEndpoint: aws.String(endpoint),
		APIOptions: []func(*middleware.Stack) error{kumocompat.DynamoDB}})
	table := fmt.Sprintf("bound-%d", os.Getpid())
	attr := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	ks := func(h, r string) []types.KeySchemaElement {
		return []types.KeySchemaElement{{AttributeName: aws.String(h), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(r), KeyType: types.KeyTypeRange}}
	}
	ctx := t.Context()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{attr("pk"), attr("sk"), attr("list_pk"), attr("list_sk")},
		KeySchema:            ks("pk", "sk"),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String(IndexList), KeySchema: ks("list_pk", "list_sk"),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// 1,500 items, of which every 700th matches the filter.
	for i := 0; i < 1500; i++ {
		owner := "other"
		if i%700 == 0 {
			owner = "wanted"
		}
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"pk": s(fmt.Sprintf("X#%04d", i)), "sk": s("X"), "list_pk": s("X"), "list_sk": s(fmt.Sprintf("%04d", i)), "owner": s(owner),
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cdb := &countingDB{Client: db}
	st := New(cdb, table, "unused")
	in := func() *dynamodb.QueryInput {
		q := st.listQuery("X")
		q.filter = eqFilters(map[string]string{"owner": "wanted"})
		in, err := q.input()
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	var found []string
	token, calls := "", 0
	for {
		items, next, err := st.queryPage(ctx, in(), domain.PageRequest{Limit: 1, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		calls++
		for _, it := range items {
			found = append(found, it[attrListSK].(*types.AttributeValueMemberS).Value)
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(found) != 3 || found[0] != "1400" || found[1] != "0700" || found[2] != "0000" {
		t.Fatalf("found %v, want 1400, 0700, 0000 (newest first, each once)", found)
	}
	// 1,500 items read in batches of 100 is 15 queries, plus at most one per
	// page where a batch matched more than the page needed.
	if q := cdb.queries.Load(); q > 15+int32(calls) {
		t.Fatalf("%d queries over %d pages for 1,500 items", q, calls)
	}
}
