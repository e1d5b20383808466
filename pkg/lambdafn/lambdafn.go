// Package lambdafn is what every function's main does: read and validate
// the configuration at cold start, build the AWS configuration and the
// logger once, build the function's typed handler, and serve invocations.
// The functions' constructors (pkg/function/...) take an Env, so local mode
// and the tests build them the same way.
package lambdafn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/logging"
)

// Env is what a function's constructor is given.
type Env struct {
	Name   string // the function's name (api, issue, ...)
	Config config.Config
	AWS    aws.Config
	Log    *slog.Logger
	// Metrics receives CloudWatch Embedded Metric Format lines (stdout in
	// Lambda).
	Metrics io.Writer
}

// NewEnv is the Env of function name with the given settings: its logger
// at the configured level, warning at cold start when bypass is on.
func NewEnv(name string, cfg config.Config, awsCfg aws.Config, out io.Writer) (Env, error) {
	level, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return Env{}, fmt.Errorf("%s: %w", config.EnvLogLevel, err)
	}
	log := logging.New(out, level, "function", name, "stage", cfg.Stage)
	if cfg.Bypass {
		log.Warn("CERTCTL_APPROVAL_BYPASS is on: approval-tier requests are approved at once as system-bypass; never run production like this")
	}
	if err := cfg.Require(config.EnvStateTable, config.EnvAuditTable); err != nil {
		return Env{}, fmt.Errorf("%s: %w", name, err)
	}
	return Env{Name: name, Config: cfg, AWS: awsCfg, Log: log, Metrics: out}, nil
}

// Main is the whole body of every functions/<name>/main.go: read the
// environment, build the handler once, and serve invocations. Any setting
// that is wrong stops the function at cold start with a message naming it.
func Main[In, Out any](name string, build func(context.Context, Env) (func(context.Context, In) (Out, error), error)) {
	ctx := context.Background()
	cfg, err := config.FromEnv()
	if err != nil {
		fatal(name, err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		fatal(name, fmt.Errorf("aws config: %w", err))
	}
	env, err := NewEnv(name, cfg, awsCfg, os.Stdout)
	if err != nil {
		fatal(name, err)
	}
	h, err := build(ctx, env)
	if err != nil {
		fatal(name, err)
	}
	lambda.StartHandlerFunc(h)
}

func fatal(name string, err error) {
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("cold start failed", "function", name, "error", err)
	os.Exit(1)
}
