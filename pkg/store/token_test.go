package store

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// txDB answers TransactWriteItems from a script and, like the SDK's
// idempotency middleware, fills in a ClientRequestToken the input lacks.
type txDB struct {
	DB
	answers   []error
	sentWith  []string // the token each call arrived with ("" for none)
	committed bool     // what GetItem of the audit row finds
	filled    int
}

func (f *txDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.sentWith = append(f.sentWith, aws.ToString(in.ClientRequestToken))
	if in.ClientRequestToken == nil {
		f.filled++
		in.ClientRequestToken = aws.String("token-" + string(rune('a'+f.filled)))
	}
	err := f.answers[0]
	f.answers = f.answers[1:]
	return &dynamodb.TransactWriteItemsOutput{}, err
}

func (f *txDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if pk, _ := in.Key[attrPK].(*types.AttributeValueMemberS); pk != nil && pk.Value == auditchain.HeadPK {
		return &dynamodb.GetItemOutput{}, nil // the chain's head: the shard has no row yet
	}
	if f.committed {
		return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{"pk": s("x")}}, nil
	}
	return &dynamodb.GetItemOutput{}, nil
}

func conflict() error {
	return &types.TransactionCanceledException{Message: aws.String("conflict"), CancellationReasons: []types.CancellationReason{
		{Code: aws.String("None")}, {Code: aws.String("TransactionConflict")},
	}}
}

// A transaction cancelled by a conflict is resent as a new request: the
// cancelled one's ClientRequestToken is not reused (DynamoDB would take
// the resend for the same request).
func TestConflictResendsCarryNoOldToken(t *testing.T) {
	f := &txDB{answers: []error{conflict(), conflict(), nil}}
	st := New(f, "state", "audit")
	if err := st.commit(t.Context(), nil, &domain.AuditEvent{ID: "01", Actor: "alice", Action: "x", ResourceID: "r"}); err != nil {
		t.Fatal(err)
	}
	if len(f.sentWith) != 3 {
		t.Fatalf("%d sends, want 3", len(f.sentWith))
	}
	for i, tok := range f.sentWith {
		if tok != "" {
			t.Errorf("send %d arrived with the token %q of an earlier, cancelled send", i+1, tok)
		}
	}
}

// TransactionInProgressException means an earlier send with the same
// token may still commit: the outcome is unknown, and the audit row
// decides it.
func TestTransactionInProgressIsAnUnknownOutcome(t *testing.T) {
	inProgress := &types.TransactionInProgressException{Message: aws.String("in progress")}
	// As the SDK returns it: an HTTP 400 answer.
	answer := &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "TransactWriteItems", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}}, Err: inProgress},
	}}
	ev := func() *domain.AuditEvent {
		return &domain.AuditEvent{ID: "01", Actor: "alice", Action: "x", ResourceID: "r"}
	}

	f := &txDB{answers: []error{answer}, committed: true}
	if err := New(f, "state", "audit").commit(t.Context(), nil, ev()); err != nil {
		t.Fatalf("committed meanwhile: %v, want success", err)
	}
	f = &txDB{answers: []error{answer}}
	err := New(f, "state", "audit").commit(t.Context(), nil, ev())
	if !errors.Is(err, domain.ErrUnavailable) || !errors.As(err, &inProgress) {
		t.Fatalf("not committed (yet): %v, want 503 carrying the cause", err)
	}
	if !outcomeUnknown(err) {
		t.Fatal("TransactionInProgressException must count as an unknown outcome")
	}
}
