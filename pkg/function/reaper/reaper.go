// Package reaper builds the reaper function: scheduled, it expires stale
// requests, delivers queued decisions, starts queued executions, retries
// the publication of issued versions and reports the queues, over
// DynamoDB, Step Functions, SSM and Secrets Manager.
package reaper

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/delivery"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/publish"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Name is the function's name.
const Name = "reaper"

// Handler runs one reaper pass; the scheduler's event is not read.
type Handler = func(context.Context, json.RawMessage) (workflow.ReapResult, error)

// New builds the reaper function. It starts executions, so it needs the
// state machine's ARN.
func New(_ context.Context, env lambdafn.Env) (Handler, error) {
	if err := env.Config.Require(config.EnvStateMachineARN); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	st := wire.Store(env)
	svc := wire.Service(env)
	svc.Decisions, svc.Queues, svc.Closing, svc.Deliveries = st, st, st, st
	svc.Publisher = &delivery.Publisher{SSM: ssm.NewFromConfig(env.AWS), Secrets: secretsmanager.NewFromConfig(env.AWS)}
	svc.Exec = stepfn.New(sfn.NewFromConfig(env.AWS), env.Config.StateMachineARN)
	if err := publish.Wire(env, svc, st); err != nil {
		return nil, err
	}
	return func(ctx context.Context, _ json.RawMessage) (workflow.ReapResult, error) {
		return svc.Reap(ctx)
	}, nil
}
