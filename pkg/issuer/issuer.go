// Package issuer provides the CA that signs leaf certificates: its key
// lives in KMS, its self-signed certificate in DynamoDB.
package issuer

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Store is what the provider needs from pkg/store.
type Store interface {
	GetIssuer(ctx context.Context, id string) (*domain.Issuer, error)
	PutIssuerIfAbsent(ctx context.Context, is *domain.Issuer, audit *domain.AuditEvent) (*domain.Issuer, bool, error)
}

// Provider returns the CA for an issuer id, creating its certificate on first
// use. Only the "default" issuer exists; it is backed by the stack's KMS key.
type Provider struct {
	store  Store
	signer crypto.Signer
	keyID  string

	mu        sync.Mutex
	authority *ca.Authority
}

// NewProvider returns a provider signing with signer (the KMS key keyID).
func NewProvider(st Store, signer crypto.Signer, keyID string) *Provider {
	return &Provider{store: st, signer: signer, keyID: keyID}
}

// Authority returns the CA of issuerID. The CA certificate is made with KMS
// Sign only when none is stored, and stored with a conditional write: when
// two cold starts race, both end up using the one that won.
func (p *Provider) Authority(ctx context.Context, issuerID string) (*ca.Authority, error) {
	if issuerID != domain.DefaultIssuerID {
		return nil, domain.Invalidf("issuer %q does not exist (only %q is configured)", issuerID, domain.DefaultIssuerID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.authority != nil {
		return p.bind(ctx, p.authority), nil
	}
	is, err := p.store.GetIssuer(ctx, issuerID)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	if is == nil {
		if is, err = p.create(ctx, issuerID); err != nil {
			return nil, err
		}
	}
	block, _ := pem.Decode([]byte(is.CAPEM))
	if block == nil {
		return nil, fmt.Errorf("issuer %s: stored CA certificate is not PEM", issuerID)
	}
	a, err := ca.NewAuthority(block.Bytes, p.signer)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", issuerID, err)
	}
	p.authority = a
	return p.bind(ctx, a), nil
}

// contextSigner is a signer whose remote calls can carry a request's
// context (kmssigner.Signer).
type contextSigner interface {
	WithContext(ctx context.Context) crypto.Signer
}

// bind returns a copy of a whose KMS calls carry ctx: the invocation's
// deadline, cancellation and trace, not the cold start's.
func (p *Provider) bind(ctx context.Context, a *ca.Authority) *ca.Authority {
	s, ok := a.Signer.(contextSigner)
	if !ok {
		return a
	}
	bound := *a
	bound.Signer = s.WithContext(ctx)
	return &bound
}

func (p *Provider) create(ctx context.Context, issuerID string) (*domain.Issuer, error) {
	now := time.Now().UTC()
	der, err := ca.NewCACertificate(p.signer, issuerID, now)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: create CA certificate: %w", issuerID, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: parse new CA certificate: %w", issuerID, err)
	}
	is := &domain.Issuer{
		ID:        issuerID,
		CAPEM:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyID:     p.keyID,
		CreatedAt: now,
	}
	audit := &domain.AuditEvent{
		Actor: domain.SystemWorkflow, ActorType: domain.ActorSystem, Action: domain.AuditIssuerInitialized,
		ResourceType: "issuer", ResourceID: issuerID, Timestamp: now,
		Details: map[string]any{"serial": cert.SerialNumber.Text(16), "not_after": cert.NotAfter, "kms_key_id": p.keyID},
	}
	stored, _, err := p.store.PutIssuerIfAbsent(ctx, is, audit)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: store CA certificate: %w", issuerID, err)
	}
	return stored, nil
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }
