// Package approvalwait builds the approval-wait function: the AwaitApproval
// state stores its task token on the request (or hands over a decision
// already recorded), over DynamoDB and Step Functions.
package approvalwait

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/logging"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Name is the function's name.
const Name = "approval-wait"

// Handler runs one AwaitApproval task.
type Handler = func(context.Context, workflow.AwaitInput) (struct{}, error)

// New builds the approval-wait function. Its task tokens name their own
// state machine, so it needs no state machine ARN.
func New(_ context.Context, env lambdafn.Env) (Handler, error) {
	svc := wire.Service(env)
	svc.Decisions = wire.Store(env)
	svc.Exec = stepfn.New(sfn.NewFromConfig(env.AWS), env.Config.StateMachineARN)
	return func(ctx context.Context, in workflow.AwaitInput) (struct{}, error) {
		ctx = logging.With(ctx, "job_id", in.JobID, "approval_id", in.ApprovalID)
		// Returned as is: Lambda names the error after its Go type, and the
		// state machine retries a *workflow.RetryableError by that name.
		return struct{}{}, svc.AwaitApproval(ctx, in)
	}, nil
}
