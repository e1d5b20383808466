package iamrecord

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	fnARN  = "arn:aws:lambda:us-east-1:000000000000:function:certctl-0a0a-"
	tblARN = "arn:aws:dynamodb:us-east-1:123456789012:table/certctl-0a0a-"
	keyARN = "arn:aws:kms:us-east-1:123456789012:key/0f0f-1e1e"
	smARN  = "arn:aws:states:us-east-1:000000000000:stateMachine:certctl-0a0a-renewal"
)

var stack = Stack{
	Prefix:     "certctl-0a0a",
	StateTable: tblARN + "state", AuditTable: tblARN + "audit",
	CAKey: keyARN, StateMachine: smARN,
	Functions: map[string]string{
		"api": fnARN + "api", "approval-wait": fnARN + "approval-wait", "issue": fnARN + "issue", "sweep": fnARN + "sweep",
	},
}

// offline answers every request with an error: the recorder runs in the
// Initialize step, before anything is sent.
func offline(options ...func(*middleware.Stack) error) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("k", "s", ""),
		BaseEndpoint:     aws.String("http://127.0.0.1:1"),
		RetryMaxAttempts: 1,
		HTTPClient: smithyhttp.ClientDoFunc(func(*http.Request) (*http.Response, error) {
			return nil, errors.New("offline")
		}),
		APIOptions: options,
	}
}

func invokedAs(fn string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{InvokedFunctionArn: fnARN + fn})
}

func TestRecording(t *testing.T) {
	rec := New()
	rec.AddStack(stack)
	cfg := offline(rec.APIOption, ColdStart("issue"))
	ddb, sf, km := dynamodb.NewFromConfig(cfg), sfn.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	table := func(suffix string) *string { return aws.String("certctl-0a0a-" + suffix) }
	// Inputs must pass the SDK's validation, which runs before the recorder.
	item := map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "x"}}
	cond := aws.String("attribute_exists(pk)")

	// A transaction needs an action per item, on each item's table.
	_, _ = ddb.TransactWriteItems(invokedAs("api"), &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: table("state"), Item: item}},
		{Update: &ddbtypes.Update{TableName: table("state"), Key: item, UpdateExpression: aws.String("SET a = :a")}},
		{Delete: &ddbtypes.Delete{TableName: table("state"), Key: item}},
		{ConditionCheck: &ddbtypes.ConditionCheck{TableName: table("state"), Key: item, ConditionExpression: cond}},
		{Put: &ddbtypes.Put{TableName: table("audit"), Item: item}},
	}})
	_, _ = ddb.Query(invokedAs("api"), &dynamodb.QueryInput{TableName: table("state"), IndexName: aws.String("pending")})
	_, _ = ddb.Query(invokedAs("api"), &dynamodb.QueryInput{TableName: table("audit")})
	_, _ = ddb.GetItem(invokedAs("issue"), &dynamodb.GetItemInput{TableName: table("audit"), Key: item})
	// A task response is checked against the stack's state machine.
	_, _ = sf.SendTaskSuccess(invokedAs("approval-wait"), &sfn.SendTaskSuccessInput{TaskToken: aws.String("t"), Output: aws.String("{}")})
	_, _ = sf.StartExecution(invokedAs("sweep"), &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN)})
	// Cold start: no invocation context, so the config's label names the
	// function; a bare key id resolves to the stack's key ARN.
	_, _ = km.GetPublicKey(context.Background(), &kms.GetPublicKeyInput{KeyId: aws.String("0f0f-1e1e")})
	_, _ = km.Sign(invokedAs("issue"), &kms.SignInput{KeyId: aws.String(keyARN), Message: []byte("d"), SigningAlgorithm: "ECDSA_SHA_256"})
	rec.Invoked(PrincipalStateMachine, "certctl-0a0a-issue")
	rec.Invoked(PrincipalScheduler, fnARN+"sweep")

	// Not accounted for: a foreign table, a call with no caller, a foreign function.
	_, _ = ddb.GetItem(invokedAs("api"), &dynamodb.GetItemInput{TableName: aws.String("elsewhere"), Key: item})
	_, _ = dynamodb.NewFromConfig(offline(rec.APIOption)).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: table("state"), Key: item})
	rec.Invoked(PrincipalStateMachine, "certctl-ffff-issue")

	got := rec.Recording()
	if got.Format != Format || len(got.Stacks) != 1 {
		t.Fatalf("recording: %+v", got)
	}
	fn := func(f, action, resource string) Call {
		return Call{Principal: PrincipalFunction, Function: f, Action: action, Resource: resource}
	}
	want := []Call{
		fn("api", "dynamodb:ConditionCheckItem", tblARN+"state"),
		fn("api", "dynamodb:DeleteItem", tblARN+"state"),
		fn("api", "dynamodb:PutItem", tblARN+"audit"),
		fn("api", "dynamodb:PutItem", tblARN+"state"),
		fn("api", "dynamodb:Query", tblARN+"audit"),
		fn("api", "dynamodb:Query", tblARN+"state/index/pending"),
		fn("api", "dynamodb:UpdateItem", tblARN+"state"),
		fn("approval-wait", "states:SendTaskSuccess", smARN),
		fn("issue", "dynamodb:GetItem", tblARN+"audit"),
		fn("issue", "kms:GetPublicKey", keyARN),
		fn("issue", "kms:Sign", keyARN),
		fn("sweep", "states:StartExecution", smARN),
		{Principal: PrincipalScheduler, Function: "sweep", Action: "lambda:InvokeFunction", Resource: fnARN + "sweep"},
		{Principal: PrincipalStateMachine, Action: "lambda:InvokeFunction", Resource: fnARN + "issue"},
	}
	if !reflect.DeepEqual(got.Stacks[0].Calls, want) {
		b, _ := json.MarshalIndent(got.Stacks[0].Calls, "", " ")
		t.Errorf("calls:\n%s", b)
	}
	if len(got.Unattributed) != 3 {
		t.Errorf("want 3 unattributed calls, got %+v", got.Unattributed)
	}
}

func TestWriteFile(t *testing.T) {
	rec := New()
	rec.AddStack(stack)
	rec.Invoked(PrincipalStateMachine, fnARN+"issue")
	path := filepath.Join(t.TempDir(), "iam", "calls.json")
	if err := rec.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Recording
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Format != Format || back.Stacks[0].Prefix != stack.Prefix || len(back.Stacks[0].Calls) != 1 {
		t.Errorf("read back %+v", back)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
