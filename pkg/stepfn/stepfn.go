// Package stepfn starts renewal executions, hands approval decisions back
// to them through Step Functions task tokens, and reads an execution's
// status (for job repair). It implements workflow.Executions.
package stepfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// API is the subset of the Step Functions API used here.
type API interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Status reports the status of the execution named name.
func (c *Client) Status(ctx context.Context, name string) (string, error) {
	out, err := c.api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(c.ExecutionARN(name))})
	var missing *types.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		return workflow.ExecutionMissing, nil
	case err != nil:
		return "", fmt.Errorf("stepfn: describe execution %s: %w", name, err)
	}
	return string(out.Status), nil
}

// Client starts executions of one state machine.
type Client struct {
	api             API
	stateMachineARN string
}

// New returns a Client for the state machine.
func New(api API, stateMachineARN string) *Client {
	return &Client{api: api, stateMachineARN: stateMachineARN}
}

// ExecutionARN derives the ARN of the execution named name, so it need not
// be stored: arn:…:stateMachine:<sm> becomes arn:…:execution:<sm>:<name>.
func (c *Client) ExecutionARN(name string) string {
	if c.stateMachineARN == "" {
		return ""
	}
	return strings.Replace(c.stateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// Start starts the execution for a job. The execution name is the job id, so
// a repeated start of the same job is harmless.
func (c *Client) Start(ctx context.Context, in workflow.ExecutionInput) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("stepfn: input: %w", err)
	}
	_, err = c.api.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(c.stateMachineARN),
		Name:            aws.String(in.JobID),
		Input:           aws.String(string(body)),
	})
	var exists *types.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stepfn: start execution %s: %w", in.JobID, err)
	}
	return nil
}

// Decision is the SendTaskSuccess output the Decision state routes on.
type Decision struct {
	Outcome string `json:"outcome"`
}

// SendDecision resumes the execution waiting on token with the outcome.
// TaskTimedOut means the task already closed — timed out, or the decision
// was already delivered — so it is not an error: the decision is recorded
// and the execution's own timeout path reads it back.
func (c *Client) SendDecision(ctx context.Context, token, outcome string) error {
	body, _ := json.Marshal(Decision{Outcome: outcome})
	_, err := c.api.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{
		TaskToken: aws.String(token),
		Output:    aws.String(string(body)),
	})
	var timedOut *types.TaskTimedOut
	if errors.As(err, &timedOut) {
		return nil
	}
	var missing *types.TaskDoesNotExist
	var invalid *types.InvalidToken
	if errors.As(err, &missing) || errors.As(err, &invalid) {
		return fmt.Errorf("%w: %v", workflow.ErrTokenUnknown, err)
	}
	if err != nil {
		return fmt.Errorf("stepfn: send task success: %w", err)
	}
	return nil
}
