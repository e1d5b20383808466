// Package app wires configuration, AWS clients and handlers for every Lambda
// function. functions/<name>/main.go and the local harness both build their
// handlers here, so local mode runs exactly what Lambda runs.
package app

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
)

// Function names. They are the folder names under functions/ and the
// suffix of each deployed Lambda's name.
const (
	FnAPI          = "api"
	FnAuthorizer   = "authorizer"
	FnApprovalWait = "approval-wait"
	FnIssue        = "issue"
	FnFinalize     = "finalize"
	FnSweep        = "sweep"
	FnReaper       = "reaper"
)

// FunctionNames lists every function, in deployment order.
var FunctionNames = []string{FnAPI, FnAuthorizer, FnApprovalWait, FnIssue, FnFinalize, FnSweep, FnReaper}

// Handler builds the handler of the named function. The result is a value
// lambda.Start and lambda.NewHandler accept.
func Handler(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error) {
	_ = ctx
	_ = cfg
	_ = awsCfg
	return nil, errors.New("app: not wired yet: " + name)
}
