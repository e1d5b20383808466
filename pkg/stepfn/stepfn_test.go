package stepfn

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// fakeAPI is a pure unit-test double of the two Step Functions calls.
type fakeAPI struct {
	startErr, sendErr, describeErr error
	started                        *sfn.StartExecutionInput
	sent                           *sfn.SendTaskSuccessInput
}

func (f *fakeAPI) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.started = in
	return &sfn.StartExecutionOutput{}, f.startErr
}

func (f *fakeAPI) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: types.ExecutionStatusAborted}, nil
}

func (f *fakeAPI) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.sent = in
	return &sfn.SendTaskSuccessOutput{}, f.sendErr
}

const smARN = "arn:aws:states:us-east-1:123456789012:stateMachine:certctl-prod-renewal"

func TestExecutionARN(t *testing.T) {
	c := New(&fakeAPI{}, smARN)
	if got := c.ExecutionARN("job-1"); got != "arn:aws:states:us-east-1:123456789012:execution:certctl-prod-renewal:job-1" {
		t.Fatalf("execution ARN: %s", got)
	}
}

func TestStartIsIdempotentByJobID(t *testing.T) {
	api := &fakeAPI{}
	c := New(api, smARN)
	in := workflow.ExecutionInput{JobID: "job-1", ApprovalID: "ar-1", RequiresApproval: true, TimeoutSeconds: 60}
	if err := c.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	var got workflow.ExecutionInput
	if *api.started.Name != "job-1" || json.Unmarshal([]byte(*api.started.Input), &got) != nil || got != in {
		t.Fatalf("start: %+v", api.started)
	}
	api.startErr = &types.ExecutionAlreadyExists{}
	if err := c.Start(context.Background(), in); err != nil {
		t.Fatalf("a second start of the same job must be harmless: %v", err)
	}
	api.startErr = errors.New("throttled")
	if err := c.Start(context.Background(), in); err == nil {
		t.Fatal("a real failure must surface")
	}
}

func TestSendDecisionErrors(t *testing.T) {
	api := &fakeAPI{}
	c := New(api, smARN)
	if err := c.SendDecision(context.Background(), "tok", "approved"); err != nil || *api.sent.Output != `{"outcome":"approved"}` {
		t.Fatalf("send: %v %v", err, api.sent)
	}
	api.sendErr = &types.TaskTimedOut{}
	if err := c.SendDecision(context.Background(), "tok", "approved"); err != nil {
		t.Fatalf("TaskTimedOut means already closed, not an error: %v", err)
	}
	for _, e := range []error{&types.TaskDoesNotExist{}, &types.InvalidToken{}} {
		api.sendErr = e
		if err := c.SendDecision(context.Background(), "tok", "approved"); !errors.Is(err, workflow.ErrTokenUnknown) {
			t.Fatalf("%T: %v", e, err)
		}
	}
	api.sendErr = errors.New("connection reset")
	if err := c.SendDecision(context.Background(), "tok", "approved"); err == nil || errors.Is(err, workflow.ErrTokenUnknown) {
		t.Fatalf("transport failure: %v", err)
	}
}

func TestStatus(t *testing.T) {
	api := &fakeAPI{}
	c := New(api, smARN)
	if st, err := c.Status(context.Background(), "job-1"); err != nil || st != "ABORTED" {
		t.Fatalf("status: %q %v", st, err)
	}
	api.describeErr = &types.ExecutionDoesNotExist{}
	if st, err := c.Status(context.Background(), "job-1"); err != nil || st != workflow.ExecutionMissing {
		t.Fatalf("missing: %q %v", st, err)
	}
	api.describeErr = errors.New("throttled")
	if _, err := c.Status(context.Background(), "job-1"); err == nil {
		t.Fatal("a transport failure must surface")
	}
}
