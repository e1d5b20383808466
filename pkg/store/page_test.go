package store

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func TestPageTokenRoundTrip(t *testing.T) {
	lek := map[string]types.AttributeValue{"pk": s("CERT#a"), "sk": s("CERT"), "list_pk": s("CERT"), "list_sk": s("2026#a")}
	in := &dynamodb.QueryInput{IndexName: aws.String(IndexList), KeyConditionExpression: aws.String("#0 = :0"),
		ExpressionAttributeNames: map[string]string{"#0": attrListPK}, ExpressionAttributeValues: map[string]types.AttributeValue{":0": s("CERT")}}
	got, err := decodeToken(encodeToken(lek), in)
	if sk, _ := got["list_sk"].(*types.AttributeValueMemberS); err != nil || len(got) != 4 || sk == nil || sk.Value != "2026#a" {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if encodeToken(nil) != "" {
		t.Fatal("empty key must give no token")
	}
}

// FuzzDecodeToken: a forged or garbled page_token is a 400, never a panic.
func FuzzDecodeToken(f *testing.F) {
	f.Add(encodeToken(map[string]types.AttributeValue{"pk": s("x"), "sk": s("y")}))
	f.Add("")
	f.Add("not base64!")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := decodeToken(tok, &dynamodb.QueryInput{}); err != nil && !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("token %q: %v", tok, err)
		}
	})
}
