package kmssigner

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
)

// fakeKMS signs with an in-memory key and records what it was asked.
type fakeKMS struct {
	key      *ecdsa.PrivateKey
	pubDER   []byte // overrides the DER of key when set
	spec     types.KeySpec
	usage    types.KeyUsageType
	getErr   error
	signErr  error
	signWith *ecdsa.PrivateKey // signs with another key when set

	lastSign *kms.SignInput
	lastCtx  context.Context
}

func newFakeKMS(t *testing.T) *fakeKMS {
	return &fakeKMS{key: newKey(t), spec: types.KeySpecEccNistP256, usage: types.KeyUsageTypeSignVerify}
}

func (f *fakeKMS) GetPublicKey(_ context.Context, in *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	der := f.pubDER
	if der == nil {
		var err error
		if der, err = x509.MarshalPKIXPublicKey(&f.key.PublicKey); err != nil {
			return nil, err
		}
	}
	return &kms.GetPublicKeyOutput{KeyId: in.KeyId, PublicKey: der, KeySpec: f.spec, KeyUsage: f.usage}, nil
}

func (f *fakeKMS) Sign(ctx context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	f.lastSign, f.lastCtx = in, ctx
	if f.signErr != nil {
		return nil, f.signErr
	}
	key := f.key
	if f.signWith != nil {
		key = f.signWith
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, in.Message)
	if err != nil {
		return nil, err
	}
	return &kms.SignOutput{KeyId: in.KeyId, Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

func TestNew(t *testing.T) {
	f := newFakeKMS(t)
	s, err := New(context.Background(), f, "alias/ca")
	if err != nil {
		t.Fatal(err)
	}
	if !f.key.PublicKey.Equal(s.Public()) {
		t.Error("Public() is not the KMS key")
	}
}

func TestNewSignerErrors(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)

	tests := []struct {
		name   string
		keyID  string
		modify func(*fakeKMS)
		want   string
	}{
		{"no key id", "", func(*fakeKMS) {}, "no key id"},
		{"API error", "k", func(f *fakeKMS) { f.getErr = errors.New("AccessDenied") }, "get public key k: AccessDenied"},
		{"RSA key spec", "k", func(f *fakeKMS) { f.spec = types.KeySpecRsa2048 }, `key spec "RSA_2048", want "ECC_NIST_P256"`},
		{"encryption key", "k", func(f *fakeKMS) { f.usage = types.KeyUsageTypeEncryptDecrypt }, `key usage "ENCRYPT_DECRYPT"`},
		{"garbage DER", "k", func(f *fakeKMS) { f.pubDER = []byte{1, 2, 3} }, "parse public key"},
		{"P-384 behind a P-256 label", "k", func(f *fakeKMS) { f.pubDER = p384DER }, "want an ECDSA P-256 key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKMS(t)
			tt.modify(f)
			_, err := New(context.Background(), f, tt.keyID)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewSigner: %v, want error containing %q", err, tt.want)
			}
		})
	}
}

type ctxKey struct{}

func TestSignerSign(t *testing.T) {
	f := newFakeKMS(t)
	built := context.WithValue(context.Background(), ctxKey{}, "built")
	s, err := New(built, f, "alias/ca")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("hello"))

	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ecdsa.VerifyASN1(&f.key.PublicKey, digest[:], sig) {
		t.Error("signature does not verify")
	}
	in := f.lastSign
	if aws.ToString(in.KeyId) != "alias/ca" || in.MessageType != types.MessageTypeDigest || in.SigningAlgorithm != types.SigningAlgorithmSpecEcdsaSha256 {
		t.Errorf("SignInput = key %q, type %q, alg %q", aws.ToString(in.KeyId), in.MessageType, in.SigningAlgorithm)
	}
	if f.lastCtx.Value(ctxKey{}) != "built" {
		t.Error("Sign did not use the construction context")
	}

	bound := s.WithContext(context.WithValue(context.Background(), ctxKey{}, "bound"))
	if _, err := bound.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if f.lastCtx.Value(ctxKey{}) != "bound" {
		t.Error("WithContext did not bind the context")
	}
	if _, err := s.Sign(nil, digest[:], crypto.SHA256); err != nil || f.lastCtx.Value(ctxKey{}) != "built" {
		t.Error("WithContext changed the original signer")
	}
}

func TestSignerSignErrors(t *testing.T) {
	d256 := sha256.Sum256([]byte("x"))
	d384 := make([]byte, 48)

	tests := []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
		modify func(*fakeKMS)
		want   string
	}{
		{"SHA-384", d384, crypto.SHA384, nil, "signs SHA-256 digests only, got SHA-384"},
		{"nil opts", d256[:], nil, nil, "signs SHA-256 digests only, got no hash"},
		{"no hash", d256[:], crypto.Hash(0), nil, "signs SHA-256 digests only"},
		{"short digest", d256[:31], crypto.SHA256, nil, "digest is 31 bytes, want 32"},
		{"API error", d256[:], crypto.SHA256, func(f *fakeKMS) { f.signErr = errors.New("KMSInvalidStateException") }, "sign with key k: KMSInvalidStateException"},
		{"wrong key", d256[:], crypto.SHA256, func(f *fakeKMS) { f.signWith = newKey(t) }, "signature does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKMS(t)
			s, err := New(context.Background(), f, "k")
			if err != nil {
				t.Fatal(err)
			}
			if tt.modify != nil {
				tt.modify(f)
			}
			_, err = s.Sign(rand.Reader, tt.digest, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Sign: %v, want error containing %q", err, tt.want)
			}
			if tt.modify == nil && f.lastSign != nil {
				t.Error("KMS was called for a request that should fail locally")
			}
		})
	}
}

// TestSignerAsCA runs the CA with the KMS signer over the fake.
func TestSignerAsCA(t *testing.T) {
	s, err := New(context.Background(), newFakeKMS(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.NewCACertificate(s, "default", testNow)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.NewAuthority(der, s)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := a.Issue(ca.LeafRequest{CSR: newCSR(t, newKey(t), &x509.CertificateRequest{}), CommonName: "a.example", DNSNames: []string{"a.example"}, Validity: 24 * time.Hour, KeyUsage: ecKU, ExtKeyUsage: serverAuth, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(leaf.DER)
	if err := cert.CheckSignatureFrom(a.Cert); err != nil {
		t.Fatalf("leaf signature: %v", err)
	}
	if cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm = %v", cert.SignatureAlgorithm)
	}
}
