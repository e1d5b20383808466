// Package issue builds the issue function: the Issue state signs the job's
// approved subject with the KMS-held CA key, over DynamoDB and KMS.
package issue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/issuer"
	"github.com/certctl-serverless/certctl-serverless/pkg/kmssigner"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Name is the function's name.
const Name = "issue"

// Event is the function's input: a job to issue, or the "ensure_ca" action
// that creates the CA certificate ahead of first use.
type Event struct {
	Action string `json:"action"`
	workflow.IssueInput
}

// Handler runs one Issue task (or ensure_ca).
type Handler = func(context.Context, json.RawMessage) (*workflow.IssueOutput, error)

// New builds the issue function. It reads the CA key's public key once,
// at cold start.
func New(ctx context.Context, env lambdafn.Env) (Handler, error) {
	if err := env.Config.Require(config.EnvCAKeyID); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	signer, err := kmssigner.New(ctx, kms.NewFromConfig(env.AWS), env.Config.CAKeyID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	st := wire.Store(env)
	authorities := issuer.NewProvider(st, signer, env.Config.CAKeyID)
	svc := wire.Service(env)
	svc.Issuance, svc.Closing = st, st
	return func(ctx context.Context, raw json.RawMessage) (*workflow.IssueOutput, error) {
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, domain.Invalidf("issue: the event is not an issue request: %v", err)
		}
		if ev.Action == "ensure_ca" {
			_, err := authorities.Authority(ctx, domain.DefaultIssuerID)
			return &workflow.IssueOutput{}, err
		}
		return svc.Issue(ctx, authorities, ev.IssueInput)
	}, nil
}
