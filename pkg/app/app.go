// Package app wires configuration, AWS clients and handlers for every Lambda
// function. functions/<name>/main.go and the local harness both build their
// handlers here, so local mode runs exactly what Lambda runs.
package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/certctl-serverless/certctl-serverless/pkg/api"
	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/authorizer"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/emf"
	"github.com/certctl-serverless/certctl-serverless/pkg/identity"
	"github.com/certctl-serverless/certctl-serverless/pkg/issuer"
	"github.com/certctl-serverless/certctl-serverless/pkg/kmssigner"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
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
// lambda.Start and lambda.NewHandler accept. Clients are built once here, at
// cold start, never per request.
func Handler(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error) {
	log := Logger(cfg, name)
	if cfg.Bypass {
		log.Warn("CERTCTL_APPROVAL_BYPASS is on: approval-tier requests are approved at once as system-bypass; never run production like this")
	}
	if err := cfg.Require(config.EnvStateTable, config.EnvAuditTable); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	st := store.New(dynamodb.NewFromConfig(awsCfg), cfg.StateTable, cfg.AuditTable)
	svc := &workflow.Service{
		Store:           st,
		Exec:            stepfn.New(sfn.NewFromConfig(awsCfg), cfg.StateMachineARN),
		Observer:        emf.New(os.Stdout, cfg.Stage),
		Bypass:          cfg.Bypass,
		ApprovalTimeout: cfg.ApprovalTimeout,
		HandoffGrace:    cfg.HandoffGrace,
		Log:             log,
	}
	switch name {
	case FnAPI:
		if err := cfg.Require(config.EnvStateMachineARN); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rules, err := identity.ParseRules(cfg.IAMPrincipals)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		keys := &apikey.Manager{Store: st}
		return apigw.Handler(api.New(svc, keys, st, identity.NewResolver(rules, st), log)), nil
	case FnAuthorizer:
		return authorizer.Handler(st, log), nil
	case FnApprovalWait:
		return func(ctx context.Context, in workflow.AwaitInput) (struct{}, error) {
			return struct{}{}, svc.AwaitApproval(ctx, in)
		}, nil
	case FnFinalize:
		return finalizeHandler(svc), nil
	case FnIssue:
		return issueHandler(ctx, cfg, awsCfg, svc, st)
	case FnReaper:
		return func(ctx context.Context, _ json.RawMessage) (workflow.ReapResult, error) {
			return svc.Reap(ctx)
		}, nil
	case FnSweep:
		if err := cfg.Require(config.EnvStateMachineARN); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return func(ctx context.Context, _ json.RawMessage) (workflow.SweepResult, error) {
			return svc.Sweep(ctx)
		}, nil
	}
	return nil, fmt.Errorf("app: unknown function %q", name)
}

// ExecutionStatusChange is the EventBridge event Step Functions sends when
// an execution ends; the stack routes ABORTED, FAILED and TIMED_OUT ones of
// the renewal state machine to the finalize function.
const ExecutionStatusChange = "Step Functions Execution Status Change"

// finalizeEvent is the finalize function's input: the state machine's
// error paths (FinalizeInput), or an execution status change.
type finalizeEvent struct {
	DetailType string `json:"detail-type"`
	Detail     struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"detail"`
	workflow.FinalizeInput
}

func finalizeHandler(svc *workflow.Service) func(context.Context, json.RawMessage) (*workflow.FinalizeOutput, error) {
	return func(ctx context.Context, raw json.RawMessage) (*workflow.FinalizeOutput, error) {
		var ev finalizeEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("finalize: event: %w", err)
		}
		if ev.DetailType == ExecutionStatusChange {
			return &workflow.FinalizeOutput{Outcome: "closed"}, svc.ExecutionEnded(ctx, ev.Detail.Name, ev.Detail.Status)
		}
		return svc.Finalize(ctx, ev.FinalizeInput)
	}
}

// issueEvent is the issue function's input: a job to issue, or the
// "ensure_ca" action that creates the CA certificate ahead of first use.
type issueEvent struct {
	Action string `json:"action"`
	workflow.IssueInput
}

func issueHandler(ctx context.Context, cfg config.Config, awsCfg aws.Config, svc *workflow.Service, st *store.Store) (any, error) {
	if err := cfg.Require(config.EnvCAKeyID); err != nil {
		return nil, fmt.Errorf("%s: %w", FnIssue, err)
	}
	signer, err := kmssigner.New(ctx, kms.NewFromConfig(awsCfg), cfg.CAKeyID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", FnIssue, err)
	}
	authorities := issuer.NewProvider(st, signer, cfg.CAKeyID)
	return func(ctx context.Context, raw json.RawMessage) (*workflow.IssueOutput, error) {
		var ev issueEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("issue: event: %w", err)
		}
		if ev.Action == "ensure_ca" {
			_, err := authorities.Authority(ctx, domain.DefaultIssuerID)
			return &workflow.IssueOutput{}, err
		}
		return svc.Issue(ctx, authorities, ev.IssueInput)
	}, nil
}

// Logger returns the JSON logger every function uses.
func Logger(cfg config.Config, function string) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("function", function, "stage", cfg.Stage)
}

// Main is the whole body of every functions/<name>/main.go: read the
// environment, build the handler once, and serve invocations.
func Main(name string) {
	ctx := context.Background()
	cfg, err := config.FromEnv()
	if err != nil {
		fatal(name, err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		fatal(name, fmt.Errorf("aws config: %w", err))
	}
	h, err := Handler(ctx, name, cfg, awsCfg)
	if err != nil {
		fatal(name, err)
	}
	lambda.Start(h)
}

func fatal(name string, err error) {
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("cold start failed", "function", name, "error", err)
	os.Exit(1)
}
