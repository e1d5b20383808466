// Package finalize builds the finalize function: the state machine's
// ResolveTimeout and RecordFailure states, and the end of an execution that
// stopped early (its EventBridge status change), over DynamoDB only.
package finalize

import (
	"context"
	"encoding/json"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/publish"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/logging"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Name is the function's name.
const Name = "finalize"

// ExecutionStatusChange is the EventBridge detail-type Step Functions sends
// when an execution ends; the stack routes ABORTED, FAILED and TIMED_OUT
// ones of the renewal state machine here.
const ExecutionStatusChange = "Step Functions Execution Status Change"

// Event is the function's input: a FinalizeInput from the state machine,
// or an execution status change.
type Event struct {
	DetailType string `json:"detail-type"`
	Detail     struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"detail"`
	workflow.FinalizeInput
}

// Handler runs one finalize task or event.
type Handler = func(context.Context, json.RawMessage) (*workflow.FinalizeOutput, error)

// New builds the finalize function. It sends no task tokens: the task that
// ran it has already closed.
func New(_ context.Context, env lambdafn.Env) (Handler, error) {
	st := wire.Store(env)
	svc := wire.Service(env)
	svc.Decisions, svc.Closing = st, st
	if err := publish.Wire(env, svc, st); err != nil {
		return nil, err
	}
	return func(ctx context.Context, raw json.RawMessage) (*workflow.FinalizeOutput, error) {
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, domain.Invalidf("finalize: the event is not a finalize request: %v", err)
		}
		if ev.DetailType == ExecutionStatusChange {
			// Executions are named after their job.
			ctx = logging.With(ctx, "job_id", ev.Detail.Name)
			return &workflow.FinalizeOutput{Outcome: "closed"}, svc.ExecutionEnded(ctx, ev.Detail.Name, ev.Detail.Status)
		}
		return svc.Finalize(logging.With(ctx, "job_id", ev.JobID, "approval_id", ev.ApprovalID), ev.FinalizeInput)
	}, nil
}
