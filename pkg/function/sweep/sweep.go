// Package sweep builds the sweep function: scheduled, it starts a renewal
// for every certificate whose renewal time has come, over DynamoDB and Step
// Functions.
package sweep

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/publish"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Name is the function's name.
const Name = "sweep"

// Handler runs one sweep; the scheduler's event is not read.
type Handler = func(context.Context, json.RawMessage) (workflow.SweepResult, error)

// New builds the sweep function.
func New(_ context.Context, env lambdafn.Env) (Handler, error) {
	if err := env.Config.Require(config.EnvStateMachineARN); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	st := wire.Store(env)
	svc := wire.Service(env)
	svc.Requests, svc.Closing = st, st
	if err := publish.Wire(env, svc, st); err != nil {
		return nil, err
	}
	svc.Exec = stepfn.New(sfn.NewFromConfig(env.AWS), env.Config.StateMachineARN)
	return func(ctx context.Context, _ json.RawMessage) (workflow.SweepResult, error) {
		return svc.Sweep(ctx)
	}, nil
}
