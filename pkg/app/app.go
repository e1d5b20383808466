// Package app lists the functions and builds any of them by name, through
// the same typed constructors their Lambda mains use (pkg/function/...).
// The local harness and the tests build functions here; a Lambda binary
// never imports this package, so each links only its own clients.
package app

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/api"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/approvalwait"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/authorizer"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/digest"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/finalize"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/issue"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/reaper"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/sweep"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

// Function names: the folder names under functions/ and the suffix of each
// deployed Lambda's name.
const (
	FnAPI          = api.Name
	FnAuthorizer   = authorizer.Name
	FnApprovalWait = approvalwait.Name
	FnIssue        = issue.Name
	FnFinalize     = finalize.Name
	FnSweep        = sweep.Name
	FnReaper       = reaper.Name
	FnDigest       = digest.Name
)

// FunctionNames lists every function, in deployment order.
var FunctionNames = []string{FnAPI, FnAuthorizer, FnApprovalWait, FnIssue, FnFinalize, FnSweep, FnReaper, FnDigest}

// ExecutionStatusChange is the EventBridge detail-type of an execution's end.
const ExecutionStatusChange = finalize.ExecutionStatusChange

// constructors build each function as its Lambda main does; the typed
// handler comes back as a value lambda.NewHandler accepts.
var constructors = map[string]func(context.Context, lambdafn.Env) (any, error){
	FnAPI:          untyped(api.New),
	FnAuthorizer:   untyped(authorizer.New),
	FnApprovalWait: untyped(approvalwait.New),
	FnIssue:        untyped(issue.New),
	FnFinalize:     untyped(finalize.New),
	FnSweep:        untyped(sweep.New),
	FnReaper:       untyped(reaper.New),
	FnDigest:       untyped(digest.New),
}

func untyped[H any](build func(context.Context, lambdafn.Env) (H, error)) func(context.Context, lambdafn.Env) (any, error) {
	return func(ctx context.Context, env lambdafn.Env) (any, error) { return build(ctx, env) }
}

// Handler builds the named function with cfg and awsCfg, logging to stdout
// as in Lambda.
func Handler(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error) {
	build, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("app: unknown function %q", name)
	}
	env, err := lambdafn.NewEnv(name, cfg, awsCfg, os.Stdout)
	if err != nil {
		return nil, err
	}
	return build(ctx, env)
}
