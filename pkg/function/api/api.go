// Package api builds the api function: the HTTP API behind API Gateway
// (AWS_PROXY), over DynamoDB and Step Functions, and Lambda to have the
// issue function make a CRL again after a revocation; KMS for the audit
// digest key's public half; and the web console.
package api

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	httpapi "github.com/certctl-serverless/certctl-serverless/pkg/api"
	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/console"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/publish"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/identity"
	"github.com/certctl-serverless/certctl-serverless/pkg/kmssigner"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/logging"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/trigger"
)

// Name is the function's name.
const Name = "api"

// Handler serves one API Gateway REST proxy event.
type Handler = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// New builds the api function.
func New(_ context.Context, env lambdafn.Env) (Handler, error) {
	if err := env.Config.Require(config.EnvStateMachineARN, config.EnvDigestKeyID); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	rules, err := identity.ParseRules(env.Config.IAMPrincipals)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	st := wire.Store(env)
	exec := stepfn.New(sfn.NewFromConfig(env.AWS), env.Config.StateMachineARN)
	svc := wire.Service(env)
	svc.Profiles, svc.Requests, svc.Decisions, svc.Closing, svc.Revocations, svc.Retirement, svc.Moves, svc.Exec = st, st, st, st, st, st, st, exec
	if env.Config.CRLFunction != "" {
		svc.CRLTrigger = &trigger.CRL{Lambda: lambda.NewFromConfig(env.AWS), Function: env.Config.CRLFunction}
	}
	if err := publish.Wire(env, svc, st); err != nil {
		return nil, err
	}
	keys := &apikey.Manager{Store: st}
	ui, err := console.New()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	// The digest key's public half (kms:GetPublicKey only: the api never
	// signs, nor asks for a digest).
	digestKey := kmssigner.NewPublicKeys(kms.NewFromConfig(env.AWS), env.Config.DigestKeyID)
	// The console's static files are served by the same function, at
	// /console/, beside the API they call.
	resolver := identity.NewResolver(rules, st)
	svc.IAMApprovers = resolver // approver pools may name only IAM identities the mapping lets decide
	serve := apigw.Handler(ui.Mount(httpapi.New(svc, keys, st, exec, resolver, digestKey, env.Log)))
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return serve(logging.With(ctx, "api_request_id", ev.RequestContext.RequestID), ev)
	}, nil
}
