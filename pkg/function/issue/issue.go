// Package issue builds the issue function: the Issue state signs the job's
// approved subject with the KMS-held CA key, over DynamoDB and KMS; it also
// signs each issuer's CRL, the only other use of that key; right after an
// issuance it publishes the new version to its profile's delivery targets
// (SSM, Secrets Manager).
package issue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/delivery"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/publish"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/issuer"
	"github.com/certctl-serverless/certctl-serverless/pkg/kmssigner"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/logging"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Name is the function's name.
const Name = "issue"

// Event is the function's input: a job to issue (the Issue state), or an
// action: "ensure_ca" creates the CA certificate (and its first CRL) ahead
// of first use; "refresh_crl" makes the issuer's CRL again if it is stale,
// old or missing (after a revocation, and on a schedule).
type Event struct {
	Action   string `json:"action"`
	IssuerID string `json:"issuer_id,omitempty"`
	Force    bool   `json:"force,omitempty"`
	workflow.IssueInput
}

// Actions.
const (
	ActionEnsureCA   = "ensure_ca"
	ActionRefreshCRL = "refresh_crl"
)

// Handler runs one Issue task or one action; it answers a
// *workflow.IssueOutput or a *workflow.CRLResult.
type Handler = func(context.Context, json.RawMessage) (any, error)

// New builds the issue function. The CA key's public key is read on the
// first invocation, not at cold start: a KMS error then fails one task,
// which the state machine retries, instead of the function's init.
func New(_ context.Context, env lambdafn.Env) (Handler, error) {
	if err := env.Config.Require(config.EnvCAKeyID); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	st := wire.Store(env)
	authorities := &lazyAuthorities{build: func(ctx context.Context) (*issuer.Provider, error) {
		signer, err := kmssigner.New(ctx, kms.NewFromConfig(env.AWS), env.Config.CAKeyID)
		if err != nil {
			return nil, err
		}
		return issuer.NewProvider(st, signer, env.Config.CAKeyID), nil
	}}
	svc := wire.Service(env)
	svc.Issuance, svc.Closing, svc.CRLs, svc.Deliveries = st, st, st, st
	svc.Publisher = &delivery.Publisher{SSM: ssm.NewFromConfig(env.AWS), Secrets: secretsmanager.NewFromConfig(env.AWS)}
	svc.PublicURL = env.Config.PublicURL
	if err := publish.Wire(env, svc, st); err != nil {
		return nil, err
	}
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, domain.Invalidf("issue: the event is not an issue request: %v", err)
		}
		switch ev.Action {
		case ActionEnsureCA:
			if _, err := authorities.Authority(ctx, domain.DefaultIssuerID); err != nil {
				return nil, err
			}
			return svc.RefreshCRL(ctx, authorities, workflow.CRLRequest{IssuerID: domain.DefaultIssuerID})
		case ActionRefreshCRL:
			return svc.RefreshCRL(logging.With(ctx, "issuer_id", ev.IssuerID), authorities, workflow.CRLRequest{IssuerID: ev.IssuerID, Force: ev.Force})
		case "":
			out, err := svc.Issue(logging.With(ctx, "job_id", ev.JobID), authorities, ev.IssueInput)
			if refused := (*workflow.IssuanceRefused)(nil); errors.As(err, &refused) {
				// The job is failed with the reason: end the execution normally.
				return &workflow.IssueOutput{}, nil
			}
			return out, err
		}
		return nil, domain.Invalidf("issue: unknown action %q (ensure_ca, refresh_crl, or none to issue a job)", ev.Action)
	}, nil
}

// lazyAuthorities builds the CA provider on first use and keeps it once
// built; a failed build is tried again on the next call.
type lazyAuthorities struct {
	build func(context.Context) (*issuer.Provider, error)

	mu       sync.Mutex
	provider *issuer.Provider
}

func (l *lazyAuthorities) Authority(ctx context.Context, issuerID string) (*ca.Authority, error) {
	l.mu.Lock()
	if l.provider == nil {
		p, err := l.build(ctx)
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		l.provider = p
	}
	p := l.provider
	l.mu.Unlock()
	return p.Authority(ctx, issuerID)
}
