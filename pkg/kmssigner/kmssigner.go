// Package kmssigner is a crypto.Signer whose private key never leaves AWS
// KMS: the CA signs certificates (package ca) through it.
package kmssigner

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMS is the subset of the KMS API the CA uses (satisfied by *kms.Client).
type KMS interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// Signer is a crypto.Signer backed by an ECC_NIST_P256 SIGN_VERIFY KMS
// key. The private key never leaves KMS: Sign sends the SHA-256 digest
// (MessageType DIGEST) and gets back an ASN.1 ECDSA signature.
//
// crypto.Signer's Sign takes no context, so it uses the context the signer
// was built with; use WithContext to bind a per-request context, or call
// SignContext directly.
type Signer struct {
	api   KMS
	keyID string
	pub   *ecdsa.PublicKey
	ctx   context.Context
}

var _ crypto.Signer = (*Signer)(nil)

// NewSigner fetches the key's public key once and checks that the key is
// an ECC_NIST_P256 signing key. ctx is used for this call and kept for Sign.
func New(ctx context.Context, api KMS, keyID string) (*Signer, error) {
	pub, err := PublicKeyOf(ctx, api, keyID)
	if err != nil {
		return nil, err
	}
	return &Signer{api: api, keyID: keyID, pub: pub, ctx: ctx}, nil
}

// PublicKeyAPI is the part of KMS that reads a key's public half.
type PublicKeyAPI interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// PublicKeyOf reads a key's public half and checks that the key is an
// ECC_NIST_P256 signing key.
func PublicKeyOf(ctx context.Context, api PublicKeyAPI, keyID string) (*ecdsa.PublicKey, error) {
	if keyID == "" {
		return nil, errors.New("kmssigner: signer: no key id")
	}
	out, err := api.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("kmssigner: get public key %s: %w", keyID, err)
	}
	// The public key itself is checked below; the label, when given, too.
	if out.KeySpec != "" && out.KeySpec != types.KeySpecEccNistP256 {
		return nil, fmt.Errorf("kmssigner: key %s has key spec %q, want %q", keyID, out.KeySpec, types.KeySpecEccNistP256)
	}
	if out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("kmssigner: key %s has key usage %q, want %q", keyID, out.KeyUsage, types.KeyUsageTypeSignVerify)
	}
	// The key spec says P-256; the DER is what certificates will carry, so
	// check that too rather than trust the label.
	parsed, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("kmssigner: key %s: parse public key: %w", keyID, err)
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("kmssigner: key %s: public key is %T, want an ECDSA P-256 key", keyID, parsed)
	}
	return pub, nil
}

// WithContext returns a copy of s whose Sign uses ctx.
func (s *Signer) WithContext(ctx context.Context) crypto.Signer {
	c := *s
	c.ctx = ctx
	return &c
}

// Public returns the key's *ecdsa.PublicKey.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Sign implements crypto.Signer using the signer's stored context. rand is
// unused: KMS supplies the randomness.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(s.ctx, digest, opts)
}

// SignContext signs a SHA-256 digest with the KMS key. Any other hash is
// refused: the key only supports ECDSA_SHA_256.
func (s *Signer) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 {
		return nil, fmt.Errorf("kmssigner: key %s signs SHA-256 digests only, got %v", s.keyID, hashOf(opts))
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("kmssigner: key %s: digest is %d bytes, want %d", s.keyID, len(digest), sha256.Size)
	}
	out, err := s.api.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.keyID),
		Message:          digest,
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("kmssigner: sign with key %s: %w", s.keyID, err)
	}
	// Verify locally so a wrong key or a corrupt response fails here, not in
	// a relying party.
	if !ecdsa.VerifyASN1(s.pub, digest, out.Signature) {
		return nil, fmt.Errorf("kmssigner: sign with key %s: signature does not verify with the key's public key", s.keyID)
	}
	return out.Signature, nil
}

// KeyID is the key the signer signs with, as it was given.
func (s *Signer) KeyID() string { return s.keyID }

// SignDigest signs a SHA-256 digest (the audit digest key's use; see
// workflow.DigestSigner).
func (s *Signer) SignDigest(ctx context.Context, sha256Digest []byte) ([]byte, error) {
	return s.SignContext(ctx, sha256Digest, crypto.SHA256)
}

// PublicKeys reads a key's public half on first use and keeps it (a key's
// public half never changes): the api serves the audit digest key's this
// way, with kms:GetPublicKey and nothing else on that key.
type PublicKeys struct {
	api   PublicKeyAPI
	keyID string

	mu  sync.Mutex
	pem string
}

// NewPublicKeys reads keyID's public half through api.
func NewPublicKeys(api PublicKeyAPI, keyID string) *PublicKeys {
	return &PublicKeys{api: api, keyID: keyID}
}

// PublicKeyPEM is the key's id and its public half as a PEM "PUBLIC KEY"
// block (SubjectPublicKeyInfo), the form openssl reads.
func (p *PublicKeys) PublicKeyPEM(ctx context.Context) (keyID, pemText string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pem == "" {
		pub, err := PublicKeyOf(ctx, p.api, p.keyID)
		if err != nil {
			return "", "", err
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", "", fmt.Errorf("kmssigner: key %s: %w", p.keyID, err)
		}
		p.pem = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	return p.keyID, p.pem, nil
}

func hashOf(opts crypto.SignerOpts) any {
	if opts == nil {
		return "no hash"
	}
	return opts.HashFunc()
}
