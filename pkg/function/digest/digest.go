// Package digest builds the digest function: on its schedule, or when
// someone allowed to invoke it asks (certctl audit digest, aws lambda
// invoke), it signs a digest of the audit chain's heads with the digest
// key in KMS and stores it. It is the only function whose role may sign
// with the digest key, and it takes no input that could change what it
// signs: whatever invokes it, it signs the heads as they are.
package digest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/kmssigner"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

// Name is the function's name.
const Name = "digest"

// Handler runs one digest invocation.
type Handler = func(context.Context, json.RawMessage) (*domain.DigestResponse, error)

// New builds the digest function. The key's public half is read on the
// first invocation, not at cold start, as the issue function does.
func New(_ context.Context, env lambdafn.Env) (Handler, error) {
	if err := env.Config.Require(config.EnvDigestKeyID); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	st := wire.Store(env)
	svc := wire.Service(env)
	svc.Digests = st
	client := kms.NewFromConfig(env.AWS)
	signer := &lazySigner{build: func(ctx context.Context) (*kmssigner.Signer, error) {
		return kmssigner.New(ctx, client, env.Config.DigestKeyID)
	}}
	return func(ctx context.Context, raw json.RawMessage) (*domain.DigestResponse, error) {
		// The schedule's event is not a DigestRequest; nothing of it is read.
		var req domain.DigestRequest
		_ = json.Unmarshal(raw, &req)
		s, err := signer.get(ctx)
		if err != nil {
			return nil, err
		}
		switch req.Action {
		case "", domain.DigestActionWrite:
			d, err := svc.WriteDigest(ctx, s)
			if err != nil {
				return nil, err
			}
			env.Log.InfoContext(ctx, "audit digest written", "digest_seq", d.Seq, "digest_hash", d.DigestHash)
			return &domain.DigestResponse{Digest: d, KeyID: s.KeyID()}, nil
		}
		return nil, domain.Invalidf("digest: unknown action %q", req.Action)
	}, nil
}

// lazySigner builds the KMS signer on first use and keeps it; a failed
// build is tried again on the next call.
type lazySigner struct {
	build func(context.Context) (*kmssigner.Signer, error)

	mu     sync.Mutex
	signer *kmssigner.Signer
}

func (l *lazySigner) get(ctx context.Context) (*kmssigner.Signer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.signer == nil {
		s, err := l.build(ctx)
		if err != nil {
			return nil, err
		}
		l.signer = s
	}
	return l.signer, nil
}
